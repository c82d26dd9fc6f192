"""The words a person wrote in an email: HTML turned to text, quoted history removed.

Both are crude on purpose: an agent needs the consumer's new sentences, not a rendering.
Quotes and signatures are found by ``mail-parser-reply`` (maintained, many languages);
what it leaves, lines quoted with ``>``, goes here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from html.parser import HTMLParser

from mailparser_reply.parser import EmailMessage

MAX_TEXT = 400_000  # what the quote finder reads at most: its regexes are not linear
log = logging.getLogger(__name__)

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}
_BLOCK = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_SKIPPED = {"script", "style", "head", "title", "blockquote"}
# Where Gmail, Outlook and Apple Mail put the quoted history in their HTML.
_QUOTE_MARKERS = re.compile(r"gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix", re.I)


def strip_reply(text: str, languages: Sequence[str] = ("en", "fr")) -> str:
    """The newest part of a reply: no quoted history, signature or disclaimer."""
    text = text[:MAX_TEXT]
    try:
        # A consumer's "- 2 chairs" list is not a signature.
        read = EmailMessage(text=text, languages=list(languages), keep_hyphen_lists=True).read()
        newest = read.replies[0].body if read.replies else text
    except Exception:  # a third-party parser must never cost us the message
        log.warning("email: quote stripping failed, keeping the whole text", exc_info=True)
        newest = text
    # Inline answers between quoted lines stay; the quoted lines go.
    kept = [line for line in newest.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


def html_to_text(html: str) -> str:
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping: list[str] = []  # tags open inside a skipped element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            if tag not in _VOID:
                self._skipping.append(tag)
            return
        marker = " ".join(value or "" for name, value in attrs if name in {"class", "id"})
        if tag in _SKIPPED or _QUOTE_MARKERS.search(marker):
            if tag not in _VOID:
                self._skipping.append(tag)
            return
        if tag == "br" or tag in _BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def one_line(text: str) -> str:
    """A peer's words fit for one log line or one SMTP reply."""
    return " ".join(text.split())[:200]
