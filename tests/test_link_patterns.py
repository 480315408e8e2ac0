"""The link stage's execution: blocking keeps each pair once with its first rule, pattern codes
round-trip, EM on pattern counts equals EM on every pair, and the pattern prefilter's weights
equal the exact scoring's (term frequencies included)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import polars as pl
import pytest
from rapidfuzz.distance import JaroWinkler

from familymatch.canonical import conform
from familymatch.link import (
    compare,
    distinct,
    link_records,
    linkable_expr,
    name_frequencies,
    same_row_expr,
)
from familymatch.link.blocking import (
    DEFAULT_RULES,
    BlockingRule,
    candidate_pairs,
    group_ids,
    key_frame,
    rule_blocks,
    rule_pair_chunks,
    rule_pairs,
)
from familymatch.link.cluster import components
from familymatch.link.compare import (
    FIELD_GROUPS,
    FIELDS,
    comparison_levels,
    pair_frame,
    street_expr,
    string_codes,
)
from familymatch.link.distinct import DistinctComparer
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


def test_pairs_made_in_chunks_of_whole_blocks_are_the_rule_pairs_in_order() -> None:
    rng = np.random.default_rng(3)
    gid = rng.integers(0, 40, 600)  # blocks of ~15 rows: ~105 pairs each
    gid[:50] = 99  # one block of 50 rows (1,225 pairs), larger than a chunk
    valid = rng.random(600) > 0.1
    valid[:50] = True
    blocks = rule_blocks(gid, valid)
    whole = rule_pairs(blocks)
    parts = list(rule_pair_chunks(blocks, max_pairs=1_000))
    assert len(parts) > 3
    sizes = [len(a) for a, _ in parts]
    assert max(sizes) == 1_225  # the large block alone; the others bounded
    assert all(n <= 1_000 for n in sizes if n != 1_225)
    assert np.array_equal(np.concatenate([a for a, _ in parts]), whole[0])
    assert np.array_equal(np.concatenate([b for _, b in parts]), whole[1])
    assert len(whole[0]) == blocks.estimated > 4_000
    # every pair of rows with one group id once, i < j, and no other
    expected = {(a, b) for a in range(600) for b in range(a + 1, 600) if valid[a] and valid[b]}
    expected = {(a, b) for a, b in expected if gid[a] == gid[b]}
    assert set(zip(whole[0].tolist(), whole[1].tolist(), strict=True)) == expected
    assert len(expected) == len(whole[0])


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


def test_levels_by_string_codes_equal_levels_by_strings() -> None:
    usable = usable_records(messy_records(n=600))
    cand, _ = candidate_pairs(usable, DEFAULT_RULES)
    rng = np.random.default_rng(5)
    idx = usable["__i"].to_numpy()
    # random pairs: nearly all distinct, so the codes are compared without numbering them
    random_pairs = pl.DataFrame(
        {"i": rng.choice(idx, 20_000), "j": rng.choice(idx, 20_000), "rule": -1},
        schema={"i": pl.UInt32, "j": pl.UInt32, "rule": pl.Int16},
    )
    # the candidates repeated: every pair of values many times, numbered before comparing
    repeated = pl.concat([cand] * (20_000 // cand.height + 1))
    coded, vocab = string_codes(usable)
    assert set(vocab.values) == {"fn", "fn_canon", "sn", "addr", "addr_street"}
    for pairs in (cand, random_pairs, repeated):
        by_strings = comparison_levels(pair_frame(usable, pairs))
        by_codes = comparison_levels(pair_frame(coded, pairs), vocab)
        assert by_codes.equals(by_strings)
        assert by_strings["fn"].n_unique() >= 3 and by_strings["loc"].n_unique() >= 4


def test_levels_by_distinct_value_pairs_equal_levels_pair_by_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    usable, vocab = string_codes(usable_records(messy_records(n=600)))
    cand, _ = candidate_pairs(usable, DEFAULT_RULES)
    repeated = pl.concat([cand] * 3)
    comparer = DistinctComparer(usable, vocab)
    numbered = comparer._numbered(repeated)
    assert all(len(first) <= cand.height < repeated.height for first, _ in numbered)
    direct = comparer.direct(repeated)
    assert np.array_equal(comparer._grouped(repeated, numbered), direct)
    assert np.array_equal(comparer.codes(repeated), direct)
    assert comparer.check(cand)
    # a group that leaves out a column its levels read is caught: the surname
    names, others = FIELD_GROUPS[0], FIELD_GROUPS[1:]
    wrong = ((names[0], tuple(c for c in names[1] if c != "sn")), *others)
    monkeypatch.setattr(distinct, "FIELD_GROUPS", wrong)
    assert not DistinctComparer(usable, vocab).check(cand)


def test_numbering_keys_gives_the_partition_of_np_unique() -> None:
    key = np.random.default_rng(3).integers(0, 50, 2_000).astype(np.uint64)
    first, inverse = compare.number(key)
    _, expected = np.unique(key, return_inverse=True)
    assert len(first) == len(np.unique(key)) == 50
    assert np.array_equal(key[first][inverse], key)
    assert np.array_equal(inverse, expected)  # numbered in the keys' order
    ids = distinct.value_ids(pl.DataFrame({"a": ["x", None, "x", None, "y"], "b": [1, 2, 1, 2, 1]}))
    assert ids[0] == ids[2] and ids[1] == ids[3] and len(set(ids.tolist())) == 3


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


def test_a_rule_too_loose_for_the_population_runs_within_its_place() -> None:
    # 60 records sharing one address text in 3 districts (20 each); 3 records without a district
    n = 63
    frame = pl.DataFrame(
        {
            "__i": pl.Series(range(n), dtype=pl.UInt32),
            "addr": ["12 HIGH STREET"] * n,
            "pc_district": [f"PL{k % 3 + 1}" for k in range(60)] + [None] * 3,
        }
    )
    rule = BlockingRule("address", ("addr",), within="pc_district")
    # 63 * 62 / 2 = 1,953 pairs across the population: 31 a record, over the bound of 6
    cand, stats = candidate_pairs(frame, (rule,))
    assert stats["address"]["across"] == 1_953
    assert stats["address"]["estimated"] == cand.height == 3 * (20 * 19 // 2)
    district = frame["pc_district"].to_list()
    assert all(district[i] == district[j] for i, j in cand.select("i", "j").iter_rows())
    # below the bound (a few records a text) the rule runs across the population as before
    small = frame.filter(pl.col("__i") < 7)
    cand, stats = candidate_pairs(small, (rule,))
    assert "across" not in stats["address"] and cand.height == 21


def test_jaro_winkler_bound_never_spares_a_similarity_a_level_reads() -> None:
    rng = np.random.default_rng(7)
    letters = np.array(list("ABCDEFGHIJKLMNOPRSTWY -'"))
    words = ["".join(rng.choice(letters, rng.integers(1, 12))) for _ in range(400)]
    words += ["SMITH", "SMYTH", "SMIHT", "JON", "JOHN", "MARTHA", "MARHTA", "O'NEIL", "ONEIL"]
    values = np.array(sorted(set(words)), dtype=object)
    counts, lengths = compare.char_counts(values)
    vocab = compare.Vocabulary({"fn": values}, {"fn": counts}, {"fn": lengths})
    left = rng.integers(0, len(values), 40_000)
    right = rng.integers(0, len(values), 40_000)
    left[:9], right[:9] = (
        np.arange(len(values) - 9, len(values)),
        np.arange(len(values) - 9, len(values))[::-1],
    )
    may = compare.jw_may_reach(vocab, "fn", "fn", left, right)
    jw = np.array(
        [
            JaroWinkler.normalized_similarity(values[a], values[b])
            for a, b in zip(left, right, strict=True)
        ]
    )
    assert not (~may & (jw >= compare.JW_FLOOR)).any()  # every pair a level can read is compared
    assert (jw >= compare.JW_FLOOR).sum() > 9 and (~may).mean() > 0.5  # most others are spared


def test_rules_on_levels_alone_are_known_per_pattern() -> None:
    from familymatch.link.pair_rules import DEFAULT_PAIR_RULES, levels_rule_met

    levels = pl.DataFrame(
        {
            "fn": [0, 4, 0, 4],
            "sn": [4, 4, 4, 0],
            "dob": [2, 4, 4, 4],
            "loc": [5, 5, 5, 0],
            "sex": [1, 1, 1, 1],
            "mn": [-1, -1, -1, -1],
        },
        schema={f: pl.Int8 for f in ("fn", "sn", "dob", "loc", "sex", "mn")},
    )
    # forename_differs (fn <= 0, dob < 3) and twins (loc >= 4, dob = 4, sn >= 3, fn = 0) read
    # only levels; the others read the match weight and cannot be known from a pattern
    met = levels_rule_met(DEFAULT_PAIR_RULES, True, levels)
    assert met.tolist() == [True, False, True, False]
    assert not levels_rule_met(DEFAULT_PAIR_RULES, False, levels).any()  # household rules off
