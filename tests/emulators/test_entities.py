"""Telegram HTML parsing and rendering (UTF-16 offsets, TDLib's error messages)."""

from __future__ import annotations

import pytest

from emulators.telegram.entities import (
    EntityParseError,
    detect_entities,
    parse_html,
    render_html,
    strip_text,
)


def test_parse_nested_tags_and_references() -> None:
    text, entities = parse_html("<b>a<i>b</i></b>&amp;&#x1F600;&nbsp;<tg-spoiler>s</tg-spoiler>")
    assert text == "ab&😀&nbsp;s"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "italic", "offset": 1, "length": 1},
        {"type": "spoiler", "offset": 11, "length": 1},
    ]


def test_blockquote_link_and_pre() -> None:
    text, entities = parse_html(
        '<blockquote expandable>q</blockquote><a href="https://x.org/?a=1&amp;b=2">l</a>'
        '<pre><code class="language-sql">select</code></pre><code>c</code>'
    )
    assert text == "qlselectc"
    assert entities == [
        {"type": "expandable_blockquote", "offset": 0, "length": 1},
        {"type": "text_link", "offset": 1, "length": 1, "url": "https://x.org/?a=1&b=2"},
        {"type": "pre", "offset": 2, "length": 6, "language": "sql"},
        {"type": "code", "offset": 8, "length": 1},
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("я<u>x</b>", 'Unmatched end tag at byte offset 6, expected "</u>", found "</b>"'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_parse_errors(source: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == message


def test_round_trip_render() -> None:
    source = '<b>Bold <i>both</i></b> <a href="https://e.org">link</a> 1 &lt; 2 <pre>code</pre>'
    text, entities = parse_html(source)
    assert render_html(text, entities) == source


def test_render_overlapping_entities() -> None:
    entities = [{"type": "bold", "offset": 0, "length": 3}, {"type": "italic", "offset": 1, "length": 3}]
    assert render_html("abcd", entities) == "<b>a<i>bc</i></b><i>d</i>"


def test_strip_shifts_entities() -> None:
    text, entities = strip_text("\n  hi  \n", [{"type": "bold", "offset": 0, "length": 5}])
    assert text == "hi"
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_detects_commands_mentions_urls_in_utf16() -> None:
    found = detect_entities("😀 /start@my_bot go @doctor_who https://e.org/x.")
    assert found == [
        {"type": "bot_command", "offset": 3, "length": 13},
        {"type": "mention", "offset": 20, "length": 11},
        {"type": "url", "offset": 32, "length": 15},
    ]
