"""Small bilingual text helpers for scorers, one of each: the range of Chinese (Han)
characters, folding for matching, a reply cut short for evidence, and a guess of the
language of a text. Plugins use them as ``from harness import text``.

``HAN`` is the body of a character class: the unified ideographs, extension A and the
compatibility ideographs (``[\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff]``). Chinese
punctuation (``\\u3000-\\u303f``) and full-width forms are not Han; :func:`fold` turns
the full-width forms into ASCII.
"""

from __future__ import annotations

import re
import unicodedata

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{HAN}]")
_LATIN_RE = re.compile(r"[A-Za-z]")


def has_han(text: str) -> bool:
    """Whether ``text`` holds a Chinese character."""
    return HAN_RE.search(text) is not None


def language(text: str) -> str:
    """``zh`` when Chinese characters are at least a fifth of the letters of ``text``
    (a Chinese sentence with English terms is Chinese), else ``en``."""
    han = len(HAN_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    return "zh" if han and han * 5 >= han + latin else "en"


def fold(text: str) -> str:
    """For matching: NFKC (full-width letters and digits to ASCII, compatibility forms to
    their plain ones), then case-folded. The result can be shorter or longer than
    ``text``: do not use its offsets in ``text``."""
    return unicodedata.normalize("NFKC", text).casefold()


def short(text: str, limit: int = 60, *, collapse: bool = True, quote: bool = True) -> str:
    """``text`` for evidence: white space collapsed (``collapse``), cut to ``limit``
    characters with an ellipsis, and quoted as a Python literal (``quote``), so a reader
    sees where the reply's words begin and end."""
    if collapse:
        text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text) if quote else text
