"""Signing ESIA requests: GOST R 34.10-2012 (256 bit) in the byte order ESIA accepts.

``gost``        keys, certificates, Streebog-256, ``client_certificate_hash``, sign/verify
``signer``      the pluggable ``Signer``, the pure-Python ``GostcryptoSigner``, ``make_signer``
``openssl``     ``OpenSSLGostSigner``: the ``openssl`` command with the gost engine
``esia_secret`` the signed strings of each request and the ``client_secret`` encoding
"""

from services.signing.errors import KeyFormatError, KeyMismatchError, SignerUnavailable, SigningError
from services.signing.esia_secret import (
    RefreshSecret,
    SecretFields,
    authorize_string,
    client_secret,
    client_secret_async,
    decode_secret,
    encode_secret,
    esia_timestamp,
    refresh_string,
    token_string,
)
from services.signing.gost import Certificate, PrivateKey, PublicKey, certificate_hash, streebog256, verify
from services.signing.openssl import OpenSSLGostSigner, openssl_gost_available
from services.signing.signer import GostcryptoSigner, Signer, SignerKind, check_signer, make_signer

__all__ = [
    "Certificate",
    "GostcryptoSigner",
    "KeyFormatError",
    "KeyMismatchError",
    "OpenSSLGostSigner",
    "PrivateKey",
    "PublicKey",
    "RefreshSecret",
    "SecretFields",
    "Signer",
    "SignerKind",
    "SignerUnavailable",
    "SigningError",
    "authorize_string",
    "certificate_hash",
    "check_signer",
    "client_secret",
    "client_secret_async",
    "decode_secret",
    "encode_secret",
    "esia_timestamp",
    "make_signer",
    "openssl_gost_available",
    "refresh_string",
    "streebog256",
    "token_string",
    "verify",
]
