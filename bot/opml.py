"""OPML import and export of the feed list. Pure: bytes in, bytes out, no I/O.

Reading uses expat directly with every entity declaration refused, so a billion-laughs or
external-entity document fails at its DOCTYPE, before anything is expanded or fetched.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat

from bot.domain import ParseError
from bot.urls import without_credentials

__all__ = ["MAX_OPML_BYTES", "MAX_OPML_FEEDS", "OpmlFeed", "build_opml", "parse_opml"]

MAX_OPML_BYTES = 2 * 1024 * 1024
MAX_OPML_FEEDS = 5000
MAX_TITLE = 300
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed listed in an OPML file: its xmlUrl as written (stripped) and its title."""

    url: str
    title: str


class _Refused(Exception):
    """Raised inside expat callbacks; turned into ParseError outside."""


class _Reader:
    """Collects outline elements with an xmlUrl, at any depth, from one expat pass."""

    def __init__(self) -> None:
        self.feeds: list[OpmlFeed] = []
        self.root: str | None = None
        self._seen: set[str] = set()

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = name
            if name.lower() != "opml":
                raise _Refused("not an OPML file")
            return
        if name.lower() != "outline":
            return
        fields = {k.lower(): v for k, v in attrs.items()}
        url = " ".join(fields.get("xmlurl", "").split())
        if not url or url in self._seen:
            return
        if len(self.feeds) >= MAX_OPML_FEEDS:
            raise _Refused(f"more than {MAX_OPML_FEEDS} feeds")
        self._seen.add(url)
        title = " ".join((fields.get("title") or fields.get("text") or "").split())
        self.feeds.append(OpmlFeed(url=url, title=title[:MAX_TITLE]))


def _forbid(*_args: object) -> NoReturn:
    raise _Refused("entities are not allowed")


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Feeds listed in an OPML document, nested outlines flattened, repeated URLs once;
    ParseError for anything that is not a safe, well-formed OPML file."""
    if len(data) > MAX_OPML_BYTES:
        raise ParseError("OPML file too large")
    reader = _Reader()
    parser = expat.ParserCreate()
    parser.StartElementHandler = reader.start
    # Refusing the declarations refuses their expansion: no billion laughs, no external files.
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise ParseError(f"invalid OPML: {exc}") from None
    except (expat.ExpatError, ValueError, LookupError):
        raise ParseError("invalid OPML: not well-formed XML") from None
    if reader.root is None:
        raise ParseError("invalid OPML: not an OPML file")
    return reader.feeds


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def build_opml(
    feeds: Iterable[tuple[str, str]], title: str = "newsbot feeds", *, keep_credentials: bool = False
) -> bytes:
    """An OPML 2.0 document listing (url, title) pairs; user:password@ is left out unless asked."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    body = ET.SubElement(root, "body")
    for url, name in feeds:
        shown = _xml_text(url if keep_credentials else without_credentials(url))
        text = _xml_text(name) or shown
        ET.SubElement(body, "outline", type="rss", text=text, title=text, xmlUrl=shown)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
