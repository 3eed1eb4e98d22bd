"""Message text the way Telegram stores it: plain text plus entities.

A bot that sends ``parse_mode=HTML`` or ``MarkdownV2`` gets its markup parsed here, with the same
"can't parse entities" refusals Telegram gives, so a formatting mistake fails in tests instead of
in front of an applicant. Offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from bot.devserver.errors import ApiError, bad_request

Entity = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024

_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_HTML_SIMPLE = {
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
    "code": "code",
    "pre": "pre",
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _cant_parse(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _sorted(entities: list[Entity]) -> list[Entity]:
    kept = [e for e in entities if e["length"] > 0]
    return sorted(kept, key=lambda e: (e["offset"], -e["length"]))


@dataclass
class _Out:
    parts: list[str] = field(default_factory=list)
    pos: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def parse_text(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[Entity]]:
    """Plain text and entities for a message; explicit entities win over a parse mode."""
    if entities is not None:
        return text, _explicit_entities(text, entities)
    mode = (parse_mode or "").strip().lower()
    if mode == "":
        return text, []
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise bad_request("unsupported parse_mode")


def command_entities(text: str) -> list[Entity]:
    """Telegram marks every ``/command`` a user types; PTB's CommandHandler relies on it."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in _COMMAND.finditer(text)
    ]


def _explicit_entities(text: str, entities: Any) -> list[Entity]:
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    size = utf16_len(text)
    out: list[Entity] = []
    for item in entities:
        if not isinstance(item, dict):
            raise bad_request("can't parse MessageEntity: object expected")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise bad_request("can't parse MessageEntity: type, offset and length are required")
        if offset < 0 or length < 0 or offset + length > size:
            continue
        out.append(dict(item))
    return _sorted(out)


class _HtmlError(Exception):
    pass


class _Html(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out = _Out()
        self.entities: list[Entity] = []
        self.stack: list[tuple[str, int, Entity | None]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def _offset(self) -> int:
        line, col = self.getpos()
        return _byte_offset(self.source, self._line_starts[line - 1] + col)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        proto: Entity | None
        if tag in _HTML_SIMPLE:
            proto = {"type": _HTML_SIMPLE[tag]}
        elif tag == "span" and attr.get("class") == "tg-spoiler":
            proto = {"type": "spoiler"}
        elif tag == "a" and attr.get("href"):
            proto = {"type": "text_link", "url": attr["href"]}
        elif tag == "blockquote":
            expandable = "expandable" in attr
            proto = {"type": "expandable_blockquote" if expandable else "blockquote"}
        elif tag == "tg-emoji" and attr.get("emoji-id"):
            proto = {"type": "custom_emoji", "custom_emoji_id": attr["emoji-id"]}
        else:
            raise _HtmlError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        if tag == "code" and self.stack and self.stack[-1][0] == "pre":
            language = (attr.get("class") or "").removeprefix("language-")
            pre = self.stack[-1][2]
            if pre is not None and language:
                pre["language"] = language
            proto = None
        self.stack.append((tag, self.out.pos, proto))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise _HtmlError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise _HtmlError(f"Unexpected end tag at byte offset {self._offset()}")
        open_tag, start, proto = self.stack.pop()
        if open_tag != tag:
            raise _HtmlError(
                f'Unmatched end tag at byte offset {self._offset()}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        if proto is not None:
            self.entities.append({**proto, "offset": start, "length": self.out.pos - start})

    def handle_data(self, data: str) -> None:
        self.out.add(data)


def _parse_html(text: str) -> tuple[str, list[Entity]]:
    parser = _Html(text)
    try:
        parser.feed(text)
        parser.close()
    except _HtmlError as exc:
        raise _cant_parse(str(exc)) from None
    if parser.stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"')
    return parser.out.text(), _sorted(parser.entities)


class _Markdown:
    """Shared scanning state for both Markdown flavours."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.i = 0
        self.out = _Out()
        self.entities: list[Entity] = []
        self.open: list[tuple[str, int, int]] = []  # kind, utf-16 start, byte offset of marker

    def unclosed(self, byte_offset: int) -> ApiError:
        return _cant_parse(f"Can't find end of the entity starting at byte offset {byte_offset}")

    def toggle(self, kind: str, width: int) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == kind:
                _, start, _ = self.open.pop(index)
                self.entities.append(
                    {"type": kind, "offset": start, "length": self.out.pos - start}
                )
                break
        else:
            self.open.append((kind, self.out.pos, _byte_offset(self.src, self.i)))
        self.i += width

    def code(self, escapable: str) -> None:
        """Inline code or a pre block; only the closing backticks end it."""
        src, start_index = self.src, self.i
        fence = "```" if src.startswith("```", self.i) else "`"
        self.i += len(fence)
        language = ""
        if fence == "```":
            newline = src.find("\n", self.i)
            first_line = src[self.i : newline] if newline >= 0 else ""
            if newline >= 0 and first_line and " " not in first_line and "`" not in first_line:
                language = first_line
                self.i = newline + 1
        start = self.out.pos
        while True:
            if self.i >= len(src):
                raise self.unclosed(_byte_offset(src, start_index))
            if src.startswith(fence, self.i):
                self.i += len(fence)
                break
            char = src[self.i]
            if char == "\\" and self.i + 1 < len(src) and src[self.i + 1] in escapable:
                self.out.add(src[self.i + 1])
                self.i += 2
                continue
            self.out.add(char)
            self.i += 1
        entity: Entity = {
            "type": "pre" if fence == "```" else "code",
            "offset": start,
            "length": self.out.pos - start,
        }
        if language:
            entity["language"] = language
        self.entities.append(entity)

    def link_url(self, escapable: str) -> str:
        """Reads ``(url)`` right after a link's closing bracket."""
        src = self.src
        if not src.startswith("(", self.i):
            raise _cant_parse(f"Can't find end of a url at byte offset {_byte_offset(src, self.i)}")
        self.i += 1
        url: list[str] = []
        while self.i < len(src) and src[self.i] != ")":
            if src[self.i] == "\\" and self.i + 1 < len(src) and src[self.i + 1] in escapable:
                self.i += 1
            url.append(src[self.i])
            self.i += 1
        if self.i >= len(src):
            raise _cant_parse(f"Can't find end of a url at byte offset {_byte_offset(src, self.i)}")
        self.i += 1
        return "".join(url)

    def close_link(self, escapable: str) -> None:
        index = max(i for i, item in enumerate(self.open) if item[0] == "link")
        _, start, _ = self.open.pop(index)
        self.i += 1
        url = self.link_url(escapable)
        self.entities.append(
            {"type": "text_link", "offset": start, "length": self.out.pos - start, "url": url}
        )

    def finish(self) -> tuple[str, list[Entity]]:
        if self.open:
            raise self.unclosed(self.open[0][2])
        return self.out.text(), _sorted(self.entities)


def _parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    md = _Markdown(text)
    quote: tuple[int, int] | None = None  # utf-16 start, byte offset
    line_start = True
    while md.i < len(text):
        char = text[md.i]
        if line_start:
            line_start = False
            if char == ">":
                if quote is None:
                    quote = (md.out.pos, _byte_offset(text, md.i))
                md.i += 1
                continue
            if quote is not None:
                end = md.out.pos - 1  # the newline that ended the quote is not part of it
                md.entities.append(
                    {"type": "blockquote", "offset": quote[0], "length": end - quote[0]}
                )
                quote = None
        if char == "\\":
            if md.i + 1 < len(text) and 1 <= ord(text[md.i + 1]) <= 126:
                md.out.add(text[md.i + 1])
                md.i += 2
                continue
            raise _reserved(char)
        if char == "`":
            md.code("`\\")
        elif char == "[":
            md.open.append(("link", md.out.pos, _byte_offset(text, md.i)))
            md.i += 1
        elif char == "]" and any(kind == "link" for kind, _, _ in md.open):
            md.close_link(")\\")
        elif char == "*":
            md.toggle("bold", 1)
        elif char == "~":
            md.toggle("strikethrough", 1)
        elif char == "_":
            if text.startswith("__", md.i):
                md.toggle("underline", 2)
            else:
                md.toggle("italic", 1)
        elif char == "|" and text.startswith("||", md.i):
            md.toggle("spoiler", 2)
        elif char in _V2_RESERVED:
            raise _reserved(char)
        else:
            md.out.add(char)
            md.i += 1
            line_start = char == "\n"
    if quote is not None:
        md.entities.append(
            {"type": "blockquote", "offset": quote[0], "length": md.out.pos - quote[0]}
        )
    return md.finish()


def _reserved(char: str) -> ApiError:
    return _cant_parse(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: no nesting, and only ``_ * ` [`` are special."""
    md = _Markdown(text)
    kinds = {"*": "bold", "_": "italic"}
    while md.i < len(text):
        char = text[md.i]
        inside = md.open[-1][0] if md.open else None
        if char == "\\" and md.i + 1 < len(text) and text[md.i + 1] in "_*`[":
            md.out.add(text[md.i + 1])
            md.i += 2
        elif char == "`" and inside is None:
            md.code("")
        elif char in kinds and inside in (None, kinds[char]):
            md.toggle(kinds[char], 1)
        elif char == "[" and inside is None:
            md.open.append(("link", md.out.pos, _byte_offset(text, md.i)))
            md.i += 1
        elif char == "]" and inside == "link":
            md.close_link("")
        else:
            md.out.add(char)
            md.i += 1
    return md.finish()


def check_length(text: str, *, limit: int = MAX_TEXT, empty: str = "message text is empty") -> None:
    if not text.strip():
        raise bad_request(empty)
    if len(text) > limit:
        raise bad_request("message is too long")
