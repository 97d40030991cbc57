"""The Double Ratchet with libsignal's constants and bounds.

* Root step: HKDF-SHA256(salt=root key, ikm=DH output, info "WhisperRatchet") -> 64
  bytes: new root key || new chain key.
* Chain step: HMAC-SHA256(chain key, 0x01) is the message-key seed, HMAC-SHA256(chain
  key, 0x02) the next chain key.
* Message keys: HKDF(seed, info "WhisperMessageKeys") -> 80 bytes: AES-256 key, HMAC
  key, CBC IV.

Functions here are pure: they take a :class:`SessionState` and return a new one,
never mutating their input, so a message that fails to authenticate leaves the
caller's state exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import (
    BadMacError,
    DuplicateMessageError,
    InvalidMessageError,
    InvalidStateError,
    TooFarAheadError,
)
from .jsonsafe import (
    JsonDict,
    as_dict,
    b64,
    get_bytes,
    get_dict,
    get_int,
    get_list,
    get_opt_bytes,
    get_opt_int,
)
from .kdf import hkdf_sha256, hmac_sha256
from .keys import IdentityKey, KeyPair, PublicKey
from .wire import SignalMessage

MAX_MESSAGE_KEYS = 2000
MAX_FORWARD_JUMPS = 25000
MAX_RECEIVER_CHAINS = 5
_MESSAGE_KEY_SEED = b"\x01"
_CHAIN_KEY_SEED = b"\x02"


@dataclass(frozen=True)
class MessageKeys:
    cipher_key: bytes
    mac_key: bytes
    iv: bytes
    counter: int

    @classmethod
    def derive(cls, seed: bytes, counter: int) -> MessageKeys:
        okm = hkdf_sha256(seed, b"WhisperMessageKeys", 80)
        return cls(okm[:32], okm[32:64], okm[64:80], counter)


@dataclass(frozen=True)
class ChainKey:
    key: bytes
    index: int

    def message_keys(self) -> MessageKeys:
        return MessageKeys.derive(hmac_sha256(self.key, _MESSAGE_KEY_SEED), self.index)

    def next(self) -> ChainKey:
        return ChainKey(hmac_sha256(self.key, _CHAIN_KEY_SEED), self.index + 1)


@dataclass(frozen=True)
class RootKey:
    key: bytes

    def create_chain(
        self, their_ratchet_key: PublicKey, our_ratchet_key: KeyPair
    ) -> tuple[RootKey, ChainKey]:
        shared = our_ratchet_key.private_key.agree(their_ratchet_key)
        okm = hkdf_sha256(shared, b"WhisperRatchet", 64, salt=self.key)
        return RootKey(okm[:32]), ChainKey(okm[32:], 0)


@dataclass
class ReceiverChain:
    """A peer ratchet key, its chain, and keys skipped over on it (counter -> keys)."""

    ratchet_key: PublicKey
    chain_key: ChainKey
    skipped: dict[int, MessageKeys] = field(default_factory=dict)

    def copy(self) -> ReceiverChain:
        return ReceiverChain(self.ratchet_key, self.chain_key, dict(self.skipped))


@dataclass(frozen=True)
class PendingPreKey:
    """Handshake data repeated in every message until the peer first replies."""

    signed_pre_key_id: int
    base_key: PublicKey
    timestamp: int
    pre_key_id: int | None = None
    kyber_pre_key_id: int | None = None
    kyber_ciphertext: bytes | None = None


@dataclass
class SessionState:
    """One Double Ratchet session. Treat as immutable outside this module."""

    version: int
    local_identity: IdentityKey
    remote_identity: IdentityKey
    root_key: RootKey
    sender_ratchet: KeyPair
    sender_chain: ChainKey
    alice_base_key: PublicKey
    previous_counter: int = 0
    receiver_chains: list[ReceiverChain] = field(default_factory=list)
    local_registration_id: int = 0
    remote_registration_id: int = 0
    pending_pre_key: PendingPreKey | None = None

    def copy(self) -> SessionState:
        return replace(self, receiver_chains=[chain.copy() for chain in self.receiver_chains])

    def receiver_chain(self, ratchet_key: PublicKey) -> ReceiverChain | None:
        for chain in self.receiver_chains:
            if chain.ratchet_key == ratchet_key:
                return chain
        return None

    def skipped_key_count(self) -> int:
        return sum(len(chain.skipped) for chain in self.receiver_chains)

    def to_dict(self) -> JsonDict:
        pending: JsonDict | None = None
        if self.pending_pre_key is not None:
            p = self.pending_pre_key
            pending = {
                "signed_pre_key_id": p.signed_pre_key_id,
                "base_key": b64(p.base_key.serialize()),
                "timestamp": p.timestamp,
                "pre_key_id": p.pre_key_id,
                "kyber_pre_key_id": p.kyber_pre_key_id,
                "kyber_ciphertext": None if p.kyber_ciphertext is None else b64(p.kyber_ciphertext),
            }
        return {
            "version": self.version,
            "local_identity": b64(self.local_identity.serialize()),
            "remote_identity": b64(self.remote_identity.serialize()),
            "root_key": b64(self.root_key.key),
            "sender_ratchet": self.sender_ratchet.to_dict(),
            "sender_chain": {"key": b64(self.sender_chain.key), "index": self.sender_chain.index},
            "alice_base_key": b64(self.alice_base_key.serialize()),
            "previous_counter": self.previous_counter,
            "receiver_chains": [
                {
                    "ratchet_key": b64(chain.ratchet_key.serialize()),
                    "chain_key": {"key": b64(chain.chain_key.key), "index": chain.chain_key.index},
                    "skipped": [
                        [counter, b64(keys.cipher_key + keys.mac_key + keys.iv)]
                        for counter, keys in chain.skipped.items()
                    ],
                }
                for chain in self.receiver_chains
            ],
            "local_registration_id": self.local_registration_id,
            "remote_registration_id": self.remote_registration_id,
            "pending_pre_key": pending,
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> SessionState:
        chains = []
        for raw_chain in get_list(data, "receiver_chains"):
            chain = as_dict(raw_chain)
            chain_key = get_dict(chain, "chain_key")
            skipped: dict[int, MessageKeys] = {}
            for entry in get_list(chain, "skipped"):
                if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], int):
                    raise InvalidStateError("bad skipped key entry")
                material = get_bytes({"k": entry[1]}, "k")
                skipped[entry[0]] = MessageKeys(
                    material[:32], material[32:64], material[64:80], entry[0]
                )
            chains.append(
                ReceiverChain(
                    PublicKey.deserialize(get_bytes(chain, "ratchet_key")),
                    ChainKey(get_bytes(chain_key, "key"), get_int(chain_key, "index")),
                    skipped,
                )
            )
        pending = None
        if data.get("pending_pre_key") is not None:
            p = get_dict(data, "pending_pre_key")
            pending = PendingPreKey(
                signed_pre_key_id=get_int(p, "signed_pre_key_id"),
                base_key=PublicKey.deserialize(get_bytes(p, "base_key")),
                timestamp=get_int(p, "timestamp"),
                pre_key_id=get_opt_int(p, "pre_key_id"),
                kyber_pre_key_id=get_opt_int(p, "kyber_pre_key_id"),
                kyber_ciphertext=get_opt_bytes(p, "kyber_ciphertext"),
            )
        sender_chain = get_dict(data, "sender_chain")
        return cls(
            version=get_int(data, "version"),
            local_identity=PublicKey.deserialize(get_bytes(data, "local_identity")),
            remote_identity=PublicKey.deserialize(get_bytes(data, "remote_identity")),
            root_key=RootKey(get_bytes(data, "root_key")),
            sender_ratchet=KeyPair.from_dict(get_dict(data, "sender_ratchet")),
            sender_chain=ChainKey(get_bytes(sender_chain, "key"), get_int(sender_chain, "index")),
            alice_base_key=PublicKey.deserialize(get_bytes(data, "alice_base_key")),
            previous_counter=get_int(data, "previous_counter"),
            receiver_chains=chains,
            local_registration_id=get_int(data, "local_registration_id"),
            remote_registration_id=get_int(data, "remote_registration_id"),
            pending_pre_key=pending,
        )


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise InvalidMessageError("ciphertext is not a whole number of blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise InvalidMessageError("bad padding") from exc


def encrypt(state: SessionState, plaintext: bytes) -> tuple[SessionState, SignalMessage]:
    """Encrypt with the sending chain; returns the advanced state and the message."""
    chain = state.sender_chain
    keys = chain.message_keys()
    message = SignalMessage.build(
        version=state.version,
        mac_key=keys.mac_key,
        ratchet_key=state.sender_ratchet.public_key,
        counter=chain.index,
        previous_counter=state.previous_counter,
        ciphertext=aes_cbc_encrypt(keys.cipher_key, keys.iv, plaintext),
        sender_identity=state.local_identity,
        receiver_identity=state.remote_identity,
    )
    # Receiver chains are shared with the old state; decrypt copies before changing them.
    return replace(state, sender_chain=chain.next()), message


def decrypt(state: SessionState, message: SignalMessage) -> tuple[SessionState, bytes]:
    """Decrypt one message; the returned state is new, the input is untouched."""
    if message.version != state.version:
        raise InvalidMessageError(
            f"message version {message.version} does not match session version {state.version}"
        )
    new_state = state.copy()
    chain = new_state.receiver_chain(message.ratchet_key)
    if chain is None:
        chain = _ratchet_step(new_state, message.ratchet_key)
    keys = _message_keys(chain, message.counter)
    if not message.verify_mac(new_state.remote_identity, new_state.local_identity, keys.mac_key):
        raise BadMacError("message authentication failed")
    plaintext = aes_cbc_decrypt(keys.cipher_key, keys.iv, message.ciphertext)
    # The peer has our reply chain now, so stop resending the handshake.
    new_state.pending_pre_key = None
    return new_state, plaintext


def _ratchet_step(state: SessionState, their_ratchet_key: PublicKey) -> ReceiverChain:
    """DH ratchet: derive the receiving chain for a new peer key and a fresh sending chain."""
    receiver_root, receiver_chain_key = state.root_key.create_chain(
        their_ratchet_key, state.sender_ratchet
    )
    our_new_ratchet = KeyPair.generate()
    sender_root, sender_chain_key = receiver_root.create_chain(their_ratchet_key, our_new_ratchet)
    chain = ReceiverChain(their_ratchet_key, receiver_chain_key)
    state.receiver_chains.append(chain)
    if len(state.receiver_chains) > MAX_RECEIVER_CHAINS:
        del state.receiver_chains[0]
    state.root_key = sender_root
    state.previous_counter = max(state.sender_chain.index - 1, 0)
    state.sender_ratchet = our_new_ratchet
    state.sender_chain = sender_chain_key
    return chain


def _message_keys(chain: ReceiverChain, counter: int) -> MessageKeys:
    current = chain.chain_key
    if current.index > counter:
        keys = chain.skipped.pop(counter, None)
        if keys is None:
            raise DuplicateMessageError(f"message {counter} was already received")
        return keys
    if counter - current.index > MAX_FORWARD_JUMPS:
        raise TooFarAheadError(f"message {counter} is too far ahead of {current.index}")
    # Keys older than the last MAX_MESSAGE_KEYS would be evicted at once: skip deriving them.
    keep_from = counter - MAX_MESSAGE_KEYS
    while current.index < counter:
        if current.index >= keep_from:
            chain.skipped[current.index] = current.message_keys()
        current = current.next()
    while len(chain.skipped) > MAX_MESSAGE_KEYS:
        # Oldest first: dicts keep insertion order, which is counter order here.
        del chain.skipped[next(iter(chain.skipped))]
    chain.chain_key = current.next()
    return current.message_keys()
