"""Published test vectors: RFCs, NIST, FIPS 203 and libsignal's own tests."""

from __future__ import annotations

import re
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem

from e2ee.protocol import fingerprint, xeddsa
from e2ee.protocol.kdf import hkdf_expand, hkdf_extract, hkdf_sha256
from e2ee.protocol.keys import KeyPair, PrivateKey, PublicKey
from e2ee.protocol.ratchet import ChainKey, aes_cbc_decrypt, aes_cbc_encrypt
from e2ee.protocol.x3dh import (
    AliceParameters,
    BobParameters,
    initialize_alice_session,
    initialize_bob_session,
)

VECTORS = Path(cryptography_vectors.__file__).parent
h = bytes.fromhex


def _records(path: Path) -> list[dict[str, str]]:
    """Parse NIST/RFC style ``KEY = value`` lines; each ``COUNT`` starts a record."""
    records: list[dict[str, str]] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if key.strip().lower() == "count":
            records.append({})
        if records:
            records[-1][key.strip()] = value.strip()
    return records


# --- X25519: RFC 7748 -------------------------------------------------------------------


@pytest.mark.parametrize("case", _records(VECTORS / "asymmetric/X25519/rfc7748.txt"))
def test_x25519_rfc7748_section_5_2(case: dict[str, str]) -> None:
    scalar = PrivateKey(h(case["INPUT_SCALAR"]))
    assert scalar.agree(PublicKey(h(case["INPUT_U"]))) == h(case["OUTPUT_U"])


def test_x25519_rfc7748_section_6_1() -> None:
    alice = KeyPair.from_private(
        h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    bob = KeyPair.from_private(
        h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    )
    assert alice.public_key.raw == h(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert bob.public_key.raw == h(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    )
    shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert alice.private_key.agree(bob.public_key) == shared
    assert bob.private_key.agree(alice.public_key) == shared


def test_curve25519_agreement_libsignal_vector() -> None:
    # libsignal Curve25519Test.testAgreement (private keys given unclamped, as libsignal does)
    alice_public = h("051bb75966f2e93a3691dfff942bb2a466a1c08b8d78ca3f4d6df8b8bfa2e4ee28")
    alice_private = h("c806439dc9d2c476ffed8f2580c0888d58ab406bf7ae3698879021b96bb4bf59")
    bob_public = h("05653614993d2b15ee9e5fd3d86ce719ef4ec1daae1886a87b3f5fa9565a27a22f")
    bob_private = h("b03b34c33a1c44f225b662d2bf4859b8135411fa7b0386d45fb75dc5b91b4466")
    shared = h("325f239328941ced6e673b86ba41017448e99b649a9c3806c1dd7ca4c477e629")
    assert PrivateKey(alice_private).public_key() == PublicKey.deserialize(alice_public)
    assert PrivateKey(bob_private).agree(PublicKey.deserialize(alice_public)) == shared
    assert PrivateKey(alice_private).agree(PublicKey.deserialize(bob_public)) == shared


# --- HKDF: RFC 5869 ---------------------------------------------------------------------


@pytest.mark.parametrize("case", _records(VECTORS / "KDF/rfc-5869-HKDF-SHA256.txt"))
def test_hkdf_rfc5869(case: dict[str, str]) -> None:
    ikm, salt, info = h(case["IKM"]), h(case.get("salt", "")), h(case.get("info", ""))
    length = int(case["L"])
    assert hkdf_extract(salt or None, ikm) == h(case["PRK"])
    assert hkdf_expand(h(case["PRK"]), info, length) == h(case["OKM"])
    assert hkdf_sha256(ikm, info, length, salt=salt or None) == h(case["OKM"])


# --- AES-256-CBC: NIST SP 800-38A F.2.5 / F.2.6 -------------------------------------------

SP800_38A_KEY = h("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
SP800_38A_IV = h("000102030405060708090a0b0c0d0e0f")
SP800_38A_PLAIN = h(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
SP800_38A_CIPHER = h(
    "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
    "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"
)


def test_aes256_cbc_sp800_38a() -> None:
    # Our CBC adds one PKCS#7 block; the first four blocks are the NIST vectors (F.2.5).
    ciphertext = aes_cbc_encrypt(SP800_38A_KEY, SP800_38A_IV, SP800_38A_PLAIN)
    assert ciphertext[:64] == SP800_38A_CIPHER
    assert len(ciphertext) == 80
    # F.2.6: decryption recovers the plaintext.
    assert aes_cbc_decrypt(SP800_38A_KEY, SP800_38A_IV, ciphertext) == SP800_38A_PLAIN


# --- ML-KEM-1024: FIPS 203 known answers -------------------------------------------------

MLKEM_CASES = _records(VECTORS / "asymmetric/MLKEM/kat_MLKEM_1024.rsp")[:25]


@pytest.mark.parametrize("case", MLKEM_CASES, ids=lambda c: c["count"])
def test_mlkem1024_kat(case: dict[str, str]) -> None:
    from e2ee.protocol.keys import KEM_TYPE_KYBER1024, KemKeyPair

    pair = KemKeyPair.from_seed(h(case["d"]) + h(case["z"]))
    assert pair.public_key.raw == h(case["pk"])
    assert len(pair.public_key.serialize()) == 1 + 1568
    ciphertext = bytes([KEM_TYPE_KYBER1024]) + h(case["ct"])
    assert pair.decapsulate(ciphertext) == h(case["ss"])
    # Implicit rejection of a malformed ciphertext (FIPS 203 ``ct_n`` / ``ss_n``).
    assert pair.decapsulate(bytes([KEM_TYPE_KYBER1024]) + h(case["ct_n"])) == h(case["ss_n"])
    expanded = mlkem.MLKEM1024PrivateKey.from_seed_bytes(h(case["d"]) + h(case["z"]))
    assert expanded.public_key().public_bytes_raw() == h(case["pk"])


# --- libsignal's own vectors ------------------------------------------------------------


def test_libsignal_chain_key_derivation() -> None:
    # rust/protocol/src/ratchet/keys.rs test_chain_key_derivation
    chain = ChainKey(h("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f"), 0)
    keys = chain.message_keys()
    assert keys.cipher_key == h("bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217")
    assert keys.mac_key == h("c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b")
    assert chain.next().key == h("28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d")
    assert keys.counter == 0
    assert chain.next().index == 1
    assert chain.next().message_keys().counter == 1


BOB_EPHEMERAL_PUBLIC = h("052cb49776b8770205745a3a6e24f579cdb4ba7a89041005928ebbadc9c05ad458")
BOB_EPHEMERAL_PRIVATE = h("a1cab48f7c893fafa9880a28c3b4999d28d6329562d27a4ea4e22e9ff1bdd65a")
BOB_IDENTITY_PUBLIC = h("05f1f43874f6966956c2dd473f8fa15adeb71d1cb991b2341692324cefb1c5e626")
BOB_IDENTITY_PRIVATE = h("4875cc69ddf8ea0719ec947d61081135868d5fd801f02c0225e516df2156605e")
ALICE_BASE_PUBLIC = h("05472d1fb1a9862c3af6beaca8920277e2b26f4a79213ec7c906aeb35e03cf8950")
ALICE_BASE_PRIVATE = h("11ae7c64d1e61cd596b76a0db5012673391cae66edbfcf073b4da80516a47449")
ALICE_IDENTITY_PUBLIC = h("05b4a8455660ada65b401007f615e654041746432e3339c6875149bceefcb42b4a")
ALICE_IDENTITY_PRIVATE = h("9040f0d4e09cf38f6dc7c13779c908c015a1da4fa78737a080eb0a6f4f5f8f58")
BOB_SIGNED_PRE_KEY_PUBLIC = h("05ac248a8f263be6863576eb0362e28c828f0107a3379d34bab1586bf8c770cd67")
BOB_SIGNED_PRE_KEY_PRIVATE = h("583900131fb727998b7803fe6ac22cc591f342e4e42a8c8d5d78194209b8d253")


def _pair(public: bytes, private: bytes) -> KeyPair:
    return KeyPair(PublicKey.deserialize(public), PrivateKey(private))


def test_libsignal_ratcheting_session_as_bob() -> None:
    # rust/protocol/tests/ratchet.rs test_ratcheting_session_as_bob
    state = initialize_bob_session(
        BobParameters(
            our_identity=_pair(BOB_IDENTITY_PUBLIC, BOB_IDENTITY_PRIVATE),
            our_signed_pre_key=_pair(BOB_SIGNED_PRE_KEY_PUBLIC, BOB_SIGNED_PRE_KEY_PRIVATE),
            our_ratchet_key=_pair(BOB_EPHEMERAL_PUBLIC, BOB_EPHEMERAL_PRIVATE),
            their_identity=PublicKey.deserialize(ALICE_IDENTITY_PUBLIC),
            their_base_key=PublicKey.deserialize(ALICE_BASE_PUBLIC),
        )
    )
    assert state.local_identity.serialize() == BOB_IDENTITY_PUBLIC
    assert state.remote_identity.serialize() == ALICE_IDENTITY_PUBLIC
    assert state.sender_chain.key == h(
        "9797caca53c989bbe229a40ca7727010eb2604fc14945d77958a0aeda088b44d"
    )
    assert state.version == 3


def test_libsignal_ratcheting_session_as_alice() -> None:
    # rust/protocol/tests/ratchet.rs test_ratcheting_session_as_alice
    state, kyber_ciphertext = initialize_alice_session(
        AliceParameters(
            our_identity=_pair(ALICE_IDENTITY_PUBLIC, ALICE_IDENTITY_PRIVATE),
            our_base_key=_pair(ALICE_BASE_PUBLIC, ALICE_BASE_PRIVATE),
            their_identity=PublicKey.deserialize(BOB_IDENTITY_PUBLIC),
            their_signed_pre_key=PublicKey.deserialize(BOB_SIGNED_PRE_KEY_PUBLIC),
            their_ratchet_key=PublicKey.deserialize(BOB_EPHEMERAL_PUBLIC),
        )
    )
    assert kyber_ciphertext is None
    chain = state.receiver_chain(PublicKey.deserialize(BOB_EPHEMERAL_PUBLIC))
    assert chain is not None
    assert chain.chain_key.key == h(
        "ab9be50e5cb22a925446ab90ee5670545f4fd32902459ec274b6ad0ae5d6031a"
    )
    assert state.version == 3


LIBSIGNAL_SIGNATURE = {
    # libsignal Curve25519Test.testSignature: a libsignal-produced signature whose last
    # byte (0x88) carries the Edwards sign bit.
    "public": h("05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"),
    "private": h("c097248412e58bf05df487968205132794178e367637f5818f81e0e6ce73e865"),
    "message": h("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a"),
    "signature": h(
        "5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfb"
        "ede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88"
    ),
}


def test_libsignal_signature_verifies_and_every_bit_flip_fails() -> None:
    public = PublicKey.deserialize(LIBSIGNAL_SIGNATURE["public"])
    assert PrivateKey(LIBSIGNAL_SIGNATURE["private"]).public_key() == public
    message, signature = LIBSIGNAL_SIGNATURE["message"], LIBSIGNAL_SIGNATURE["signature"]
    assert signature[63] & 0x80, "the vector exercises libsignal's sign bit"
    assert public.verify_signature(message, signature)
    for index in range(len(signature)):
        tampered = bytearray(signature)
        tampered[index] ^= 0x01
        assert not xeddsa.verify(public.raw, message, bytes(tampered))


ALICE_FP_IDENTITY = h("0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868")
BOB_FP_IDENTITY = h("05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b")
DISPLAYABLE_FINGERPRINT = "300354477692869396892869876765458257569162576843440918079131"
ALICE_SCANNABLE = {
    1: "080112220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df"
    "1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d",
    2: "080212220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df"
    "1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d",
}
BOB_SCANNABLE = {
    1: "080112220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d"
    "1a220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df",
    2: "080212220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d"
    "1a220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df",
}


@pytest.mark.parametrize("version", [1, 2])
def test_libsignal_fingerprint_vectors(version: int) -> None:
    # rust/protocol/src/fingerprint.rs fingerprint_test_v1 / _v2 (Java testVectorsVersion1/2)
    alice_key = PublicKey.deserialize(ALICE_FP_IDENTITY)
    bob_key = PublicKey.deserialize(BOB_FP_IDENTITY)
    alice = fingerprint.safety_number(
        "+14152222222", alice_key, "+14153333333", bob_key, version=version
    )
    bob = fingerprint.safety_number(
        "+14153333333", bob_key, "+14152222222", alice_key, version=version
    )
    assert alice.display == DISPLAYABLE_FINGERPRINT
    assert bob.display == DISPLAYABLE_FINGERPRINT
    assert alice.scannable.hex() == ALICE_SCANNABLE[version]
    assert bob.scannable.hex() == BOB_SCANNABLE[version]
    assert alice.matches_scanned(bob.scannable)
    assert bob.matches_scanned(alice.scannable)


def test_libsignal_fingerprint_encoding() -> None:
    # rust/protocol/src/fingerprint.rs fingerprint_encodings
    encoded = fingerprint.encode_scannable(2, b"\x12" * 32, b"\xba" * 32)
    assert encoded.hex() == "080212220a20" + "12" * 32 + "1a220a20" + "ba" * 32


def test_vectors_file_parser_sanity() -> None:
    assert len(MLKEM_CASES) == 25
    assert re.fullmatch(r"[0-9a-f]+", MLKEM_CASES[0]["pk"])
