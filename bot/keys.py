"""Encryption keys from settings, turned into the cipher and blind index storage uses.

Bad keys stop the start with one line naming the variable: running with a wrong key would write
patient data nobody can read later.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings, SettingsError
from storage.crypto import BlindIndex, FieldCipher, KeyConfigError, parse_key, parse_keys


@dataclass(frozen=True)
class Crypto:
    cipher: FieldCipher
    index: BlindIndex


def build_crypto(settings: Settings) -> Crypto:
    sec = settings.require_security()
    assert sec.data_keys is not None and sec.index_key is not None and sec.active_key_id is not None
    try:
        keys = parse_keys(sec.data_keys.get_secret_value())
    except KeyConfigError as exc:
        raise SettingsError(f"MEDCAB_SECURITY__DATA_KEYS: {exc}") from None
    if sec.active_key_id not in keys:
        raise SettingsError(
            f"MEDCAB_SECURITY__ACTIVE_KEY_ID: no key with id {sec.active_key_id!r} in MEDCAB_SECURITY__DATA_KEYS"
        )
    try:
        index_key = parse_key(sec.index_key.get_secret_value(), "index key")
    except KeyConfigError as exc:
        raise SettingsError(f"MEDCAB_SECURITY__INDEX_KEY: {exc}") from None
    return Crypto(cipher=FieldCipher(keys, sec.active_key_id), index=BlindIndex(index_key))
