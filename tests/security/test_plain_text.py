"""`components.text.plain`: stored text shows as typed, and no Markdown or HTML in it takes effect."""

from __future__ import annotations

import html
import re
import string

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from components.text import plain

PAYLOADS = ["&lt;img src=x&gt; &#60;b&#62;", "![x](http://127.0.0.1:9/x.png)", "[x](javascript:alert(1))", "<img src=http://127.0.0.1:9/h.png>",
            "# heading", "$x^2$", ":red[alert]", "**bold** _it_", "http://example.com/a www.example.com a@b.co",
            "    indented code", "1. list\n- item", "`code`", "a | b\n--|--\n1 | 2"]


def test_payloads_render_as_their_own_text():
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    for text in PAYLOADS:
        rendered = md.render(plain(text))
        assert "<img" not in rendered and "<a " not in rendered and "<h1" not in rendered
        assert "<strong" not in rendered and "<code" not in rendered and "<li" not in rendered
        shown = html.unescape(rendered.replace("<p>", "").replace("</p>", "").replace("<br />", ""))
        assert shown.replace("\u2060", "").split() == text.split()


@given(st.text(alphabet=string.printable + "中文，。😀", max_size=80))
def test_no_markup_character_survives_and_the_text_reads_back(text):
    out = plain(text)
    assert not set(re.sub(r"&(#\d+|lt|gt|amp);", "", out)) & set("\\`*_~#[]<>|$")
    assert not re.search(r"&(?!(#\d+|lt|gt|amp);)#?\w+;", out)  # no character reference of the text's own
    back = html.unescape(out).replace("\u2060", "").replace("  \n", "\n")
    assert back == "\n".join(line.strip() for line in text.splitlines())
