"""National Insurance numbers and Unique Pupil Numbers: normalisation and check rules."""

from __future__ import annotations

import re

import polars as pl

# HMRC: first letter not D F I Q U V; second not D F I O Q U V; some prefixes never issued.
NINO_PATTERN = r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"
NINO_BAD_PREFIXES = ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")

# DfE UPN: check letter, 3-digit LA code, 4-digit establishment, 2-digit year, 3-digit serial
# (the last may be a letter in a temporary UPN). The check letter is the remainder of the
# weighted sum (weights 2..13 over characters 2..13) modulo 23, as a letter of this alphabet.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_VALUE = {c: i for i, c in enumerate(UPN_LETTERS)} | {str(d): d for d in range(10)}


def normalise_nino_text(value: str) -> str:
    """Upper case, no spaces or punctuation."""
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def is_valid_nino(value: str) -> bool:
    n = normalise_nino_text(value)
    return bool(re.match(NINO_PATTERN, n)) and n[:2] not in NINO_BAD_PREFIXES


def nino_expr(col: pl.Expr) -> pl.Expr:
    """A column's NINOs normalised, null where not a valid NINO."""
    n = col.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    ok = n.str.contains(NINO_PATTERN) & ~n.str.slice(0, 2).is_in(list(NINO_BAD_PREFIXES))
    return pl.when(ok).then(n)


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters that follow it in a UPN."""
    if len(body) != 12:
        raise ValueError("a UPN body has 12 characters")
    total = sum(_UPN_VALUE[c] * w for c, w in zip(body.upper(), range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def is_valid_upn(value: str) -> bool:
    v = re.sub(r"\s", "", value.upper())
    if not re.match(r"^[A-Z][0-9]{11}[0-9A-Z]$", v):
        return False
    try:
        return upn_check_letter(v[1:]) == v[0]
    except KeyError:
        return False


def upn_expr(col: pl.Expr) -> pl.Expr:
    """A column's UPNs normalised, null where the format or check letter is wrong."""
    v = col.str.to_uppercase().str.replace_all(r"\s", "")
    shape = v.str.contains(r"^[A-Z][0-9]{11}[0-9A-Z]$")
    weights = range(2, 14)
    total = pl.sum_horizontal(
        [
            v.str.slice(i + 1, 1).replace_strict(_UPN_VALUE, default=None, return_dtype=pl.Int64)
            * w
            for i, w in enumerate(weights)
        ]
    )
    letter = (total % 23).replace_strict(
        dict(enumerate(UPN_LETTERS)), default=None, return_dtype=pl.String
    )
    return pl.when(shape & (letter == v.str.slice(0, 1))).then(v)
