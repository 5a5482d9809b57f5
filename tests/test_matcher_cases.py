"""The tricky cases of matching, one row each: what a query finds in a text, and what it must not."""

from __future__ import annotations

import pytest

from bot.domain import StoredArticle
from bot.matching import Document, QueryError, build_index, match, parse_query

CASES = [
    # id, query, text, matches
    ("word", "nato", "NATO allies meet", True),
    ("possessive", "nato", "NATO's new chief", True),
    ("possessive-curly", "nato", "NATO’s new chief", True),
    ("possessive-query", "nato's", "NATO’s chief", True),
    ("longer-word", "nato", "NATOPOLIS opens", False),
    ("inside-word", "ai", "he said so", False),
    ("short-word", "ai", "AI rules agreed", True),
    ("plural-not-matched", "sanction", "new sanctions on Iran", False),
    ("plural-by-prefix", "sanction*", "new sanctions on Iran", True),
    ("prefix-exact-word", "sanction*", "a sanction on Iran", True),
    ("prefix-not-inside", "sanction*", "unsanctioned trade", False),
    ("accent-in-text", "zurich", "Talks in Zürich", True),
    ("accent-in-query", "zürich", "Talks in Zurich", True),
    ("accent-phrase", "sao paulo", "Rain in São Paulo", True),
    ("accent-decomposed", "cafe", "Cafe\u0301 culture", True),
    ("cedilla", "francais", "le peuple français", True),
    ("eszett", "strasse", "Die Straße ist gesperrt", True),
    ("stroke-letter", "lodz", "Floods in Łódź", True),
    ("o-slash", "oresund", "Øresund bridge", True),
    ("dotted-capital-i", "istanbul", "İSTANBUL talks", True),
    ("hyphen-in-text", "covid 19", "the COVID-19 wave", True),
    ("hyphen-in-query", "covid-19", "the covid 19 wave", True),
    ("hyphen-glued", "covid19", "the COVID-19 wave", True),
    ("hyphen-compound", "e-mail", "send an email", False),
    ("dotted-acronym", "u.s.", "The U.S. Senate", True),
    ("dotted-acronym-spaced", "u.s.", "the u s open", True),
    ("dotted-acronym-not-word", "u.s.", "tell us more", False),
    ("digits-apart", "iphone 16", "Apple's iPhone16 launch", True),
    ("digits-glued-query", "iphone16", "the iPhone 16 Pro", True),
    ("digits-whole", "16", "a 160 GB disk", False),
    ("cjk-substring", "乌克兰", "乌克兰局势紧张", True),
    ("cjk-miss", "乌克兰", "俄罗斯新闻", False),
    ("cjk-star-is-substring", "乌克*", "乌克兰局势", True),
    ("cjk-long-term", "乌克兰局势", "乌克兰局面", False),
    ("long-phrase", '"bank of new york"', "the Bank of New York Mellon", True),
    ("long-phrase-miss", '"bank of new york"', "the bank of new jersey", False),
    ("cjk-inside-latin", "乌克兰", "Breaking: 乌克兰 talks resume", True),
    ("latin-inside-cjk", "nato", "北约NATO峰会召开", True),
    ("latin-inside-cjk-whole", "nat", "北约NATO峰会召开", False),
    ("mixed-term", "5G网络", "中国5G网络建设", True),
    ("mixed-term-spaced", "5G网络", "中国 5G 网络 建设", True),
    ("mixed-term-whole-latin", "G网络", "中国5G网络建设", True),
    ("mixed-term-partial-latin", "g网络", "big网络", False),
    ("fullwidth-query", "ｎａｔｏ", "nato", True),
    ("fullwidth-text", "nato", "ＮＡＴＯ summit", True),
    ("fullwidth-digits", "2024", "２０２４年", True),
    ("halfwidth-kana", "カタカナ", "ｶﾀｶﾅ", True),
    ("kana-dakuten", "ガス", "ガス料金", True),
    ("kana-dakuten-differs", "ガス", "カス料金", False),
    ("hangul-particle", "서울", "서울에서 회담", True),
    ("thai-substring", "กรุงเทพ", "ข่าวกรุงเทพมหานคร", True),
    ("emoji-between-words", "climate change", "climate🔥change", True),
    ("emoji-in-query", "nato 🚀", "NATO summit", True),
    ("zero-width-space", "nato", "N\u200bATO", True),
    ("zero-width-joiner", "nato", "NA\u200dTO", True),
    ("soft-hyphen", "nato", "NA\u00adTO", True),
    ("rtl-mark", "nato", "\u200fNATO\u200f summit", True),
    ("rtl-override", "nato", "\u202eNATO\u202c summit", True),
    ("bom", "nato", "\ufeffNATO", True),
    ("ligature", "fish", "ﬁsh market", True),
    ("nbsp-phrase", '"climate change"', "climate\u00a0change", True),
    ("phrase-newline", '"climate change"', "climate\nchange", True),
    ("phrase-punctuation", '"climate change"', "climate, change", True),
    ("phrase-order", '"climate change"', "change the climate", False),
    ("phrase-gap", '"climate change"', "climate policy change", False),
    ("smart-quotes", "“climate change”", "climate change", True),
    ("cjk-quotes", "「气候 变化」", "气候变化", True),
    ("and-all", "nato ukraine", "Ukraine and NATO", True),
    ("and-missing", "nato ukraine", "NATO only", False),
    ("and-keyword", "nato AND ukraine", "Ukraine and NATO", True),
    ("or", "nato OR otan", "OTAN se reúne", True),
    ("or-pipe", "nato | otan", "OTAN se reúne", True),
    ("or-lowercase-is-a-word", "nato or otan", "OTAN se reúne", False),
    ("exclude", "nato -summit", "NATO summit", False),
    ("exclude-absent", "nato -summit", "NATO meeting", True),
    ("exclude-phrase", 'nato -"world cup"', "NATO and the World Cup", False),
    ("not-keyword", "nato NOT summit", "NATO summit", False),
    ("group", "(tesla OR spacex) musk", "Musk's SpaceX launch", True),
    ("group-miss", "(tesla OR spacex) musk", "Tesla sales fall", False),
    ("negated-group", "nato -(summit OR meeting)", "NATO meeting", False),
    ("title-only", "title:apple", "Apple earnings", True),
]


@pytest.mark.parametrize(("query", "text", "hit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case(query: str, text: str, hit: bool) -> None:
    doc = Document.of(text)
    assert parse_query(query).matches(doc) is hit
    # The index agrees with the query itself.
    index = build_index([(1, 10, query)])
    article = StoredArticle(id=1, feed_id=1, title=text, summary="", content="")
    assert bool(match([article], index)) is hit


FIELD_CASES = [
    ("title-in-title", "title:apple", "Apple earnings", "", True),
    ("title-in-body", "title:apple", "Earnings", "Apple grew", False),
    ("title-phrase", 'title:"climate change"', "Climate change summit", "", True),
    ("title-group", "title:(apple OR google)", "Google earnings", "Apple grew", True),
    ("title-and-body", "title:apple iphone", "Apple earnings", "iPhone sales", True),
    ("phrase-across-fields", '"earnings apple"', "Quarterly earnings", "Apple grew", False),
    ("body-summary", "brussels", "x", "Talks in Brussels", True),
    ("url-ignored", "nato", "x", "Read at https://nato.int/news", False),
    ("www-ignored", "nato", "x", "See www.nato.int for more", False),
    ("markup-ignored", "href", "x", '<a href="/x">link</a> here', False),
    ("markup-text-kept", "link", "x", '<a href="/x">link</a> here', True),
    ("boilerplate-ignored", "newsletter", "x", "Story text.\nSign up for our daily newsletter", False),
    ("boilerplate-ad", "advertisement", "x", "Story text.\nAdvertisement\nMore text.", False),
]


@pytest.mark.parametrize(
    ("query", "title", "body", "hit"), [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES]
)
def test_field_case(query: str, title: str, body: str, hit: bool) -> None:
    assert parse_query(query).matches(Document.of(title, body)) is hit
    article = StoredArticle(id=1, feed_id=1, title=title, summary=body, content="")
    assert bool(match([article], build_index([(1, 10, query)]))) is hit


ERRORS = [
    # id, query, code, position
    ("empty", "", "empty", 1),
    ("blank", "   ", "empty", 1),
    ("only-punctuation", "!!! ???", "empty", 1),
    ("too-long", "x" * 201, "too_long", 201),
    ("too-many-terms", " ".join("abcdefghijk"), "too_many_terms", 21),
    ("too-deep", "((((a))))", "too_deep", 4),
    ("unclosed-quote", 'nato "climate change', "unclosed_quote", 6),
    ("unbalanced-close", "nato)", "unbalanced_paren", 5),
    ("unbalanced-open", "(nato OR otan", "unbalanced_paren", 1),
    ("empty-group", "nato ()", "empty", 6),
    ("only-negative", "-nato", "only_negative", 1),
    ("only-negatives", "-nato -otan", "only_negative", 1),
    ("negative-alternative", "nato OR -summit", "only_negative", 9),
    ("prefix-too-short", "ab*", "prefix_too_short", 1),
    ("dangling-or-end", "nato OR", "dangling_operator", 6),
    ("dangling-or-start", "OR nato", "dangling_operator", 1),
    ("dangling-or-double", "nato OR OR otan", "dangling_operator", 6),
    ("dangling-minus", "nato -", "dangling_operator", 6),
    ("dangling-field", "title: nato", "dangling_operator", 1),
    ("unknown-field", "author:smith", "unknown_field", 1),
    ("url-as-field", "https://nato.int", "unknown_field", 1),
]


@pytest.mark.parametrize(("query", "code", "position"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(query: str, code: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert (caught.value.code, caught.value.position) == (code, position)
    assert f"position {position}" in str(caught.value)


NORMS = [
    # id, queries that mean the same
    ("case", ["NATO", "nato", "Nato"]),
    ("accents", ["Zürich", "zurich", "ZURICH"]),
    ("spacing", ["nato  ukraine", " nato ukraine "]),
    ("and-order", ["nato ukraine", "ukraine nato", "ukraine AND nato"]),
    ("or-order", ["a OR b", "b | a"]),
    ("hyphen", ["covid-19", '"covid 19"', "COVID19"]),
    ("duplicates", ["nato nato", "nato"]),
    ("exclusion", ["nato -summit", "-summit nato", "nato NOT summit"]),
    ("fullwidth", ["ｎａｔｏ", "nato"]),
    ("smart-quotes", ["“climate change”", '"climate change"']),
]


@pytest.mark.parametrize("queries", [n[1] for n in NORMS], ids=[n[0] for n in NORMS])
def test_same_meaning_same_norm(queries: list[str]) -> None:
    norms = {parse_query(q).norm for q in queries}
    assert len(norms) == 1
    (norm,) = norms
    assert parse_query(norm).norm == norm  # the canonical text parses to itself


@pytest.mark.parametrize(
    ("a", "b"),
    [("nato ukraine", "nato OR ukraine"), ("nato -x", "nato x"), ('"a b"', "a b"), ("title:a", "a")],
    ids=["and-or", "exclude", "phrase-words", "title"],
)
def test_different_meaning_different_norm(a: str, b: str) -> None:
    assert parse_query(a).norm != parse_query(b).norm
