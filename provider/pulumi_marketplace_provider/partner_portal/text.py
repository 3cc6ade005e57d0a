"""Small text helpers: portal HTML messages to plain text, liberal enum keys, timestamps."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

__all__ = ["enum_key", "html_to_text", "parse_timestamp"]

_BLOCK_TAGS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(value: str | None) -> str:
    """Render a portal `messageHtml` as readable plain text (tags dropped, entities decoded)."""
    if not value:
        return ""
    if "<" not in value and "&" not in value:
        return " ".join(value.split())
    parser = _TextExtractor()
    try:
        parser.feed(value)
        parser.close()
        raw = "".join(parser.parts)
    except Exception:  # malformed markup: fall back to a blunt strip
        raw = html.unescape(re.sub(r"<[^>]*>", " ", value))
    lines = (" ".join(line.split()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)


_KEY_DROP = re.compile(r"[\s_\-]+")


def enum_key(value: object) -> str:
    """Fold an enum spelling: case, spaces, `-` and `_` ignored (`Not Started` == `notStarted`)."""
    if not isinstance(value, str):
        return ""
    return _KEY_DROP.sub("", value).lower()


def parse_timestamp(value: object) -> datetime | None:
    """Parse the portal's ISO timestamps (7-digit fractions, `Z`); None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Trim fractions longer than microseconds (older Pythons refuse them).
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
