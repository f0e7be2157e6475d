"""Errors of request signing.

These are configuration and infrastructure failures (a wrong key file, a missing OpenSSL engine),
not rules of the domain, so they are not ``DomainError``s: the caller decides what the user sees.
"""

from __future__ import annotations


class SigningError(Exception):
    """Signing failed."""


class KeyFormatError(SigningError, ValueError):
    """A key or certificate could not be read, or is not a GOST R 34.10-2012 256-bit one."""


class KeyMismatchError(SigningError):
    """The private key does not belong to the certificate (ESIA would answer 007053 or 007002)."""


class SignerUnavailable(SigningError):
    """The signing backend is not installed or not configured (openssl, its gost engine)."""
