"""Decoding a Bot API call's parameters.

Telegram accepts the same parameters from a query string, a JSON body, a urlencoded form or a
multipart form; in the two form encodings, object-valued fields (reply_markup, entities, …) arrive as
JSON strings and numbers/booleans as text. `read_request` merges all sources into one dict with the
object fields decoded, and `Params` coerces the scalar ones on access, so method handlers never care
how the client encoded the call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from .errors import bad_request

# Fields whose value is a JSON-serialized object or array in the form encodings.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "menu_button",
        "media",
        "results",
        "options",
        "message_ids",
        "permissions",
        "explanation_entities",
        "input_message_content",
        "prices",
        "rights",
        "reaction",
        "suggested_post_parameters",
        "button",
    }
)


@dataclass
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str | None
    data: bytes


def decode_json_fields(values: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in values.items():
        if key in JSON_FIELDS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                raise bad_request(f"can't parse {key} JSON object") from error
        decoded[key] = value
    return decoded


async def read_multipart(reader: MultipartReader) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Form fields and file parts of a multipart body (a request, or a webhook's reply)."""
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue  # nested multiparts are not part of the Bot API
        name = part.name or ""
        if part.filename is not None:
            data = await part.read(decode=True)
            uploads[name] = Upload(name, part.filename, part.headers.get("Content-Type"), bytes(data))
        else:
            values[name] = await part.text()
    return values, uploads


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """All parameters of a call (query string, then body) and the uploaded files."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise bad_request("can't parse JSON object") from error
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            values.update(body)
        elif content_type == "multipart/form-data":
            form, uploads = await read_multipart(await request.multipart())
            values.update(form)
        elif content_type == "application/x-www-form-urlencoded":
            values.update(dict(await request.post()))
    return decode_json_fields(values), uploads


_TRUE = {"true", "1", "yes", "on"}


class Params:
    """Typed access to a call's parameters, raising Telegram-style 400s for bad values."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def get_str(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise bad_request(f"field \"{name}\" must be of type String")

    def get_int(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise bad_request(f"field \"{name}\" must be of type Integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise bad_request(f"field \"{name}\" must be of type Integer")

    def require_int(self, name: str, missing: str | None = None) -> int:
        value = self.get_int(name)
        if value is None:
            raise bad_request(missing or f"{name} is empty")
        return value

    def get_float(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise bad_request(f"field \"{name}\" must be of type Float") from error

    def get_bool(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return False

    def get_json(self, name: str) -> Any:
        value = self.raw(name)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError as error:
                raise bad_request(f"can't parse {name} JSON object") from error
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        value = self.raw(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return int(text)
            if text.startswith("@"):
                return text
        raise bad_request("chat not found")

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file (`attach://<part>` or a part named like the field) or a file_id/URL."""
        value = self.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"file attach://{value[9:]} not found in the request")
            return upload
        if value is None:
            return self.uploads.get(name)
        if isinstance(value, str):
            return value
        raise bad_request(f"wrong type of the field \"{name}\"")

