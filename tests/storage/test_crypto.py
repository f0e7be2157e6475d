"""Column encryption and blind indexes: no database needed."""

from __future__ import annotations

import base64

import pytest

from storage.crypto import (
    DECRYPT_CACHE_SIZE,
    BlindIndex,
    DecryptionError,
    FieldCipher,
    KeyConfigError,
    UnknownKeyError,
    generate_key,
    generate_key_b64,
    parse_key,
    parse_keys,
)

K1, K2, INDEX_KEY = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": K1}, "k1")


def test_round_trip_and_token_shape(cipher: FieldCipher) -> None:
    token = cipher.encrypt("Петрова Анна", "patients.last_name")
    version, key_id, payload = token.split(".")
    assert (version, key_id) == ("v1", "k1")
    assert "Петрова" not in token
    assert len(base64.urlsafe_b64decode(payload + "==")) == 12 + len("Петрова Анна".encode()) + 16
    assert cipher.decrypt(token, "patients.last_name") == "Петрова Анна"
    assert cipher.decrypt(cipher.encrypt("", "c"), "c") == ""


def test_random_nonce_gives_different_tokens(cipher: FieldCipher) -> None:
    assert cipher.encrypt("same", "c") != cipher.encrypt("same", "c")


def test_tampering_is_detected(cipher: FieldCipher) -> None:
    token = cipher.encrypt("Иванов", "patients.last_name")
    prefix, payload = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        forged = bytearray(raw)
        forged[position] ^= 1
        forged_token = prefix + "." + base64.urlsafe_b64encode(bytes(forged)).rstrip(b"=").decode()
        with pytest.raises(DecryptionError, match="failed authentication"):
            cipher.decrypt(forged_token, "patients.last_name")
    for garbage in ("", "Иванов", "v1.k1.", "v1.k1.AAAA", "v2.k1.AAAA", "v1.k1.***"):
        with pytest.raises(DecryptionError):
            cipher.decrypt(garbage, "patients.last_name")


def test_context_binding(cipher: FieldCipher) -> None:
    token = cipher.encrypt("Иванов", "patients.last_name")
    with pytest.raises(DecryptionError) as error:
        cipher.decrypt(token, "patients.first_name")
    assert "Иванов" not in str(error.value)


def test_relabelled_key_id_fails() -> None:
    both = FieldCipher({"k1": K1, "k2": K1}, "k1")  # same key material under two ids
    token = both.encrypt("x", "c")
    with pytest.raises(DecryptionError):
        both.decrypt(token.replace("v1.k1.", "v1.k2.", 1), "c")


def test_unknown_key_id(cipher: FieldCipher) -> None:
    other = FieldCipher({"k9": K2}, "k9")
    with pytest.raises(UnknownKeyError, match="k9"):
        cipher.decrypt(other.encrypt("x", "c"), "c")


def test_rotation() -> None:
    old = FieldCipher({"k1": K1}, "k1")
    old_token = old.encrypt("Сидоров", "c")
    rotated = FieldCipher({"k1": K1, "k2": K2}, "k2")
    assert rotated.decrypt(old_token, "c") == "Сидоров"
    assert rotated.needs_rotation(old_token)
    new_token = rotated.encrypt("Сидоров", "c")
    assert new_token.startswith("v1.k2.") and not rotated.needs_rotation(new_token)
    reencrypted = rotated.reencrypt(old_token, "c")
    assert reencrypted.startswith("v1.k2.") and rotated.decrypt(reencrypted, "c") == "Сидоров"
    assert rotated.reencrypt(new_token, "c") == new_token
    retired = FieldCipher({"k2": K2}, "k2")  # the old key removed after re-encryption
    assert retired.decrypt(reencrypted, "c") == "Сидоров"
    with pytest.raises(UnknownKeyError):
        retired.decrypt(old_token, "c")


def test_key_validation() -> None:
    with pytest.raises(KeyConfigError, match="32 bytes"):
        FieldCipher({"k1": b"short"}, "k1")
    with pytest.raises(KeyConfigError, match="active key id"):
        FieldCipher({"k1": K1}, "k2")
    with pytest.raises(KeyConfigError):
        FieldCipher({}, "k1")
    with pytest.raises(KeyConfigError, match="key id"):
        FieldCipher({"bad.id": K1}, "bad.id")
    with pytest.raises(KeyConfigError, match="32 bytes"):
        BlindIndex(b"x" * 31)


def test_parse_keys_from_settings() -> None:
    b1, b2 = base64.b64encode(K1).decode(), base64.urlsafe_b64encode(K2).decode().rstrip("=")
    assert parse_keys(f"k1:{b1}, k2:{b2} ,") == {"k1": K1, "k2": K2}
    assert parse_key(b1) == K1
    for bad, message in [
        ("", "no keys"),
        (f"k1{b1}", "<key id>:<base64 key>"),
        (f"k1:{b1},k1:{b1}", "twice"),
        ("k1:not base64!", "base64"),
        (f"k1:{base64.b64encode(b'x' * 16).decode()}", "32 bytes"),
    ]:
        with pytest.raises(KeyConfigError, match=message) as error:
            parse_keys(bad)
        assert b1 not in str(error.value)


def test_generated_keys() -> None:
    assert len(generate_key()) == 32 and generate_key() != generate_key()
    text = generate_key_b64()
    assert parse_key(text) != parse_key(generate_key_b64())
    FieldCipher(parse_keys(f"k1:{text}"), "k1")


def test_blind_index_normalization() -> None:
    index = BlindIndex(INDEX_KEY)
    base = index.digest("patients.last_name", "Семёнов")
    assert len(base) == 64 and int(base, 16) >= 0
    for variant in ("семенов", "  СЕМЁНОВ ", "Семенов\t", "сЕмЕнОв"):
        assert index.digest("patients.last_name", variant) == base
    assert index.digest("patients.last_name", "Семёнова") != base
    # Double-barrelled surnames keep their hyphen; numbers drop separators.
    assert index.digest("n", "Иванов-Петров") != index.digest("n", "Иванов Петров")
    policy = index.digest("policy", "1234 5678 9012 3456", number=True)
    assert index.digest("policy", "1234-5678-9012-3456", number=True) == policy
    assert index.digest("policy", "1234567890123456", number=True) == policy
    assert index.digest("policy", "1234–5678 9012\u00a03456", number=True) == policy  # en dash, nbsp


def test_blind_index_is_keyed_and_per_purpose() -> None:
    index = BlindIndex(INDEX_KEY)
    assert index.digest("a", "Иванов") != index.digest("b", "Иванов")
    assert BlindIndex(K1).digest("a", "Иванов") != index.digest("a", "Иванов")
    assert index.digest("a", "Иванов") == BlindIndex(INDEX_KEY).digest("a", "Иванов")


def test_recent_values_are_remembered_but_never_skip_authentication(cipher: FieldCipher) -> None:
    token = cipher.encrypt("Петрова", "patients.last_name")
    assert cipher.decrypt(token, "patients.last_name") == "Петрова"
    assert cipher.decrypt(token, "patients.last_name") == "Петрова"  # from memory
    # Remembered for its own column only; a tampered copy is a different token and is checked.
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, "patients.first_name")
    raw = bytearray(token.encode())
    raw[-3] = ord("A") if raw[-3] != ord("A") else ord("B")
    with pytest.raises(DecryptionError):
        cipher.decrypt(raw.decode(), "patients.last_name")
    # Bounded: a long day of pages does not keep every name ever shown.
    for i in range(DECRYPT_CACHE_SIZE + 50):
        cipher.decrypt(cipher.encrypt(f"v{i}", "c"), "c")
    assert len(cipher._recent) == DECRYPT_CACHE_SIZE
