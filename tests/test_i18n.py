"""Every reply string has a Chinese translation with the same {fields}."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.i18n import pick_language, translator

BOT = Path(__file__).resolve().parents[1] / "bot"


def source_strings() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(BOT), method_map=[("**.py", "python")], keywords={"tr": None, "N_": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_is_translated_with_the_same_fields() -> None:
    zh = translator("zh").catalog
    strings = source_strings()
    assert len(strings) > 50
    missing = sorted(s for s in strings if s not in zh)
    assert not missing, f"untranslated: {missing}"
    for source in strings:
        assert fields(zh[source]) == fields(source), source
    stale = sorted(set(zh) - strings)
    assert not stale, f"catalog entries no longer used: {stale}"


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        (None, "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("zh-hans", "zh"),
        ("zh_TW", "zh"),
        ("ZH", "zh"),
        ("fr", "en"),
    ],
    ids=["none", "en", "en-gb", "zh-hans", "zh-tw", "upper", "other"],
)
def test_language_codes_map_to_our_languages(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang


def test_translator_fills_fields_after_translating() -> None:
    assert translator("zh")("Subscriptions: {n}", n=3) == "订阅：3"
    assert translator("en")("Subscriptions: {n}", n=3) == "Subscriptions: 3"
