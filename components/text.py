"""Stored text (names, descriptions, notes, clues, references) shown as text, never as markup.

Streamlit renders Markdown (and, where allowed, HTML) in st.markdown, st.write, st.caption,
st.info/st.error/…, headings, widget labels, help tooltips, expander and tab labels, st.table
cells and progress texts. Text that people typed or imported goes through `plain` before it
reaches any of them. The characters that start Markdown, HTML or Streamlit constructs
(backslash, `` ` * _ ~ # [ ] < > | $ ``, an `&` that would start a character reference, and a
list or heading marker at the start of a line)
become numeric character references, which Markdown and HTML both show as the character
itself: `![x](http://host/x.png)` cannot make a reader's browser fetch an image,
`[x](javascript:…)` cannot become a link, and `<img>`, `$…$`, `:red[…]` or `# heading` stay as
typed. Streamlit also turns bare `http://…`, `www.…` and e-mail addresses into links after
decoding, so an invisible word joiner goes after `:` in `://`, after `www` and after `@`.
Other punctuation is left alone, so ordinary sentences stay readable in the page source.
Where a widget shows plain text already (st.text, st.code, dataframe cells, selectbox options)
pass the text as it is.
"""

from __future__ import annotations

import re

_WORD_JOINER = "\u2060"
_AUTOLINK_POINTS = re.compile(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)", re.IGNORECASE)
_ACTIVE = "\\`*_~#[]<>|$"
_ENTITIES = str.maketrans({c: {"<": "&lt;", ">": "&gt;"}.get(c, f"&#{ord(c)};") for c in _ACTIVE})
# "&" matters only where it starts a character reference of its own.
_REFERENCE = re.compile(r"&(?=#?\w+;)")
# A list item, setext underline or ordered-list marker at the start of a line.
_LINE_MARKER = re.compile(r"^(\d*)([-+=.)])")
# Markdown would join lines, indent code or break; show each line as typed.
_LINE_BREAK = "  \n"


def plain(text: object) -> str:
    """`text` as it reads, safe inside Markdown and HTML; line breaks kept."""
    text = _AUTOLINK_POINTS.sub(_WORD_JOINER, str(text if text is not None else ""))
    lines = (_REFERENCE.sub("&amp;", line.strip()).translate(_ENTITIES) for line in text.splitlines())
    return _LINE_BREAK.join(_LINE_MARKER.sub(lambda m: f"{m.group(1)}&#{ord(m.group(2))};", line) for line in lines)
