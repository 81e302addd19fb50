"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, as Go's ``sumdb/note`` reads them.

A note is a text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID ‖ signature)``. An Ed25519 key's ID is the first four bytes of
``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)``, big-endian. Keys are written as Go's
``golang.org/x/mod/sumdb/note`` writes them:

- verifier key: ``<name>+<key ID, 8 hex digits>+base64(0x01 ‖ 32-byte public key)``;
- signer key: ``PRIVATE+KEY+<name>+<key ID>+base64(0x01 ‖ 32-byte private seed)``.

A witness's key signs C2SP ``tlog-cosignature`` v1 instead (signature type ``0x04``, in its key
ID and its keys): its signature is ``timestamp ‖ Ed25519 signature`` (the timestamp in POSIX
seconds, 8 bytes big-endian) of ``cosignature/v1\ntime <timestamp>\n`` followed by the note's
text, as github.com/transparency-dev/formats/note writes and reads it.

:func:`open_note` follows the specification and ``note.Open``: a signature by an unknown key is
kept aside; one by a known key must verify or the whole note is refused; a note no known key
signed is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
KINDS = (ED25519, COSIGNATURE_V1)
SIGNATURE_PREFIX = "— "
#: ``note.Open`` gives up past this many signature lines; the specification asks for 16 at least.
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A malformed note or key, or a note that no known key signed (or one signed badly)."""


def is_valid_key_name(name: str) -> bool:
    """Non-empty, with no Unicode space and no ``+``."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes, kind: int = ED25519) -> int:
    """The key ID of an Ed25519 public key (its 32 bytes) under ``name``, for a signature type."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: a header, the time, then the note's text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosignature_time(signature: Signature) -> int:
    """The POSIX time a ``cosignature/v1`` signature says it was made at."""
    raw = base64.b64decode(signature.base64)
    return int.from_bytes(raw[4:12], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key_parts(text: str, kind: str) -> tuple[str, int, int, bytes]:
    """Name, key ID, signature type and key of an encoded key."""
    name, _, rest = text.partition("+")
    id_hex, _, key64 = rest.partition("+")
    try:
        identifier = int(id_hex, 16)
        key = base64.b64decode(key64, validate=True)
    except (ValueError, binascii.Error) as error:
        raise NoteError(f"malformed {kind} key") from error
    if not is_valid_key_name(name) or len(id_hex) != 8 or len(key) != 33 or key[0] not in KINDS:
        raise NoteError(f"malformed {kind} key (an Ed25519 key is expected)")
    return name, identifier, key[0], key[1:]


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey = field(repr=False)
    kind: int = ED25519

    @classmethod
    def from_verifier_key(cls, vkey: str) -> NoteVerifier:
        name, identifier, kind, raw = _key_parts(vkey.strip(), "verifier")
        if key_id(name, raw, kind) != identifier:
            raise NoteError("verifier key's ID does not match its name and key")
        return cls(name, identifier, Ed25519PublicKey.from_public_bytes(raw), kind)

    def verifier_key(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, text: str, signature: bytes) -> bool:
        message = text.encode()
        if self.kind == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            message = cosigned_message(text, int.from_bytes(signature[:8], "big"))
            signature = signature[8:]
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A log's key (``ED25519``) or a witness's (``COSIGNATURE_V1``)."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    kind: int = ED25519

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}: no spaces, no '+'")

    @classmethod
    def generate(cls, name: str, kind: int = ED25519) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate(), kind)

    @classmethod
    def from_signer_key(cls, skey: str) -> NoteSigner:
        prefix, _, rest = skey.strip().partition("PRIVATE+KEY+")
        if prefix:
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, identifier, kind, seed = _key_parts(rest, "signer")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed), kind)
        if signer.verifier.key_id != identifier:
            raise NoteError("signer key's ID does not match its name and key")
        return signer

    @property
    def verifier(self) -> NoteVerifier:
        public = self.private_key.public_key()
        identifier = key_id(self.name, _raw_public(public), self.kind)
        return NoteVerifier(self.name, identifier, public, self.kind)

    def signer_key(self) -> str:
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([self.kind]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{encoded}"

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """The note signature line of ``text``; a cosignature's says when (POSIX seconds)."""
        if self.kind == COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp < 2**63:
                raise NoteError("a cosignature needs its time, in POSIX seconds")
            signed = cosigned_message(text, timestamp)
            signature = timestamp.to_bytes(8, "big") + self.private_key.sign(signed)
        else:
            signature = self.private_key.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id.to_bytes(4, "big") + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def sign_note(text: str, *signers: NoteSigner, timestamp: int | None = None) -> str:
    """The signed note of ``text`` (which must end in a newline) by each signer (a cosigner's
    signature made at ``timestamp``)."""
    _check_text(text)
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if not signers:
        raise NoteError("a note needs at least one signature")
    return text + "\n" + "".join(signer.signature_line(text, timestamp) for signer in signers)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    base64: str


@dataclass(frozen=True)
class OpenedNote:
    text: str
    signatures: tuple[Signature, ...]  # by known keys, each verified
    unverified: tuple[Signature, ...]  # by keys not given


def open_note(message: str | bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """The note's text, once every signature by a known key verified and one at least did."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise NoteError("a note is UTF-8") from error
    _check_text(message)
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: the signatures end with a newline")
    known = {(verifier.name, verifier.key_id): verifier for verifier in verifiers}
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[str, Signature] = {}
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    for line in lines:
        signature, raw = _parse_signature(line)
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            unverified.setdefault(line, signature)
            continue
        if (signature.name, signature.key_id) in verified:
            continue
        if not verifier.verify(text, raw):
            raise NoteError(f"invalid signature by {signature.name}+{signature.key_id:08x}")
        verified[signature.name, signature.key_id] = signature
    if not verified:
        raise NoteError("no known key signed the note")
    return OpenedNote(text, tuple(verified.values()), tuple(unverified.values()))


def _check_text(message: str) -> None:
    if any(ch < " " and ch != "\n" for ch in message):
        raise NoteError("a note holds no control character but newline")


def _parse_signature(line: str) -> tuple[Signature, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("malformed note: a signature line starts with '— '")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise NoteError("malformed signature") from error
    if not is_valid_key_name(name) or not encoded or len(raw) < 5:
        raise NoteError("malformed signature line")
    return Signature(name, int.from_bytes(raw[:4], "big"), encoded), raw[4:]
