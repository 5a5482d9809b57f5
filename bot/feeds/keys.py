"""Entry keys: a stable identity within a feed for each parsed entry, never its position.

An entry's key is sha256 of its GUID, else of its link, else of its title and summary. When
several entries of one fetch share a GUID, only one may keep the plain GUID key: the first one
here, and in the store the one already stored under it (`db.insert_new_articles` settles that).
The others are told apart by their own content: the link, then the title and summary. An entry
that repeats another in every respect is the same entry and is kept once.
"""

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
    """Keys = sha256 of the GUID, else the link, else title + summary; repeats told apart by content."""
    rows = [item for item in items if item is not None]
    guids = Counter(guid for guid, _, _, _ in rows if guid)
    # Within a shared GUID (or, without one, a shared link), the link tells entries apart unless
    # they share that too; then their text does.
    pairs = Counter((guid, link) for guid, _, link, _ in rows if guids[guid] > 1 or not guid)
    drafts: list[EntryDraft] = []
    seen: set[str] = set()
    for guid, raw, link, draft in rows:
        if guid and guids[guid] == 1:
            ident, guid_key = guid, None
        elif guid:
            own = f"{guid}|{link}" if link and pairs[guid, link] == 1 else f"{guid}|{link or ''}|{raw}"
            ident, guid_key = own, _sha(guid)
        elif link:
            ident, guid_key = (link if pairs["", link] == 1 else f"{link}|{raw}"), None
        else:
            ident, guid_key = raw, None
        key = _sha(ident)
        if key in seen:
            continue  # the same entry listed twice
        seen.add(key)
        if guid_key is None:
            drafts.append(replace(draft, key=key))
        elif guid_key in seen:
            drafts.append(replace(draft, key=key, guid_key=guid_key, content_key=key))
        else:  # the first entry with this GUID holds the plain key until the store says otherwise
            seen.add(guid_key)
            drafts.append(replace(draft, key=guid_key, guid_key=guid_key, content_key=key))
    return drafts


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
