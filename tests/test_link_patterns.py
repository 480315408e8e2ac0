"""The link stage's execution: blocking keeps each pair once with its first rule, pattern codes
round-trip, EM on pattern counts equals EM on every pair, and the pattern prefilter's weights
equal the exact scoring's (term frequencies included)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import polars as pl

from familymatch.canonical import conform
from familymatch.link import link_records, linkable_expr, name_frequencies, same_row_expr
from familymatch.link.blocking import DEFAULT_RULES, candidate_pairs, group_ids, key_frame
from familymatch.link.cluster import components
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame, street_expr
from familymatch.link.model import attach_term_frequencies, estimate_u, fit_em
from familymatch.link.patterns import (
    PatternScorer,
    decode,
    encode,
    pattern_counts,
    record_frequencies,
)
from familymatch.standardise import standardise

FORENAMES = ["ALAN", "BETH", "CARL", "DINA", "ERIC", "FAYE", "GARY", "HOLLY", "IVAN", "JUNE"]
SURNAMES = ["SMITH", "JONES", "QUILL", "BARTON", "HARGREAVES", "OKAFOR", "PATEL", "NOWAK"]


def typo(s: str, rng: random.Random) -> str:
    k = rng.randrange(len(s))
    return s[:k] + rng.choice("AEIOURST") + s[k + 1 :]


def messy_records(n: int = 300, seed: int = 3) -> pl.DataFrame:
    """People recorded once or twice, the second record with typos, a swapped day and month,
    a missing date of birth or another address; a few shared surnames, so that exact agreement
    on a common name happens often (term frequencies matter)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        p: dict[str, object] = {
            "forename": rng.choice(FORENAMES),
            "surname": rng.choice(SURNAMES) if i % 4 else f"RARE{i:03d}",
            "dob": date(1950 + i % 60, 1 + i % 12, 1 + i % 28),
            "sex": rng.choice("MF"),
            "postcode": f"PL{1 + i % 5} {i % 7}AB",
            "address": f"{1 + i % 40} {rng.choice(['MILL LANE', 'HIGH STREET', 'LONG ROAD'])}",
        }
        rows.append({**p, "source": "a"})
        if rng.random() < 0.6:
            q = dict(p)
            change = rng.randrange(4)
            if change == 0:
                q["surname"] = typo(str(q["surname"]), rng)
            elif change == 1:
                d = p["dob"]
                assert isinstance(d, date)
                q["dob"] = date(d.year, d.day, d.month) if d.day <= 12 else None
            elif change == 2:
                q["forename"] = typo(str(q["forename"]), rng)
            else:
                q["address"] = f"{2 + i % 40} HIGH STREET"
            rows.append({**q, "source": "b"})
    base = [
        {"record_id": f"{r['source']}:{k}", "kind": "population", "row": k, **r}
        for k, r in enumerate(rows, start=1)
    ]
    return standardise(conform(pl.DataFrame(base, infer_schema_length=None)))


def usable_records(std: pl.DataFrame) -> pl.DataFrame:
    """As link_records prepares them."""
    std = std.with_row_index("__i").with_columns(linkable_expr().alias("linkable"))
    return std.filter(pl.col("linkable")).with_columns(
        street_expr(pl.col("addr")).alias("addr_street"), same_row_expr().alias("same_row")
    )


def test_blocking_keeps_each_pair_once_with_the_first_rule_that_finds_it() -> None:
    usable = usable_records(messy_records())
    cand, stats = candidate_pairs(usable, DEFAULT_RULES)
    keys = key_frame(usable, DEFAULT_RULES[:-1])  # no address_id on this frame
    pos = {v: k for k, v in enumerate(keys["__i"].to_list())}
    expected: dict[tuple[int, int], int] = {}
    for order, rule in enumerate(DEFAULT_RULES[:-1]):
        gid, valid = group_ids(keys, rule)
        members: dict[int, list[int]] = {}
        for p in np.flatnonzero(valid):
            members.setdefault(int(gid[p]), []).append(int(p))
        for group in members.values():
            for a in group:
                for b in group:
                    if a < b:
                        expected.setdefault((a, b), order)
    got = {(pos[i], pos[j]): r for i, j, r in cand.iter_rows()}
    assert cand.height == len(got) == len(expected) > 500
    assert got == expected
    assert sum(s["new"] for s in stats.values()) == cand.height
    assert stats["surname_sound+dob"]["pairs"] == stats["surname_sound+dob"]["new"]


def test_pattern_codes_round_trip_every_level_combination() -> None:
    rng = np.random.default_rng(1)
    levels = pl.DataFrame({f: rng.integers(-1, k, 5000).astype(np.int8) for f, k in FIELDS.items()})
    assert decode(encode(levels)).equals(levels)


def test_em_on_pattern_counts_and_exact_scores_by_pattern() -> None:
    std = messy_records()
    model = link_records(std).model
    usable = attach_term_frequencies(usable_records(std), name_frequencies(usable_records(std)))
    cand, _ = candidate_pairs(usable, DEFAULT_RULES)
    levels = comparison_levels(pair_frame(usable, cand))
    codes = encode(levels)
    u = estimate_u(levels)
    on_pairs = fit_em(levels, u)
    on_counts = fit_em(pattern_counts(codes), u)
    assert (on_counts.lam, on_counts.m) == (on_pairs.lam, on_pairs.m)
    exact = model.score(levels)["match_weight"].to_numpy()
    record_tf = record_frequencies(usable)
    by_pattern = PatternScorer(model).weights(codes.to_numpy(), cand["i"].to_numpy(), record_tf)
    assert levels.filter(pl.col("sn") == 4).height > 100  # the frequencies are exercised
    assert np.abs(by_pattern - exact).max() < 1e-4


def test_components_label_every_record_of_a_component_alike() -> None:
    # 0-1-2 a chain (given out of order), 3-4, 5 alone, 6-7-8-6 a cycle
    i = np.array([2, 0, 3, 7, 8, 6])
    j = np.array([1, 1, 4, 6, 7, 8])
    label = components(9, i, j)
    groups: dict[int, set[int]] = {}
    for rec, lab in enumerate(label.tolist()):
        groups.setdefault(lab, set()).add(rec)
    assert sorted(map(sorted, groups.values())) == [[0, 1, 2], [3, 4], [5], [6, 7, 8]]
    assert all(lab in members for lab, members in groups.items())


def test_em_without_candidate_pairs_keeps_its_starting_model() -> None:
    u = {f: [1.0 / k] * k for f, k in FIELDS.items()}
    empty = pl.DataFrame({f: pl.Series([], dtype=pl.Int8) for f in FIELDS})
    model = fit_em(empty, u, lam=0.25)
    assert (model.lam, model.iterations) == (0.25, 0)
    assert all(np.isfinite(v).all() for v in model.m.values())
