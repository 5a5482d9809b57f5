"""Reply languages: English source strings, translated from gettext catalogs read with Babel."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from babel.messages.pofile import read_po

LANGUAGES = ("en", "zh")
DEFAULT = "en"


def pick_language(code: str | None) -> str:
    """Our language for a Telegram language_code ('zh-hans', 'zh-TW', 'en-GB', ...)."""
    if not code:
        return DEFAULT
    base = code.lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else DEFAULT


class Translator:
    """Looks a source string up in one catalog, then fills in its {named} fields."""

    def __init__(self, lang: str, catalog: dict[str, str]) -> None:
        self.lang = lang
        self.catalog = catalog

    def __call__(self, message: str, /, **params: Any) -> str:
        text = self.catalog.get(message) or message
        return text.format(**params) if params else text


@cache
def translator(lang: str) -> Translator:
    """The translator for one of LANGUAGES (English for anything else)."""
    if lang not in LANGUAGES or lang == DEFAULT:
        return Translator(DEFAULT, {})
    path = files("bot") / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    messages = {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    return Translator(lang, messages)
