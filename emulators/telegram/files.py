"""Files known to the emulator: uploaded by the bot or sent by users.

A file gets a `file_id` (reusable in later send* calls) and a `file_path` (for getFile downloads).
Photo dimensions are read from the image header so PhotoSize objects carry plausible values without
an imaging library.
"""

from __future__ import annotations

import mimetypes
import secrets
import struct
from dataclasses import dataclass
from typing import Any

# Prefixes resembling real file_ids; only cosmetic, but they make logs readable.
_PREFIX = {
    "photo": "AgAC",
    "document": "BQAC",
    "audio": "CQAC",
    "voice": "AwAC",
    "video": "BAAC",
    "animation": "CgAC",
    "sticker": "CAAC",
    "video_note": "DQAC",
}
_FOLDER = {
    "photo": "photos",
    "document": "documents",
    "audio": "music",
    "voice": "voice",
    "video": "videos",
    "animation": "animations",
    "sticker": "stickers",
    "video_note": "video_notes",
}
MEDIA_KINDS = tuple(_PREFIX)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG image, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str = ""
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    url: str | None = None
    emoji: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def to_api(self) -> Any:
        """The Bot API object for this file: PhotoSize list, Document, Voice, Sticker…"""
        base: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.data:
            base["file_size"] = self.size
        if self.kind == "photo":
            return [{**base, "width": self.width or 1, "height": self.height or 1}]
        if self.kind == "sticker":
            sticker = {
                **base,
                "type": "regular",
                "width": self.width or 512,
                "height": self.height or 512,
                "is_animated": False,
                "is_video": False,
            }
            if self.emoji:
                sticker["emoji"] = self.emoji
            return sticker
        if self.file_name and self.kind in ("document", "audio", "video", "animation"):
            base["file_name"] = self.file_name
        if self.mime_type and self.kind != "video_note":
            base["mime_type"] = self.mime_type
        if self.kind in ("audio", "voice", "video", "animation", "video_note"):
            base["duration"] = self.duration or 0
        if self.kind in ("video", "animation"):
            base["width"] = self.width or 640
            base["height"] = self.height or 360
        if self.kind == "video_note":
            base["length"] = self.width or 240
        return base

    def file_api(self) -> dict[str, Any]:
        """The `File` object getFile returns."""
        result: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.data:
            result["file_size"] = self.size
        result["file_path"] = self.file_path
        return result


class FileStore:
    def __init__(self) -> None:
        self.by_id: dict[str, FileRecord] = {}
        self.by_path: dict[str, FileRecord] = {}
        self._counter = 0

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        url: str | None = None,
        duration: int | None = None,
        emoji: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> FileRecord:
        self._counter += 1
        if mime_type in (None, "", "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        if kind in ("photo", "sticker") and (width is None or height is None):
            size = image_size(data)
            if size is not None:
                width, height = size
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        elif mime_type:
            extension = mimetypes.guess_extension(mime_type) or ""
        record = FileRecord(
            file_id=f"{_PREFIX.get(kind, 'BQAC')}AgADBAAD{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(9)}",
            kind=kind,
            data=data,
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{_FOLDER.get(kind, 'documents')}/file_{self._counter}{extension}",
            width=width,
            height=height,
            duration=duration,
            url=url,
            emoji=emoji,
        )
        self.by_id[record.file_id] = record
        self.by_path[record.file_path] = record
        return record

    def clear(self) -> None:
        self.by_id.clear()
        self.by_path.clear()
