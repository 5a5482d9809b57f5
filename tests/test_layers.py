"""The module map of DESIGN.md, checked transitively: imports point toward the leaves, pure
modules stay pure, polling and storage never speak Telegram, and every module has a place."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# Each module's layer; a module imports only modules of a lower layer (or its own package).
# A module missing here fails the test: a new module needs a place on the map.
LAYERS: dict[str, int] = {
    # leaves
    "__init__": 0,
    "domain": 0,
    "i18n": 0,
    "text": 0,
    "urls": 1,
    "config": 2,
    "logs": 2,
    "opml": 2,
    # the parts: feeds, matching, rendering, then storage (it stores the matcher's normal form)
    "feeds": 3,
    "matching": 3,
    "render": 3,
    "buttons": 3,
    "db": 4,
    # the use cases
    "subscriptions": 5,
    "search": 5,
    "catalog": 5,
    "lock": 5,
    "poller": 6,
    "delivery": 6,
    # the chat adapters and the composition root
    "services": 7,
    "handlers": 8,
    "app": 9,
    "__main__": 10,
}
PURE = ("domain", "i18n", "text", "urls", "opml", "matching", "render")
IMPURE = {"telegram", "aiohttp", "sqlalchemy", "feedparser", "asyncpg", "aiosqlite", "httpx"}
NO_TELEGRAM = ("feeds", "db", "matching", "subscriptions", "search", "catalog", "lock", "poller", "config")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@cache
def modules() -> dict[str, set[str]]:
    """Every module of bot/ (but migrations) by dotted name, with what it imports."""
    found = {}
    for path in BOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(BOT).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = imports_of(path)
    return found


def ours(imports: set[str]) -> set[str]:
    """The modules of ours these imports name (`from bot import db` names bot.db)."""
    known = modules()
    out = set()
    for name in imports:
        if name.startswith("bot."):
            rel = name[4:]
            while rel and rel not in known:
                rel = rel.rpartition(".")[0]
            if rel:
                out.add(rel)
    return out


@cache
def reach(module: str, skip: tuple[str, ...] = ()) -> frozenset[str]:
    """Modules of ours that importing this one imports, itself and its packages included
    (not going through the packages in `skip`)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen or (m != module and m.split(".")[0] in skip):
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules()]
        todo += ours(modules()[m])
    return frozenset(seen)


def third_party(module: str) -> set[str]:
    """Top-level packages not of ours that this module imports, directly or through ours."""
    return {i.split(".")[0] for m in reach(module) for i in modules()[m] if not i.startswith("bot")}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def unplaced(names: list[str]) -> list[str]:
    """Modules with no layer on the map."""
    return [m for m in names if m.split(".")[0] not in LAYERS]


def test_every_module_has_a_place_on_the_map() -> None:
    assert not unplaced(list(modules()))


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_point_toward_the_leaves(module: str) -> None:
    top = module.split(".")[0]
    upward = [m for m in ours(modules()[module]) if m.split(".")[0] != top and layer(m) >= layer(module)]
    assert not upward


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.split(".")[0] in PURE))
def test_pure_modules_do_no_io_even_through_others(module: str) -> None:
    assert not third_party(module) & IMPURE
    assert not [m for m in reach(module) if m.split(".")[0] not in PURE]


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.split(".")[0] in NO_TELEGRAM))
def test_polling_and_storage_never_speak_telegram(module: str) -> None:
    assert "telegram" not in third_party(module)


def test_only_feeds_reads_feeds_and_nothing_imports_the_app() -> None:
    found = modules()
    assert [m for m, imps in found.items() if any(i.startswith("feedparser") for i in imps)] == [
        "feeds.parser"
    ]
    assert not [m for m in found if "app" in ours(found[m]) and m != "__main__"]


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("handlers")))
def test_handlers_never_touch_http_feeds_or_the_index(module: str) -> None:
    """Only through the services they are handed (the poller behind /addfeed) do they reach a feed."""
    reached = reach(module, skip=("services",))
    assert not {"aiohttp", "feedparser"} & {i.split(".")[0] for m in reached for i in modules()[m]}
    assert not [m for m in reached if m.startswith(("feeds", "poller"))]
    index = (
        "bot.matching.index",
        "bot.matching.bulk",
        "bot.matching.SubscriptionIndex",
        "bot.matching.match",
    )
    assert not [i for i in modules()[module] if i.startswith(index) or i == "bot.matching.build_index"]


def test_a_module_we_do_not_know_fails() -> None:
    """The map test really looks: a module with no place on the map is reported."""
    assert unplaced([*modules(), "bogus.thing"]) == ["bogus.thing"]
