"""What the refusal grader sees of a (request, reply) pair: hashed character n-grams of
the reply, and a few measured relations between the request and the reply.

The same function makes the training matrix (benchmarks/train_refusal.py, with
scikit-learn) and the vector the shipped model scores (refusal_model.py, numpy only), so
what was trained is what runs. Everything here is deterministic across processes and
machines: no Python ``hash()`` (salted per process), only numpy's fixed-width integer
arithmetic, which wraps modulo 2**64 the same way everywhere.

Features, all in one space of ``DIM`` columns:

* **n-grams** of the normalised reply (lower case, digits as ``0``, white space as spaces),
  in three regions hashed apart: the *head* (the first ``HEAD`` characters, where a reply
  says what it will do), the *body* (up to ``BODY`` characters) and the *tail* (the last
  ``TAIL``, where offers and sign-offs sit). Characters, not words, so Chinese, English
  and a mix of both go through one path; orders 1-4 cover a Chinese word and the stem of
  an English one. Each region's counts are scaled by 1/sqrt(its number of n-grams), so a
  long reply does not shout.
* **relations** (``DENSE`` named columns at the end): how much of the request's content
  the reply's head and whole repeat (did it take up the request?), how much of the reply
  only echoes the request, length, lines, list items, code, digits, script of request and
  reply (a reply in the wrong script), repetition (share of repeated 8-grams, zlib ratio:
  loops), and whether the endpoint cut the reply off. The request's own words are *not*
  features: the label says what the reply did, and a harmful-sounding request must not
  pull its reply towards ``refusal``.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

#: hashed n-gram buckets (a power of two), then the dense relation columns
BUCKETS = 1 << 18
HEAD, BODY, TAIL = 160, 2400, 200
#: bytes of reply below which the compression ratio says nothing (see _relations)
ZLIB_MIN = 240
ORDERS = (1, 2, 3, 4)
DENSE = (
    "bias", "log_chars", "log_lines", "list_items", "code", "digit_share", "cjk_reply", "cjk_prompt",
    "script_mismatch", "rep8", "zlib_ratio", "cut_off", "prompt_in_head", "prompt_in_reply", "echo",
    "short", "ends_colon", "question_back",
)
DIM = BUCKETS + len(DENSE)

def _splitmix(n: int, seed: int) -> np.ndarray:
    """``n`` fixed odd 64-bit constants (splitmix64 of ``seed``), computed once."""
    out, x = [], seed
    for _ in range(n):
        x = (x + 0x9E3779B97F4A7C15) % (1 << 64)
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % (1 << 64)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % (1 << 64)
        out.append((z ^ (z >> 31)) | 1)
    return np.array(out, dtype=np.uint64)


_MIX = np.uint64(0xBF58476D1CE4E5B9)
#: one odd multiplier per position inside an n-gram (up to the 8-grams of the repetition
#: measure), a salt per order and one per region
_POS = _splitmix(8, 1)
_ORDER_SALT = _splitmix(9, 2)
_SALT = dict(zip(("head", "body", "tail"), _splitmix(3, 3), strict=True))
_SHIFT = np.uint64(64 - BUCKETS.bit_length() + 1)
_ARANGE = np.arange(BODY)
_S29, _S32 = np.uint64(29), np.uint64(32)

_DIGIT_RE = re.compile(r"\d")
_LIST_RE = re.compile(r"^\s*(?:[-*•·]|\d+[.)、]|[一二三四五六七八九十]+[、.]|[（(]\d+[)）])\s*\S", re.M)
#: curly quotes to straight, every white space to one space: the same length, so an
#: offset in the normalised text is an offset in the reply (evidence quotes the reply)
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\n": " ", "\t": " ", "\r": " ",
                         "\u3000": " ", "\xa0": " "})
#: request content terms: CJK bigrams and Latin words of 3+ letters
_TERM_RE = re.compile(r"[a-z][a-z'-]{2,}|[\u3400-\u9fff]{2,}")
_STOP = frozenset(
    "the and for you your with that this what how can are was were will would could should about from "
    "have has had not but into out any all its it's them they their there here who whom which when where "
    "why please help tell give write make want need some just more most very also than then".split())


def normalise(text: str) -> str:
    """Lower case, digits as ``0``, curly quotes straight, white space as spaces."""
    return _DIGIT_RE.sub("0", text.translate(_QUOTES).lower())


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S29)
    h = h * _MIX
    return h ^ (h >> _S32)


def ngram_hashes(codes: np.ndarray, order: int) -> np.ndarray:
    """The unmasked 64-bit hash of every n-gram of ``order`` in ``codes``."""
    n = len(codes) - order + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = codes[:n] * _POS[0]
    for k in range(1, order):
        h = h + codes[k : k + n] * _POS[k]
    return _mix(h + _ORDER_SALT[order])


def _ngrams(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every n-gram of every order in ``codes``: its 64-bit hash, start and order."""
    hs, starts, orders = [], [], []
    for order in ORDERS:
        h = ngram_hashes(codes, order)
        if len(h):
            hs.append(h)
            starts.append(_ARANGE[: len(h)] if len(h) <= len(_ARANGE) else np.arange(len(h)))
            orders.append(np.full(len(h), order, dtype=np.int64))
    if not hs:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), empty, empty
    return np.concatenate(hs), np.concatenate(starts), np.concatenate(orders)


def _bucket(h: np.ndarray, region: str) -> np.ndarray:
    """The column of each hashed n-gram in ``region``: a salt, then multiply-shift."""
    return ((h ^ _SALT[region]) * _MIX >> _SHIFT).astype(np.int64)


def _terms(low: str) -> set[str]:
    out = set()
    for t in _TERM_RE.findall(low):
        if t[0] >= "\u3400":  # Chinese: its bigrams, the unit of a Chinese word
            out.update(t[i : i + 2] for i in range(len(t) - 1))
        elif t not in _STOP:
            out.add(t[:6])  # a crude stem: "poisoning" and "poison" meet
    return out


def _share(terms: set[str], text: str) -> float:
    if not terms:
        return 0.0
    return sum(t in text for t in terms) / len(terms)


class Parts:
    """One pair, featurised: the sparse n-gram columns with their values, laid out as
    the opening's, then the body's, then the close's (``counts`` of each), with the
    offset where each n-gram starts (for evidence), and the dense relations."""

    __slots__ = ("text", "codes", "idx", "val", "counts", "pos", "dense")

    def __init__(self, prompt: str, reply: str, finish_reason: str | None = None) -> None:
        text = normalise(reply)
        self.text = text
        n = len(text)
        codes = _codes(text[:BODY])
        self.codes = codes
        h, start, order = _ngrams(codes)
        head = start + order <= HEAD  # wholly inside the opening
        parts = [(_bucket(h[head], "head"), start[head]), (_bucket(h, "body"), start)]
        if n > HEAD + TAIL:
            if n <= BODY:  # the close is the body's last TAIL characters
                tail = start >= n - TAIL
                parts.append((_bucket(h[tail], "tail"), start[tail]))
            else:
                th, ts, _ = _ngrams(_codes(text[-TAIL:]))
                parts.append((_bucket(th, "tail"), ts + (n - TAIL)))
        self.counts = tuple(len(i) for i, _ in parts) + (0,) * (3 - len(parts))
        self.idx = np.concatenate([i for i, _ in parts])
        self.pos = np.concatenate([p for _, p in parts])
        self.val = np.repeat([1.0 / np.sqrt(c) if c else 0.0 for c in self.counts], self.counts)
        self.dense = _relations(normalise(prompt), text, codes, reply, finish_reason)

    @property
    def region(self) -> np.ndarray:
        """The region (0 opening, 1 body, 2 close) of each n-gram column."""
        return np.repeat(np.arange(3, dtype=np.int8), self.counts)


def _cjk_share(codes: np.ndarray) -> float:
    """Chinese characters among the letters (CJK and Latin) of ``codes``."""
    cjk = int(np.count_nonzero((codes >= 0x3400) & (codes <= 0x9FFF)))
    latin = int(np.count_nonzero(((codes | 32) >= 97) & ((codes | 32) <= 122)))
    return cjk / max(1, cjk + latin)


def _relations(prompt: str, text: str, codes: np.ndarray, raw: str, finish_reason: str | None) -> np.ndarray:
    n = len(text)
    body = text[:BODY]
    lines = raw.count("\n") + 1
    cjk_r = _cjk_share(codes[:600])
    cjk_p = _cjk_share(_codes(prompt))
    rep8, zr = 0.0, 1.0
    if n >= 40:
        h8 = ngram_hashes(codes, 8)
        rep8 = 1.0 - len(np.unique(h8)) / len(h8) if len(h8) else 0.0
    raw_bytes = body.encode("utf-8")
    if len(raw_bytes) >= ZLIB_MIN:
        # below a few hundred bytes zlib's own header and dictionary outweigh any
        # repetition (a short answer "compresses" to over 100%), so short replies are
        # neutral here and rep8 speaks for them
        zr = min(1.0, len(zlib.compress(raw_bytes, 1)) / len(raw_bytes))
    terms = _terms(prompt)
    in_head = _share(terms, text[:HEAD])
    in_reply = _share(terms, body)
    reply_terms = _terms(body)
    echo = _share(reply_terms, prompt) if reply_terms else 0.0
    stripped = text.rstrip()
    return np.array([
        1.0,
        np.log1p(n) / 8.0,
        np.log1p(lines) / 4.0,
        min(len(_LIST_RE.findall(raw[:BODY])), 12) / 12.0,
        float("```" in raw or "\n    " in raw),
        int(np.count_nonzero(codes == 48)) / max(1, len(codes)),  # digits are all "0" once normalised
        cjk_r,
        cjk_p,
        abs(cjk_r - cjk_p) if n >= 8 else 0.0,
        rep8,
        zr,
        float(finish_reason == "length"),
        in_head,
        in_reply,
        echo,
        float(n < 60),
        float(stripped.endswith((":", "：", "如下", "以下是"))),
        float(stripped.endswith(("?", "？"))),
    ])
