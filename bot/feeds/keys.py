"""Entry keys: a stable identity within a feed for each parsed entry."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace

from bot.domain import EntryDraft

# (GUID, raw title + summary, link for the key, draft without its key): raw_text is the identity
# of last resort, taken before our cleaning so that changes to the cleaning never change keys;
# the key's link is the one keys were first computed from, even where a better link is shown.
Item = tuple[str, str, str | None, EntryDraft]


def with_keys(items: list[Item | None]) -> list[EntryDraft]:
    """Keys = sha256 of the GUID, else the link, else title + summary; repeats disambiguated (miniflux)."""
    rows = [item for item in items if item is not None]
    guids = Counter(guid for guid, _, _, _ in rows if guid)
    links = Counter(link for guid, _, link, _ in rows if not guid and link)
    idents = []
    for i, (guid, raw, link, _) in enumerate(rows):
        if guid:
            idents.append(guid if guids[guid] == 1 else f"{guid}|{link or i}")
        elif link:
            idents.append(link if links[link] == 1 else f"{link}|{raw}")
        else:
            idents.append(raw)
    counts = Counter(idents)
    for i, (guid, raw, link, _) in enumerate(rows):
        if counts[idents[i]] > 1:  # same GUID and link, or identical items: position decides
            idents[i] = f"{guid or link or raw}|{i}"
    counts = Counter(idents)
    idents = [x if counts[x] == 1 else f"{x}|#{i}" for i, x in enumerate(idents)]
    return [
        replace(d, key=hashlib.sha256(x.encode("utf-8", "surrogatepass")).hexdigest())
        for x, (_, _, _, d) in zip(idents, rows, strict=True)
    ]
