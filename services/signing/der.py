"""Just enough DER (and PEM) to read a PKCS#8 GOST key and an X.509 certificate.

``cryptography`` cannot load GOST keys at all and exposes no public key for a GOST certificate,
so the few structures we need are read here: definite lengths, one-byte tags, nothing else.
Anything outside that subset is rejected rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from services.signing.errors import KeyFormatError

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
CONTEXT_0 = 0xA0  # [0] EXPLICIT, constructed: the certificate's version

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class Tlv:
    """One DER element: its tag, its content octets and its whole encoding."""

    tag: int
    content: bytes
    encoded: bytes

    @property
    def children(self) -> list[Tlv]:
        if not self.tag & 0x20:
            raise KeyFormatError(f"DER tag 0x{self.tag:02x} is primitive, expected a constructed one")
        return read_all(self.content)

    def expect(self, tag: int) -> Tlv:
        if self.tag != tag:
            raise KeyFormatError(f"DER: expected tag 0x{tag:02x}, found 0x{self.tag:02x}")
        return self

    def oid(self) -> str:
        self.expect(OBJECT_IDENTIFIER)
        return decode_oid(self.content)

    def integer(self) -> int:
        self.expect(INTEGER)
        if not self.content:
            raise KeyFormatError("DER: empty INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def bit_string(self) -> bytes:
        self.expect(BIT_STRING)
        if not self.content or self.content[0] != 0:
            raise KeyFormatError("DER: BIT STRING with unused bits where whole bytes are expected")
        return self.content[1:]


def _read_one(data: bytes, offset: int) -> tuple[Tlv, int]:
    start = offset
    if offset + 2 > len(data):
        raise KeyFormatError("DER: truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise KeyFormatError("DER: multi-byte tags are not used by the structures we read")
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise KeyFormatError("DER: indefinite or oversized length")
        if offset + count > len(data):
            raise KeyFormatError("DER: truncated length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise KeyFormatError("DER: element runs past the end of the data")
    return Tlv(tag, data[offset:end], data[start:end]), end


def read(data: bytes) -> Tlv:
    """Exactly one element; trailing bytes mean the input is not what we think it is."""
    element, end = _read_one(data, 0)
    if end != len(data):
        raise KeyFormatError("DER: trailing bytes after the element")
    return element


def read_all(data: bytes) -> list[Tlv]:
    elements: list[Tlv] = []
    offset = 0
    while offset < len(data):
        element, offset = _read_one(data, offset)
        elements.append(element)
    return elements


def decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise KeyFormatError("DER: malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def unarmor(data: bytes, labels: tuple[str, ...]) -> bytes:
    """PEM with one of ``labels`` → DER; anything not PEM is taken to be DER already."""
    if b"-----BEGIN" not in data:
        return data
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        if label in labels:
            try:
                return base64.b64decode(b"".join(match.group(2).split()), validate=True)
            except binascii.Error as error:
                raise KeyFormatError(f"PEM {label}: invalid base64") from error
    found = ", ".join(m.group(1).decode("ascii") for m in _PEM_BLOCK.finditer(data)) or "none"
    raise KeyFormatError(f"PEM: expected {' or '.join(labels)}, found {found}")
