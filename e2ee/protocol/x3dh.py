"""X3DH and PQXDH session initialisation, as libsignal computes it.

Secret input = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4] [|| ML-KEM shared secret], where
DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B).
HKDF-SHA256 with no salt and info "WhisperText" (X3DH) or
"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024" (PQXDH) yields root key || chain key.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidKeyError
from .kdf import hkdf_sha256
from .keys import IdentityKey, IdentityKeyPair, KemKeyPair, KemPublicKey, KeyPair, PublicKey
from .ratchet import ChainKey, ReceiverChain, RootKey, SessionState
from .wire import KYBER_VERSION, PRE_KYBER_VERSION

X3DH_INFO = b"WhisperText"
PQXDH_INFO = b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024"
_DISCONTINUITY = b"\xff" * 32


@dataclass(frozen=True)
class AliceParameters:
    """The initiator's view: her keys plus the peer's published bundle keys."""

    our_identity: IdentityKeyPair
    our_base_key: KeyPair
    their_identity: IdentityKey
    their_signed_pre_key: PublicKey
    their_ratchet_key: PublicKey
    their_one_time_pre_key: PublicKey | None = None
    their_kyber_pre_key: KemPublicKey | None = None


@dataclass(frozen=True)
class BobParameters:
    """The responder's view: his private pre-keys plus what the first message carried."""

    our_identity: IdentityKeyPair
    our_signed_pre_key: KeyPair
    our_ratchet_key: KeyPair
    their_identity: IdentityKey
    their_base_key: PublicKey
    our_one_time_pre_key: KeyPair | None = None
    our_kyber_pre_key: KemKeyPair | None = None
    their_kyber_ciphertext: bytes | None = None


def derive_initial_keys(secret_input: bytes, *, pq: bool) -> tuple[RootKey, ChainKey]:
    okm = hkdf_sha256(secret_input, PQXDH_INFO if pq else X3DH_INFO, 64)
    return RootKey(okm[:32]), ChainKey(okm[32:], 0)


def initialize_alice_session(
    params: AliceParameters, sending_ratchet: KeyPair | None = None
) -> tuple[SessionState, bytes | None]:
    """Alice's session state, and the KEM ciphertext to send when the handshake is PQXDH."""
    base = params.our_base_key.private_key
    secret = [
        _DISCONTINUITY,
        params.our_identity.private_key.agree(params.their_signed_pre_key),
        base.agree(params.their_identity),
        base.agree(params.their_signed_pre_key),
    ]
    if params.their_one_time_pre_key is not None:
        secret.append(base.agree(params.their_one_time_pre_key))
    kyber_ciphertext = None
    if params.their_kyber_pre_key is not None:
        shared, kyber_ciphertext = params.their_kyber_pre_key.encapsulate()
        secret.append(shared)
    pq = params.their_kyber_pre_key is not None
    root, receiver_chain = derive_initial_keys(b"".join(secret), pq=pq)
    ratchet = sending_ratchet if sending_ratchet is not None else KeyPair.generate()
    sender_root, sender_chain = root.create_chain(params.their_ratchet_key, ratchet)
    state = SessionState(
        version=KYBER_VERSION if pq else PRE_KYBER_VERSION,
        local_identity=params.our_identity.public_key,
        remote_identity=params.their_identity,
        root_key=sender_root,
        sender_ratchet=ratchet,
        sender_chain=sender_chain,
        alice_base_key=params.our_base_key.public_key,
        receiver_chains=[ReceiverChain(params.their_ratchet_key, receiver_chain)],
    )
    return state, kyber_ciphertext


def initialize_bob_session(params: BobParameters) -> SessionState:
    spk = params.our_signed_pre_key.private_key
    secret = [
        _DISCONTINUITY,
        spk.agree(params.their_identity),
        params.our_identity.private_key.agree(params.their_base_key),
        spk.agree(params.their_base_key),
    ]
    if params.our_one_time_pre_key is not None:
        secret.append(params.our_one_time_pre_key.private_key.agree(params.their_base_key))
    if (params.our_kyber_pre_key is None) != (params.their_kyber_ciphertext is None):
        raise InvalidKeyError("both or neither of the Kyber key pair and ciphertext are needed")
    if params.our_kyber_pre_key is not None and params.their_kyber_ciphertext is not None:
        secret.append(params.our_kyber_pre_key.decapsulate(params.their_kyber_ciphertext))
    pq = params.our_kyber_pre_key is not None
    root, sender_chain = derive_initial_keys(b"".join(secret), pq=pq)
    return SessionState(
        version=KYBER_VERSION if pq else PRE_KYBER_VERSION,
        local_identity=params.our_identity.public_key,
        remote_identity=params.their_identity,
        root_key=root,
        sender_ratchet=params.our_ratchet_key,
        sender_chain=sender_chain,
        alice_base_key=params.their_base_key,
    )
