"""Text of the HTML report: redaction of everything that came from a target, a case or an
error message, and the formatting of numbers, rates, thresholds and widths (a Chinese
character is two columns wide). Shared by the view (html_report), its charts (_svg_charts)
and its robot section (_robot_view)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from harness import text

# ---------------------------------------------------------------------------------------
# Redaction: applied to every text that came from the target, a case or an error message
# before it reaches the template. The patterns look at ASCII neighbours only, so a number
# or a key right after a Chinese character (no word boundary there) is still caught.

SECRET = "[redacted secret]"
EMAIL = "[redacted e-mail]"
NUMBER = "[redacted number]"

_NOT_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9])"
_KEY_NAMES = (r"(?:x-)?(?:api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret[_-]?(?:access[_-]?)?key|"
              r"access[_-]?token|auth[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|"
              r"private[_-]?key|password|passwd|pwd|secret|token)")
_REDACTIONS: list[tuple[re.Pattern[str], Any]] = [
    # PEM private keys
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
     "[redacted private key]"),
    # credentials in a URL: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]*@"), r"\1[redacted]@"),
    # Authorization: Bearer ... / Basic ... / Token ...
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}"),
     r"\1\2" + SECRET),
    # api_key=..., "password": "...", token: ...
    (re.compile(r"(?i)" + _NOT_ALNUM_BEFORE + "(" + _KEY_NAMES + r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&<>]{4,})"),
     r"\1" + SECRET),
    # well-known key formats: OpenAI/Anthropic/Stripe, AWS, GitHub, Slack, Google, JWT
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:sk|pk|rk)[-_](?:[A-Za-z]{2,8}[-_])?[A-Za-z0-9_-]{16,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _NOT_ALNUM_AFTER), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"xox[abprs]-[A-Za-z0-9-]{10,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"AIza[0-9A-Za-z_-]{30,}"), SECRET),
    (re.compile(_NOT_ALNUM_BEFORE + r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}"), SECRET),
    # e-mail addresses
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), EMAIL),
]
# a long run of letters and digits that looks random (an unknown kind of key)
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])")
# phone, ID, card and account numbers: 7 or more digits, maybe split by spaces or
# dashes, maybe a leading + and a trailing X (Chinese resident ID); not the fraction
# part of a decimal, not the tail of a word or hash, not an ISO date
_DIGITS = re.compile(r"(?<![0-9A-Za-z.,])(?!\d{4}-\d{2}-\d{2}(?![0-9]))\+?[0-9](?:[ -]?[0-9]){6,}(?:[Xx](?![A-Za-z]))?"
                     r"(?![0-9])")


def _class_changes(text: str) -> float:
    """How often the next character is of another class (digit, upper, lower): about
    0.5 for random keys and hashes, under 0.1 for words."""
    kinds = ["d" if ch.isdigit() else "u" if ch.isupper() else "l" for ch in text]
    return sum(a != b for a, b in zip(kinds, kinds[1:], strict=False)) / max(1, len(kinds) - 1)


def _token(match: re.Match[str]) -> str:
    """A key-like run: one piece of 16 or more letters and digits, mixed the way random
    keys are (not a word with a number, nor a hyphenated name such as ``suite-name-2026``)."""
    text = match.group(0)
    for piece in re.split(r"[-_]", text):
        digits = sum(ch.isdigit() for ch in piece)
        if len(piece) >= 16 and 0 < digits < len(piece) and _class_changes(piece) >= 0.25:
            return SECRET
    return text


def redact(text: Any) -> str:
    """``text`` with e-mail addresses, long digit runs (phone, ID, card numbers) and
    anything that looks like an API key, a bearer token or a password masked."""
    if text is None:
        return ""
    text = str(text)
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = _TOKEN.sub(_token, text)
    return _DIGITS.sub(NUMBER, text)


# ---------------------------------------------------------------------------------------
# Formatting


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else _num(value)


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _interval(rate: Mapping[str, Any]) -> str:
    if rate.get("value") is None:
        return f"n={rate.get('n', 0)}"
    return f"95% CI {_num(rate['ci_low'])}–{_num(rate['ci_high'])}, n={rate['n']}"


_OPS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<", "const": "="}


def _thresholds(threshold: Any) -> list[tuple[str, Any]]:
    """``[(operator, value), ...]`` of a criterion's threshold."""
    if isinstance(threshold, Mapping):
        return [(_OPS.get(k, k), v) for k, v in threshold.items()]
    if threshold is None:
        return []
    return [("", threshold)]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


_HAN = text.HAN_RE


def _lang_of(text: str, case_lang: str) -> str:
    """The lang attribute of a text: Chinese if it holds Han characters, else English,
    unless the case's own language says otherwise."""
    if _HAN.search(text):
        return case_lang if case_lang.startswith(("zh", "ja", "ko")) else "zh"
    return case_lang if case_lang and not case_lang.startswith(("zh", "ja", "ko")) else "en"


def _duration(start: str | None, end: str | None) -> str:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return ""
    seconds = (b - a).total_seconds()
    if seconds < 0:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min" if hours else f"{m} min {s} s"
