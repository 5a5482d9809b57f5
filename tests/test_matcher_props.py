"""Property tests: the index and every fast path against plain reference implementations.

The reference tokenizes with the full normalization (`_fold` and the token regex), looks for
each term by sliding over each field's tokens, evaluates each subscription's query tree on
its own, and merges per chat as documented: each matching query's labels, queries sorted,
repeats dropped. English and Chinese words, with the spellings that normalization must fold.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Alert, StoredArticle
from bot.matching import Document, QueryError, build_index, match, parse_query, snippet
from bot.matching import document as qd
from bot.matching import normalization as qn
from bot.matching import parser as qp
from bot.matching.compiler import compile_query, tree_of
from bot.matching.program import counted_labels, counts, matched_labels, proven_labels, proves
from bot.matching.query import AllOf, AnyOf, Node, Not, Term
from bot.matching.shapes import parse_stored

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

EN = ["nato", "summit", "climate", "change", "zurich", "covid", "19", "us", "ai", "said", "sanctions", "york"]
ZH = ["乌克兰", "局势", "局面", "中国", "网络", "北约", "峰会", "克兰"]
SPELLINGS = {
    "zurich": ["zurich", "Zürich", "ZURICH", "Zu\u0308rich"],
    "nato": ["nato", "NATO", "Nato", "ＮＡＴＯ", "NA\u200bTO"],
    "sanctions": ["sanctions", "Sanctions", "sanction", "sanctioned"],
    "us": ["us", "U.S.", "US"],
    "19": ["19", "１９"],
}
SEPARATORS = [" ", " ", " ", ", ", "-", "\n", "’s ", " — ", "", ". ", " 🚀 "]

word = st.sampled_from(EN)
zh = st.sampled_from(ZH)


@st.composite
def texts(draw: st.DrawFn, max_words: int = 14) -> str:
    """Text mixing English spellings, Chinese words and punctuation."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, max_words))):
        if draw(st.integers(0, 3)) == 0:
            parts.append(draw(zh))
        else:
            w = draw(word)
            parts.append(draw(st.sampled_from(SPELLINGS.get(w, [w, w.capitalize()]))))
        parts.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(parts)


@st.composite
def terms(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return f'"{draw(word)} {draw(word)}"'
    if kind == 1:
        return draw(zh)
    if kind == 2:
        return draw(st.sampled_from(["sanction*", "clim*", "zur*", "nat*"]))
    if kind == 3:
        return "title:" + draw(word)
    if kind == 4:
        return draw(
            st.sampled_from(
                [
                    "NATO",
                    "Zürich",
                    "covid-19",
                    "u.s.",
                    "5G网络",
                    "克兰局势",
                    "乌克*",
                    '"said us climate change"',
                ]
            )
        )
    return draw(word)


def expressions(depth: int = 2) -> st.SearchStrategy[str]:
    return st.recursive(
        terms(),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(" ".join),
            st.tuples(inner, inner).map(" OR ".join),
            inner.map(lambda x: f"({x})"),
            st.tuples(inner, inner).map(lambda ab: f"{ab[0]} -{ab[1]}"),
        ),
        max_leaves=5,
    )


queries = expressions()


# --- the reference -----------------------------------------------------------------------


def ref_fields(title: str, *body: str) -> tuple[list[str], list[list[str]]]:
    """Title tokens, and every field's tokens, by the full normalization and the token regex."""
    fields = [qn.TOKEN.findall(qn._fold(qd.clean_for_matching(f))) for f in (title, *body) if f]
    title_tokens = qn.TOKEN.findall(qn._fold(qd.clean_for_matching(title))) if title else []
    return title_tokens, fields


def occurs(term: Term, fields: list[list[str]]) -> bool:
    toks, n = list(term.tokens), len(term.tokens)
    for f in fields:
        for i in range(len(f) - n + 1):
            last = f[i + n - 1]
            if f[i : i + n - 1] == toks[:-1] and (
                last == toks[-1] or (term.prefix and last.startswith(toks[-1]))
            ):
                return True
    return False


def evaluate(node: Node, title: list[str], fields: list[list[str]]) -> tuple[bool, list[str]]:
    if isinstance(node, Term):
        hit = occurs(node, [title] if node.title else fields)
        return hit, [node.label] if hit else []
    if isinstance(node, Not):
        return not evaluate(node.child, title, fields)[0], []
    results = [evaluate(c, title, fields) for c in node.children]
    if isinstance(node, AllOf):
        ok = all(r[0] for r in results)
        return ok, [label for r in results for label in r[1]] if ok else []
    assert isinstance(node, AnyOf)
    return any(r[0] for r in results), [label for r in results if r[0] for label in r[1]]


def reference(subs: dict[int, tuple[int, str]], articles: list[StoredArticle]) -> list[Alert]:
    alerts = []
    for article in articles:
        title, fields = ref_fields(article.title, article.summary, article.content)
        per_chat: dict[int, list[tuple[str, ...]]] = {}
        ids: dict[int, list[int]] = {}
        for sub_id, (chat, text) in subs.items():
            hit, labels = evaluate(parse_query(text).root, title, fields)
            if hit:
                per_chat.setdefault(chat, []).append(tuple(dict.fromkeys(labels)))
                ids.setdefault(chat, []).append(sub_id)
        for chat in sorted(per_chat):
            merged = tuple(dict.fromkeys(x for labels in sorted(per_chat[chat]) for x in labels))
            alerts.append(Alert(chat, article.id, merged, tuple(sorted(ids[chat]))))
    return alerts


def valid(text: str) -> bool:
    try:
        parse_query(text)
    except QueryError:
        return False
    return True


sub_ids = st.one_of(st.integers(1, 40), st.integers(-5, -1), st.integers(10**9, 10**9 + 5))
rows = st.lists(st.tuples(sub_ids, st.integers(1, 5), queries), max_size=14)
articles = st.lists(st.tuples(texts(6), texts(), texts()), min_size=1, max_size=3).map(
    lambda ts: [StoredArticle(i + 1, 1, t, s, c) for i, (t, s, c) in enumerate(ts)]
)


# --- properties ----------------------------------------------------------------------------


@SETTINGS
@given(rows=rows, arts=articles)
def test_index_built_at_once_agrees_with_reference(
    rows: list[tuple[int, int, str]], arts: list[StoredArticle]
) -> None:
    subs = {}
    for sub_id, chat, text in rows:  # a later row with the same id replaces an earlier one
        if valid(text):
            subs[sub_id] = (chat, text)
    index = build_index(rows)
    assert len(index) == len(subs)
    assert sorted(match(arts, index)) == sorted(reference(subs, arts))


@SETTINGS
@given(
    first=rows,
    then=rows,
    gone=st.lists(sub_ids, max_size=8),
    chat_gone=st.none() | st.integers(1, 5),
    arts=articles,
)
def test_index_updated_in_place_agrees_with_reference(
    first: list[tuple[int, int, str]],
    then: list[tuple[int, int, str]],
    gone: list[int],
    chat_gone: int | None,
    arts: list[StoredArticle],
) -> None:
    index = build_index(first)
    subs = {}
    for sub_id, chat, text in first:
        if valid(text):
            subs[sub_id] = (chat, text)
    for sub_id, chat, text in then:
        try:
            index.add(sub_id, chat, text)
        except QueryError:
            continue
        subs[sub_id] = (chat, text)
    for sub_id in gone:
        index.remove(sub_id)
        subs.pop(sub_id, None)
    if chat_gone is not None:
        index.remove_chat(chat_gone)
        subs = {s: v for s, v in subs.items() if v[0] != chat_gone}
    assert len(index) == len(subs)
    assert sorted(match(arts, index)) == sorted(reference(subs, arts))
    for sub_id in list(subs):  # emptied, the index holds nothing at all
        index.remove(sub_id)
    assert len(index) == 0 and index.distinct_queries() == 0
    # Only the hints of where phrases start may stay.
    assert not any(t.words or t.pairs or t.triples or t.stems for t in (index._any, index._title))  # type: ignore[attr-defined]


@SETTINGS
@given(query=queries, title=texts(6), body=texts())
def test_query_matches_agrees_with_reference(query: str, title: str, body: str) -> None:
    if not valid(query):
        return
    parsed = parse_query(query)
    doc = Document.of(title, body)
    hit, labels = evaluate(parsed.root, *ref_fields(title, body))
    assert parsed.matches(doc) is hit
    assert parsed.matched_terms(doc) == (tuple(dict.fromkeys(labels)) if hit else ())


@SETTINGS
@given(query=queries, title=texts(6), body=texts())
def test_canonical_text_means_the_same(query: str, title: str, body: str) -> None:
    if not valid(query):
        return
    parsed = parse_query(query)
    again = parse_query(parsed.norm)
    assert again.norm == parsed.norm
    assert len(parsed.norm) <= qp.MAX_NORM_CHARS
    doc = Document.of(title, body)
    assert again.matches(doc) is parsed.matches(doc)


ONE_TERM_ITEMS = [
    "nato",
    "NATO",
    '"climate change"',
    '"Climate  change"',
    "乌克兰",
    "-x",
    "OR",
    "AND",
    "x:y",
    "nato*",
    '""',
]


@SETTINGS
@given(items=st.lists(st.sampled_from(ONE_TERM_ITEMS + EN), max_size=3), lead=st.sampled_from(["", "  "]))
def test_one_term_fast_path_is_the_general_parser(items: list[str], lead: str) -> None:
    text = lead + " ".join(items)
    if not text.strip():
        return  # refused before either parser runs

    def outcome(parse: object) -> object:
        try:
            result = parse(text)  # type: ignore[operator]
        except QueryError as exc:
            return (exc.code, exc.position)
        return (result.norm, result.terms, compile_query(result.root))

    assert outcome(parse_query) == outcome(qp._parse_general)


# Pieces of stored queries: terms that the shape of a text names by a placeholder, in several
# spellings, and pieces around which it must not (in a word, after a field, in a phrase).
SHAPE_ITEMS = [
    "Nato", "NATO", "nato", '"climate change"', '"Climate Change"', '"nato"', "title:nato",
    'title:"climate change"', "-nato", "-NATO", "OR", "AND", "NOT", "|", "(", ")", "x-nato",
    "a:nato", "foo:nato", '" nato "', '"nato summit us"', "nato*", "title:-nato", "title:(nato",
    "乌克兰", "-乌克兰", "(nato", "nato)", '"nato"summit', "--nato",
]  # fmt: skip


@SETTINGS
@given(
    query=st.one_of(
        queries,
        st.lists(st.sampled_from(SHAPE_ITEMS + EN), min_size=1, max_size=7).map(" ".join),
        st.lists(st.sampled_from(SHAPE_ITEMS + EN), min_size=1, max_size=7).map("".join),
    ),
    title=texts(6),
    body=texts(),
)
def test_parsing_by_shape_is_the_parser(query: str, title: str, body: str) -> None:
    """The bulk load's fast path: a text parsed by its shape is the text parsed."""

    def outcome(parse: object) -> object:
        try:
            result = parse(query)  # type: ignore[operator]
        except QueryError as exc:
            return (exc.code, exc.position)
        doc = Document.of(title, body)
        return (result.text, result.norm, result.terms, compile_query(result.root), result.matched_terms(doc))

    assert outcome(parse_stored) == outcome(parse_query)


@SETTINGS
@given(query=queries, title=texts(6), body=texts())
def test_compiled_program_is_the_tree(query: str, title: str, body: str) -> None:
    if not valid(query):
        return
    parsed = parse_query(query)
    prog = compile_query(parsed.root)
    assert compile_query(tree_of(prog)) == prog  # what removal re-reads to find the anchors
    doc = Document.of(title, body)
    assert matched_labels(prog, doc) == parsed.matched_terms(doc)


@SETTINGS
@given(query=queries, title=texts(6), body=texts())
def test_a_proven_query_is_decided_by_its_key(query: str, title: str, body: str) -> None:
    """The index's fast path: found under its key is matched, with the tree's labels."""
    if not valid(query):
        return
    parsed = parse_query(query)
    index = build_index([(1, 10, query)])
    doc = Document.of(title, body)
    found = index.candidates(doc)
    (group,) = {g for key in (index._any, index._title) for g in _filed(key)}  # type: ignore[attr-defined]
    if not proves(group.prog):
        return
    assert (group in found) is parsed.matches(doc)
    if group in found:
        assert proven_labels(group.prog) == parsed.matched_terms(doc)


# ORs of terms of one to three exact tokens, with repeats (title:x OR x), and other queries.
counted_ors = st.one_of(
    st.lists(st.one_of(word, zh, word.map("title:{}".format), terms()), min_size=2, max_size=4).map(
        " OR ".join
    ),
    queries,
)


@SETTINGS
@given(query=counted_ors, title=texts(6), body=texts())
def test_a_counted_or_is_decided_by_how_many_keys_were_found(query: str, title: str, body: str) -> None:
    """The index's fast path for an OR of proven terms: found k times, k of its terms occur."""
    if not valid(query):
        return
    parsed = parse_query(query)
    index = build_index([(1, 10, query)])
    doc = Document.of(title, body)
    (group,) = {g for key in (index._any, index._title) for g in _filed(key)}  # type: ignore[attr-defined]
    if not counts(group.prog):
        return
    found = index.candidates(doc).count(group)
    if not found:
        assert parsed.matched_terms(doc) == ()
    else:
        assert counted_labels(group.prog, found, doc) == parsed.matched_terms(doc)


def _filed(table: object) -> list[object]:
    out: list[object] = []
    for lookup in (table.words, table.pairs, table.triples, table.stems):  # type: ignore[attr-defined]
        for entry in lookup.values():
            out += (
                entry if isinstance(entry, list) else entry.values() if isinstance(entry, dict) else [entry]
            )
    return out


@SETTINGS
@given(
    rows=st.lists(st.tuples(st.integers(1, 5), queries), max_size=14),
    gaps=st.lists(st.one_of(st.integers(1, 3), st.integers(1, 5000)), max_size=14),
    arts=articles,
)
def test_index_loaded_in_bulk_agrees_with_reference(
    rows: list[tuple[int, str]], gaps: list[int], arts: list[StoredArticle]
) -> None:
    """Rows as the database gives them (ascending ids, some far apart) take the bulk load."""
    ids = itertools.accumulate(gaps + [1] * len(rows))
    loaded = [(sub_id, chat, text) for sub_id, (chat, text) in zip(ids, rows, strict=False) if valid(text)]
    subs = {sub_id: (chat, text) for sub_id, chat, text in loaded}
    index = build_index(loaded)
    assert len(index) == len(subs)
    assert sorted(match(arts, index)) == sorted(reference(subs, arts))
    one_by_one = build_index(loaded[::-1])  # descending ids: loaded row by row
    assert index.distinct_queries() == one_by_one.distinct_queries()

    def contents(ix: object) -> list[tuple[int, int, object]]:
        return sorted((s, c, g.prog) for s, (g, c) in ix._subscriptions())  # type: ignore[attr-defined]

    assert contents(index) == contents(one_by_one)
    for sub_id in subs:  # every subscription can be found and removed
        index.remove(sub_id)
    assert len(index) == 0 and index.distinct_queries() == 0


CHARS = (
    "abcXYZ019 -.,'’“”—…\u00a0éÉüß你好です한국\u200b🚀ⅎↀ\u0301िक़，。！℃①²ªµﬁ"
    "İガｶﾞ\u3099Å≠øŁ\u00ad\ufe0f\u202eǰ㈱ﾟ½‼（）？：～％乌克兰"
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=st.text(alphabet=CHARS, max_size=30))
def test_fast_tokenizing_is_the_full_normalization(text: str) -> None:
    assert qn.normalize(text) == qn._fold(text)  # stored as search text: it must not drift
    expected = qn.TOKEN.findall(qn._fold(text))
    assert qn.tokenize(qn.normalize(text)) == expected
    assert qn.words_of(text) == expected


def test_ascii_tokens_display_spaced() -> None:
    """display's shortcut: no ASCII character is of an unspaced script."""
    assert not any(qn.is_unspaced(chr(c)) for c in range(128))
    assert qn.display(["nato", "19", "summit"]) == "nato 19 summit"
    assert qn.display(["乌", "克", "nato", "兰"]) == "乌克 nato 兰"


@SETTINGS
@given(
    body=texts(20),
    needle=st.sampled_from(["nato", "zurich", "乌克兰", "climate change", "sanction*", "u.s."]),
)
def test_snippet_marks_what_matches(body: str, needle: str) -> None:
    pieces = snippet(body, [needle])
    found = parse_query(f'"{needle}"' if " " in needle else needle).matches(Document.of(body))
    if not found:
        assert pieces == [] or not any(hit for _, hit in pieces)
        return
    marked = [text for text, hit in pieces if hit]
    assert marked, (body, needle, pieces)
    term = qp.make_term(needle)
    assert term is not None
    for text in marked:  # each bold piece is the term itself, in the article's own characters
        assert text in body
        assert qn.words_of(text)[: len(term.tokens) - 1] == list(term.tokens[:-1])
    joined = "".join(text for text, _ in pieces).strip("…")
    assert joined.strip() in body
