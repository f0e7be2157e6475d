"""Column encryption (AES-256-GCM with key ids, so keys can rotate) and blind indexes (keyed hashes).

A token looks like ``v1.<key id>.<base64url(nonce | ciphertext | tag)>``. The associated data binds
it to its context (``"patients.last_name"``): a token copied into another column does not decrypt.
Nothing here logs or echoes plaintext or key material in an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits: GCM's native nonce size; random nonces are safe far beyond our volumes
FORMAT_VERSION = "v1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class CryptoError(Exception):
    """Base of the errors below; messages never contain plaintext or keys."""


class KeyConfigError(CryptoError, ValueError):
    """A key or key list in the settings is malformed."""


class UnknownKeyError(CryptoError):
    """A token names a key id this process does not have (a key removed too early?)."""


class DecryptionError(CryptoError):
    """A token is malformed, was tampered with, or belongs to another context."""


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def generate_key_b64() -> str:
    """A fresh key in the form the settings take (standard base64)."""
    return base64.b64encode(generate_key()).decode("ascii")


def _validate_key(key: bytes, name: str) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise KeyConfigError(f"{name} must be {KEY_BYTES} bytes (AES-256 / HMAC-SHA256 key)")
    return key


def _validate_key_id(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigError(f"key id {key_id!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
    return key_id


def parse_key(text: str, name: str = "key") -> bytes:
    """A base64 (standard or URL-safe) 32-byte key from a settings string."""
    cleaned = text.strip()
    cleaned += "=" * (-len(cleaned) % 4)  # padding is often lost when keys are copied around
    try:
        key = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not valid base64") from None
    return _validate_key(key, name)


def parse_keys(text: str) -> dict[str, bytes]:
    """``"kid:base64key,kid2:base64key"`` → ``{"kid": key, "kid2": key2}``."""
    keys: dict[str, bytes] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise KeyConfigError("each key must be written as <key id>:<base64 key>")
        _validate_key_id(key_id)
        if key_id in keys:
            raise KeyConfigError(f"key id {key_id!r} appears twice")
        keys[key_id] = parse_key(encoded, f"key {key_id!r}")
    if not keys:
        raise KeyConfigError("no keys given")
    return keys


DECRYPT_CACHE_SIZE = 4096


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise KeyConfigError("no encryption keys")
        self._aeads = {
            _validate_key_id(key_id): AESGCM(_validate_key(key, f"key {key_id!r}")) for key_id, key in keys.items()
        }
        if active_key_id not in self._aeads:
            raise KeyConfigError(f"active key id {active_key_id!r} is not among the keys")
        self.active_key_id = active_key_id
        # Recently decrypted values, by (token, context): a schedule page shows the same forty
        # names on every press. Bounded, in this process only, never written anywhere; a token
        # is unique per encryption (random nonce), so a changed value is a new key.
        self._recent: OrderedDict[tuple[str, str], str] = OrderedDict()

    @staticmethod
    def _associated_data(key_id: str, context: str) -> bytes:
        # The key id is authenticated too: relabelling a token with another id cannot go unnoticed.
        return f"medcab:{FORMAT_VERSION}:{key_id}:{context}".encode()

    def encrypt(self, plaintext: str, context: str) -> str:
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[key_id].encrypt(nonce, plaintext.encode(), self._associated_data(key_id, context))
        return f"{FORMAT_VERSION}.{key_id}.{_b64url(nonce + sealed)}"

    @staticmethod
    def key_id_of(token: str) -> str:
        version, sep, rest = token.partition(".")
        key_id, sep2, _ = rest.partition(".")
        if version != FORMAT_VERSION or not sep or not sep2 or not _KEY_ID.fullmatch(key_id):
            raise DecryptionError("not an encrypted value (unknown format)")
        return key_id

    def decrypt(self, token: str, context: str) -> str:
        cache_key = (token, context)
        recent = self._recent
        if (known := recent.get(cache_key)) is not None:
            recent.move_to_end(cache_key)
            return known
        plaintext = self._decrypt(token, context)
        recent[cache_key] = plaintext
        if len(recent) > DECRYPT_CACHE_SIZE:
            recent.popitem(last=False)
        return plaintext

    def _decrypt(self, token: str, context: str) -> str:
        key_id = self.key_id_of(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise UnknownKeyError(f"value encrypted with key {key_id!r}, which is not configured")
        try:
            raw = _unb64url(token.rsplit(".", 1)[1])
        except (binascii.Error, ValueError):
            raise DecryptionError("encrypted value is corrupt") from None
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("encrypted value is corrupt")
        try:
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._associated_data(key_id, context))
        except InvalidTag:
            raise DecryptionError(
                f"encrypted value for {context!r} failed authentication (tampered, or from another column)"
            ) from None
        return plaintext.decode()

    def needs_rotation(self, token: str) -> bool:
        """True when the value was encrypted with a key other than the active one."""
        return self.key_id_of(token) != self.active_key_id

    def reencrypt(self, token: str, context: str) -> str:
        """The value under the active key (unchanged if it already is)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)


_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")  # spaces, hyphen-minus, Unicode dashes, minus sign
_SPACES = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """How people type a surname: any case, stray spaces, ё or е."""
    text = unicodedata.normalize("NFKC", value).casefold().replace("ё", "е")
    return _SPACES.sub(" ", text).strip()


def normalize_number(value: str) -> str:
    """How people type a policy or SNILS: grouped with spaces or hyphens, or not."""
    return _SEPARATORS.sub("", normalize_text(value))


class BlindIndex:
    """HMAC-SHA256 digests for equality lookups on encrypted columns.

    Each purpose gets its own derived key, so equal values in two columns give unrelated digests
    and one column's index says nothing about another's.
    """

    def __init__(self, key: bytes) -> None:
        self._key = _validate_key(key, "index key")
        self._purpose_keys: dict[str, bytes] = {}

    def _key_for(self, purpose: str) -> bytes:
        key = self._purpose_keys.get(purpose)
        if key is None:
            key = hmac.new(self._key, b"medcab-blind-index:" + purpose.encode(), hashlib.sha256).digest()
            self._purpose_keys[purpose] = key
        return key

    def digest(self, purpose: str, value: str, *, number: bool = False) -> str:
        """Hex digest of the normalized value; ``number`` also drops spaces and hyphens."""
        normalized = normalize_number(value) if number else normalize_text(value)
        return hmac.new(self._key_for(purpose), normalized.encode(), hashlib.sha256).hexdigest()
