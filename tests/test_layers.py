"""The module map of DESIGN.md, pure modules stay pure, polling never speaks Telegram."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
PURE_PACKAGES = ("matching", "render")
PURE_LEAVES = {"text", "i18n", "domain", "opml", "urls"}
FORBIDDEN_IN_PURE = {"telegram", "aiohttp", "sqlalchemy", "feedparser", "bot.db", "bot.feeds", "bot.app"}
NO_TELEGRAM = {
    "poller",
    "feeds",
    "db",
    "search",
    "catalog",
    "urls",
    "lock",
    "config",
    "logs",
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@cache
def modules() -> dict[str, set[str]]:
    found = {}
    for path in BOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(BOT).with_suffix("").parts)
        found[name] = imports_of(path)
    return found


def uses(imports: set[str], package: str) -> bool:
    return any(i == package or i.startswith(package + ".") for i in imports)


def pure_modules() -> list[str]:
    found = modules()
    return sorted(m for m in found if m in PURE_LEAVES or m.split(".")[0] in PURE_PACKAGES)


@pytest.mark.parametrize("module", pure_modules())
def test_pure_modules_do_no_io(module: str) -> None:
    imports = modules()[module]
    assert not [p for p in FORBIDDEN_IN_PURE if uses(imports, p)]


@pytest.mark.parametrize("module", sorted(NO_TELEGRAM), ids=sorted(NO_TELEGRAM))
def test_polling_and_storage_never_speak_telegram(module: str) -> None:
    found = modules()
    inside = [m for m in found if m == module or m.startswith(module + ".")]
    assert inside
    assert not [m for m in inside if uses(found[m], "telegram")]


def test_only_feeds_reads_feeds_and_nothing_imports_the_app() -> None:
    found = modules()
    assert [m for m, imps in found.items() if uses(imps, "feedparser")] == ["feeds.parser"]
    assert not [m for m, imps in found.items() if uses(imps, "bot.app") and m != "__main__"]
    handlers = {m: imps for m, imps in found.items() if m.startswith("handlers")}
    assert not [m for m, imps in handlers.items() if uses(imps, "aiohttp") or uses(imps, "bot.feeds")]
