"""The query syntax explained, in each reply language."""

from __future__ import annotations

QUERY_HELP: dict[str, str] = {
    "en": (
        "Words match whole words, ignoring case and accents: nato finds “NATO” and “NATO's” but "
        "not “NATOPOLIS”; zurich finds “Zürich”. A plural is another word: use a prefix.\n"
        "Chinese, Japanese and Korean terms match anywhere in the text: 乌克兰 finds “乌克兰局势”.\n"
        "Letters, digits and CJK characters are separate pieces that must follow each other: "
        'covid-19 = "covid 19" = COVID19; u.s. finds “U.S.”; 5G网络 finds “5G 网络”.\n'
        "\n"
        "nato ukraine — both words, anywhere (AND is optional)\n"
        '"climate change" — the exact phrase, even across punctuation or a line break\n'
        "bitcoin OR ethereum — either one (also bitcoin | ethereum)\n"
        'nato -summit — without “summit” (also NOT summit); -"world cup" excludes a phrase\n'
        "(tesla OR spacex) musk — parentheses group\n"
        "sanction* — words starting with at least 3 letters: sanctions, sanctioned\n"
        "title:apple — only in the headline\n"
        "\n"
        "At most 200 characters, 10 terms and 3 levels of parentheses."
    ),
    "zh": (
        "英文等词语按整词匹配，不分大小写和重音：nato 能找到 “NATO” 和 “NATO's”，但不会匹配 "
        "“NATOPOLIS”；zurich 能找到 “Zürich”。复数算另一个词，请用前缀。\n"
        "中文、日文、韩文词语只要在文中出现即匹配：乌克兰 能找到 “乌克兰局势”。\n"
        "字母、数字和中日韩文字各自成段，须前后紧接出现："
        'covid-19 = "covid 19" = COVID19；u.s. 能找到 “U.S.”；5G网络 能找到 “5G 网络”。\n'
        "\n"
        "俄罗斯 乌克兰 — 两个词都要出现（AND 可省略）\n"
        '"人工智能 芯片" — 完整短语，可跨标点和换行\n'
        "华为 OR 小米 — 任一即可（也可写 华为 | 小米）\n"
        '苹果 -水果 — 排除 “水果”（也可写 NOT 水果）；-"世界杯" 排除短语\n'
        "(特斯拉 OR 比亚迪) 电动车 — 用括号分组\n"
        "sanction* — 以至少 3 个字母开头的词：sanctions、sanctioned\n"
        "title:华为 或 标题:华为 — 只查标题\n"
        "\n"
        "最多 200 个字符、10 个词、3 层括号。"
    ),
}
