"""What the fake records: messages it accepted, requests it received or refused, files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.bot_api.html import utf16_slice


@dataclass
class SentMessage:
    """A message the fake accepted (sendMessage/sendDocument), as the recipient sees it."""

    chat_id: int
    message_id: int
    text: str  # after HTML parsing and trimming; the caption for documents
    raw_text: str  # exactly as sent
    parse_mode: str | None
    entities: list[dict[str, Any]]  # formatting entities, offsets/lengths in UTF-16 units
    reply_markup: dict[str, Any] | None
    link_preview_options: dict[str, Any] | None
    disable_web_page_preview: bool | None
    date: int
    method: str = "sendMessage"
    filename: str | None = None  # sendDocument only
    file_bytes: bytes | None = None
    mime_type: str | None = None
    file_id: str | None = None
    edit_date: int | None = None

    @property
    def links(self) -> list[str]:
        """URLs of the text_link entities, in order."""
        return [e["url"] for e in self.entities if e["type"] == "text_link"]

    @property
    def bold(self) -> list[str]:
        """The substrings covered by bold entities, in order."""
        return [
            utf16_slice(self.text, e["offset"], e["length"]) for e in self.entities if e["type"] == "bold"
        ]


@dataclass
class Call:
    """One request as received (accepted or not); params are JSON-decoded where nested."""

    method: str
    params: dict[str, Any]
    time: float  # time.monotonic()


@dataclass
class Rejection:
    """A refused request and the error Telegram would have answered."""

    method: str
    status: int
    description: str
    params: dict[str, Any]
    parameters: dict[str, Any] | None = None


@dataclass
class _Upload:
    filename: str
    data: bytes
    mime_type: str
