"""Stored text (names, descriptions, notes, clues, references) shown as text, never as markup.

Streamlit renders Markdown (and, where allowed, HTML) in st.markdown, st.write, st.caption,
st.info/st.error/…, headings, widget labels, help tooltips, expander and tab labels and
progress texts. Text that people typed or imported goes through `plain` before it reaches
any of them: every ASCII punctuation character becomes a numeric character reference, which
Markdown and HTML both show as the character itself. So `![x](http://host/x.png)` cannot make
a reader's browser fetch an image, `[x](javascript:…)` or `www.host` cannot become a link, and
`<img>`, `$…$`, `:red[…]` or `# heading` stay as typed. Where a widget shows plain text already
(st.text, st.code, dataframe cells, selectbox options) pass the text as it is.
"""

from __future__ import annotations

import string

_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in string.punctuation})
# Markdown would join lines, indent code or break; show each line as typed.
_LINE_BREAK = "  \n"


def plain(text: object) -> str:
    """`text` as it reads, safe inside Markdown and HTML; line breaks kept."""
    lines = str(text if text is not None else "").translate(_ENTITIES).splitlines()
    return _LINE_BREAK.join(line.strip() for line in lines)
