"""Message text and its entities, as Telegram computes them.

Bot API entities count offsets and lengths in UTF-16 code units, so emoji and other astral
characters take two units. The HTML parser follows the rules of TDLib's `parse_html` (which the Bot
API uses): only a fixed set of tags, `&lt; &gt; &amp; &quot;` and numeric character references are
decoded while any other `&` is kept literally, and every error message carries the byte offset.
A parse error here is what a bot that forgets to escape user text would get from Telegram.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]


class EntityParseError(Exception):
    """The text is not valid Telegram HTML; the message becomes "can't parse entities: ..."."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Tags TDLib accepts, and the entity type each one makes.
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Which keys of an entity object are meaningful for each type (the rest are dropped, as Telegram does).
_ENTITY_EXTRA = {
    "text_link": ("url",),
    "pre": ("language",),
    "custom_emoji": ("custom_emoji_id",),
    "text_mention": ("user",),
    "date_time": ("unix_time", "date_time_format"),
}

KNOWN_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output text
    children: list[Entity] = field(default_factory=list)


def _decode_reference(source: str, i: int) -> tuple[str, int] | None:
    """Decode an HTML character reference at `source[i] == "&"`: (character, consumed length)."""
    end = source.find(";", i + 1, i + 12)
    if end < 0:
        return None
    body = source[i + 1 : end]
    if body in _NAMED_REFERENCES:
        return _NAMED_REFERENCES[body], end - i + 1
    code: int | None = None
    if re.fullmatch(r"#[0-9]{1,7}", body):
        code = int(body[1:])
    elif re.fullmatch(r"#[xX][0-9a-fA-F]{1,6}", body):
        code = int(body[2:], 16)
    if code is None or code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end - i + 1


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Turn Telegram HTML into plain text and entities, or raise `EntityParseError`."""

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8"))

    out: list[str] = []
    position = 0  # UTF-16 units written so far
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_reference(source, i)
            if decoded is not None:
                out.append(decoded[0])
                position += utf16_len(decoded[0])
                i += decoded[1]
                continue
        if char != "<":
            out.append(char)
            position += utf16_len(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and source[i] == "/":
            j = i + 1
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            end_name = source[i + 1 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            if j >= n or source[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{tag.name}>", '
                    f'found "</{end_name}>"'
                )
            i = j + 1
            _close_tag(tag, position, entities)
            continue
        j = i
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        name = source[i:j].lower()
        if name not in _TAG_TYPES:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}')
        attrs, i = _parse_attributes(source, j, name, byte_offset(begin))
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
        stack.append(_OpenTag(name, attrs, position))
        if len(stack) > 1000:
            raise EntityParseError("Too many nested entities")
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return "".join(out), sort_entities(_drop_inside_code(entities))


def _parse_attributes(source: str, i: int, tag: str, tag_byte_offset: int) -> tuple[dict[str, str], int]:
    """Parse attributes from `i` to the closing `>` of a start tag; return them and the index after it."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_byte_offset}")
        if source[i] == ">":
            return attrs, i + 1
        start = i
        while i < n and not source[i].isspace() and source[i] not in "=>":
            i += 1
        attr_name = source[start:i].lower()
        if not attr_name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {tag_byte_offset}')
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_byte_offset}")
        if source[i] != "=":
            # A bare attribute such as <blockquote expandable>.
            attrs[attr_name] = ""
            continue
        i += 1
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_byte_offset}")
        if source[i] in "\"'":
            quote = source[i]
            end = source.find(quote, i + 1)
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {tag_byte_offset}")
            value = html.unescape(source[i + 1 : end])
            i = end + 1
        else:
            start = i
            while i < n and not source[i].isspace() and source[i] != ">":
                i += 1
            value = source[start:i]
        attrs[attr_name] = value


def _close_tag(tag: _OpenTag, position: int, entities: list[Entity]) -> None:
    length = position - tag.start
    if length <= 0:
        return
    kind = _TAG_TYPES[tag.name]
    entity: Entity = {"type": kind, "offset": tag.start, "length": length}
    if kind == "text_link":
        url = tag.attrs.get("href", "").strip()
        if not url:
            return
        entity["url"] = url
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif kind == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "pre":
        # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
        if entities and entities[-1]["type"] == "code" and entities[-1]["offset"] == tag.start:
            inner = entities.pop()
            if inner["length"] == length and inner.get("language"):
                entity["language"] = inner["language"]
            elif inner["length"] != length:
                entities.append(inner)
    elif kind == "code":
        css = tag.attrs.get("class", "")
        if css.startswith("language-") and len(css) > len("language-"):
            entity["language"] = css[len("language-") :]
    entities.append(entity)


def _drop_inside_code(entities: list[Entity]) -> list[Entity]:
    """Telegram shows code and pre verbatim, so entities nested in them are dropped."""
    verbatim = [e for e in entities if e["type"] in ("code", "pre")]
    kept: list[Entity] = []
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
        inside = any(
            other is not entity
            and other["offset"] <= entity["offset"]
            and entity["offset"] + entity["length"] <= other["offset"] + other["length"]
            for other in verbatim
        )
        if not inside:
            kept.append(entity)
    return kept


def sort_entities(entities: list[Entity]) -> list[Entity]:
    """Telegram's order: by offset, the longer (outer) entity first."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def normalize_entities(raw: Any, text: str) -> list[Entity]:
    """Validate entities given explicitly (`entities` / `caption_entities`) instead of a parse mode.

    Telegram drops entities that fall outside the text rather than failing, and keeps only the keys
    meaningful for each type.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise EntityParseError("entities must be an array")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            raise EntityParseError("entity must be an object")
        kind = item.get("type")
        offset = item.get("offset")
        length = item.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise EntityParseError("entity must have type, offset and length")
        if kind not in KNOWN_TYPES:
            raise EntityParseError(f'Unsupported entity type "{kind}"')
        if offset < 0 or length <= 0 or offset >= total:
            continue
        entity: Entity = {"type": kind, "offset": offset, "length": min(length, total - offset)}
        for key in _ENTITY_EXTRA.get(kind, ()):
            if key in item:
                entity[key] = item[key]
        if kind == "text_link" and not entity.get("url"):
            continue
        result.append(entity)
    return sort_entities(result)


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace as Telegram does, shifting and clipping entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


# Like TDLib: a command is not glued to a word, another slash or an angle bracket ("</b>" is no command).
_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")
_URL = re.compile(r"(?<!\w)https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def detect_entities(text: str) -> list[Entity]:
    """Entities Telegram's client-side parser adds to what a user types: commands, mentions, links."""
    found: list[Entity] = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION), ("url", _URL)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
    return sort_entities(found)


_RENDER_TAGS = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "spoiler": "tg-spoiler",
    "code": "code",
    "blockquote": "blockquote",
}


def _open_tag(entity: Entity) -> tuple[str, str] | None:
    kind = entity["type"]
    if kind in _RENDER_TAGS:
        tag = _RENDER_TAGS[kind]
        return f"<{tag}>", f"</{tag}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(str(entity.get("url", "")))}">', "</a>"
    if kind == "text_mention":
        user_id = (entity.get("user") or {}).get("id", "")
        return f'<a href="tg://user?id={user_id}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(str(entity.get("custom_emoji_id", "")))}">', "</tg-emoji>"
    return None


def render_html(text: str, entities: list[Entity]) -> str:
    """Render text + entities back to Telegram HTML (what a bot would send to get this message).

    Overlapping entities that do not nest are closed and reopened around each other.
    """
    units = text.encode("utf-16-le")
    total = len(units) // 2
    tagged = [(e, tags) for e in sort_entities(entities) if (tags := _open_tag(e)) is not None]
    boundaries = sorted({0, total} | {e["offset"] for e, _ in tagged} | {e["offset"] + e["length"] for e, _ in tagged})
    parts: list[str] = []
    open_stack: list[tuple[Entity, tuple[str, str]]] = []
    for index, position in enumerate(boundaries):
        # Close everything that ends here; reopen what was closed only to keep nesting valid.
        ending = [item for item in open_stack if item[0]["offset"] + item[0]["length"] <= position]
        if ending:
            depth = min(open_stack.index(item) for item in ending)
            reopen = [item for item in open_stack[depth:] if item not in ending]
            for item in reversed(open_stack[depth:]):
                parts.append(item[1][1])
            del open_stack[depth:]
            for item in reopen:
                parts.append(item[1][0])
                open_stack.append(item)
        starting = [item for item in tagged if item[0]["offset"] == position and item[0]["length"] > 0]
        starting.sort(key=lambda item: -item[0]["length"])
        for item in starting:
            parts.append(item[1][0])
            open_stack.append(item)
        if index + 1 < len(boundaries):
            chunk = units[position * 2 : boundaries[index + 1] * 2].decode("utf-16-le", errors="replace")
            parts.append(html.escape(chunk, quote=False))
    for item in reversed(open_stack):
        parts.append(item[1][1])
    return "".join(parts)
