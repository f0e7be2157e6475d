"""Just enough DER to read a GOST certificate's public key and to write a GOST public key.

`cryptography` does not know GOST keys, and the emulator must not share a parser with the client,
so this reads the few structures it needs by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
OBJECT_IDENTIFIER = 0x06
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05


class DerError(ValueError):
    pass


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes

    def children(self) -> list[Tlv]:
        return parse_all(self.value)


def parse_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """One TLV at `offset`; returns it and the offset after it."""
    if offset + 2 > len(data):
        raise DerError("truncated DER")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DerError("unsupported DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise DerError("truncated DER value")
    return Tlv(tag, data[offset:end]), end


def parse_all(data: bytes) -> list[Tlv]:
    items: list[Tlv] = []
    offset = 0
    while offset < len(data):
        item, offset = parse_one(data, offset)
        items.append(item)
    return items


def parse(data: bytes) -> Tlv:
    item, end = parse_one(data)
    if end != len(data):
        raise DerError("trailing bytes after DER value")
    return item


def decode_oid(value: bytes) -> str:
    if not value:
        raise DerError("empty OID")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def encode_oid(oid: str) -> bytes:
    arcs = [int(a) for a in oid.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return encode(OBJECT_IDENTIFIER, bytes(body))


def sequence(*items: bytes) -> bytes:
    return encode(SEQUENCE, b"".join(items))
