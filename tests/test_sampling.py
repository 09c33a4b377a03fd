"""Training-by-sampling (``polars_gumbel.sampling``): the draws against a reference
written here from the documented formula and Random123's Philox words, chi-square tests
of the column, category and generation frequencies against the real table's own counts,
every returned row against the real table, and the errors of hostile arguments.

Statistical tests use fixed seeds and alpha = 0.001.
"""

from __future__ import annotations

import math
from itertools import accumulate
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from polars_gumbel import Codec, _internal, sampling
from polars_gumbel.sampling import Sampler

ALPHA = 0.001
#: Elements drawn for each chi-square test: 100 training steps of 500.
STEPS, BATCH = 100, 500


@pytest.fixture(scope="module")
def codec(adult: pl.DataFrame) -> Codec:
    return Codec.fit(adult)


@pytest.fixture(scope="module")
def sampler(codec: Codec, adult: pl.DataFrame) -> Sampler:
    return Sampler(codec, adult)


def chi2_pvalue(observed: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    """The chi-square p-value of `observed` counts against probabilities `p`, the cells
    expected below 5 pooled into one (dropped when they expect less than 5 together)."""
    n = observed.sum()
    expected = p * n
    small = expected < 5
    obs = list(observed[~small])
    exp = list(expected[~small])
    if expected[small].sum() >= 5:
        obs.append(observed[small].sum())
        exp.append(expected[small].sum())
    obs_a, exp_a = np.array(obs, dtype=float), np.array(exp, dtype=float)
    exp_a *= obs_a.sum() / exp_a.sum()
    return float(stats.chisquare(obs_a, exp_a).pvalue)


def real_counts(adult: pl.DataFrame, codec: Codec, column: str) -> np.ndarray[Any, Any]:
    """A column's category counts in the codec's block order, by value_counts of the real
    table (the Adult table has no nulls and no grouped categories)."""
    labels = next(lb for c, _, _, lb in codec.blocks if c == column)
    counts = dict(adult[column].value_counts().iter_rows())
    return np.array([counts.get(label, 0) for label in labels], dtype=float)


def draws(draw: Any, steps: int = STEPS) -> pl.DataFrame:
    out: pl.DataFrame = pl.concat(draw(step) for step in range(steps))
    return out


# ---------------------------------------------------------------- the formula, by hand


def reference_draw(
    real: pl.DataFrame,
    codec: Codec,
    seed: int,
    step: int,
    size: int,
    frequency: str,
    stream: str = "batch",
) -> list[tuple[int, int, int]]:
    """``(column, category, row)`` of each element, from the module docstring's formula:
    Philox words of counter ``(step, ⌊j/2⌋)`` under the derived key, 52-bit integers,
    Python's exact integers for ``⌊k · n / 2⁵²⌋``, the real table scanned for the rows."""
    key = _internal.derive_seed(_internal.derive_seed(seed, "sampler"), stream)
    columns = [c for c, _, _, _ in codec.blocks if c in real.columns and real[c].dtype == pl.String]
    labels = {c: lb for c, _, _, lb in codec.blocks}

    def k(j: int) -> int:
        w = _internal.philox_words(key, step, j // 2)
        word = (w[0] << 32 | w[1]) if j % 2 == 0 else (w[2] << 32 | w[3])
        return word >> 12

    out = []
    for i in range(size):
        d = (k(3 * i) * len(columns)) >> 52
        column = columns[d]
        values = real[column].to_numpy()
        counts = [int((values == label).sum()) for label in labels[column]]
        weights = [math.log1p(n) for n in counts] if frequency == "log" else counts
        cumulative = list(accumulate(float(w) for w in weights))
        c = [round(s / cumulative[-1] * 2.0**52) for s in cumulative]
        category = sum(1 for x in c if x <= k(3 * i + 1))
        rows = np.flatnonzero(values == labels[column][category])
        row = int(rows[(k(3 * i + 2) * len(rows)) >> 52])
        out.append((d, category, row))
    return out


@pytest.mark.parametrize("frequency", ["log", "true"])
@pytest.mark.parametrize(("seed", "step"), [(0, 0), (7, 1), (2**64 - 1, 2**64 - 1)])
def test_batch_is_the_documented_formula(
    adult: pl.DataFrame, codec: Codec, frequency: str, seed: int, step: int
) -> None:
    sampler = codec.sampler(adult, frequency=frequency)  # type: ignore[arg-type]
    batch = sampler.batch(60, seed=seed, step=step)
    got = list(batch.select("column", "category", "row").iter_rows())
    assert got == reference_draw(adult, codec, seed, step, 60, frequency)


def test_conditions_are_the_documented_formula(
    adult: pl.DataFrame, codec: Codec, sampler: Sampler
) -> None:
    got = sampler.conditions(40, seed=3, step=9).select("column", "category").rows()
    want = reference_draw(adult, codec, 3, 9, 40, "true", stream="conditions")
    assert got == [(d, c) for d, c, _ in want]


def test_scale_is_exact_against_python_integers() -> None:
    rng = np.random.default_rng(0)
    k = np.concatenate([[0, 1, 2**52 - 1, 2**51], rng.integers(0, 2**52, 2000)]).astype(np.uint64)
    for n in [1, 2, 3, 9, 104, 32561, 10**6, 2**31 + 11, 2**32 - 1, 2**32]:
        got = sampling._scale(k, n)
        want = [(int(v) * n) >> 52 for v in k]
        assert got.tolist() == want
        assert got.max() < n


def test_uniforms_are_the_readme_float64_uniforms() -> None:
    u = _internal.uniforms(12345, 6, 5)
    assert u.dtype == np.float64
    assert u.shape == (5,)
    for j, value in enumerate(u):
        w = _internal.philox_words(12345, 6, j // 2)
        word = (w[0] << 32 | w[1]) if j % 2 == 0 else (w[2] << 32 | w[3])
        assert value == (word >> 12) * 2.0**-52 + 2.0**-53
    assert _internal.uniforms(1, 0, 0).shape == (0,)
    with pytest.raises(ValueError, match=r"at most 2\*\*33 per counter row"):
        _internal.uniforms(1, 0, 2**33 + 1)
    with pytest.raises(OverflowError):
        _internal.uniforms(-1, 0, 1)


# ---------------------------------------------------------------- frequencies


def test_columns_are_drawn_uniformly(sampler: Sampler) -> None:
    drawn = draws(lambda t: sampler.batch(BATCH, seed=11, step=t))
    observed = np.bincount(drawn["column"].to_numpy(), minlength=len(sampler.columns))
    p = np.full(len(sampler.columns), 1 / len(sampler.columns))
    assert chi2_pvalue(observed, p) > ALPHA


@pytest.mark.parametrize("frequency", ["log", "true"])
def test_categories_are_drawn_at_their_frequency(
    adult: pl.DataFrame, codec: Codec, frequency: str
) -> None:
    sampler = codec.sampler(adult, frequency=frequency)  # type: ignore[arg-type]
    drawn = draws(lambda t: sampler.batch(BATCH, seed=5, step=t))
    for d, column in enumerate(sampler.columns):
        counts = real_counts(adult, codec, column)
        weights = np.log1p(counts) if frequency == "log" else counts
        categories = drawn.filter(pl.col("column") == d)["category"].to_numpy()
        observed = np.bincount(categories, minlength=len(counts))
        assert chi2_pvalue(observed, weights / weights.sum()) > ALPHA, column


def test_log_frequency_draws_rare_categories_more_often_than_true(
    adult: pl.DataFrame, codec: Codec
) -> None:
    """The point of ln(1 + count): Holand-Netherlands (one row) gets conditioned on."""
    d = codec.sampler(adult).columns.index("native-country")
    labels = next(lb for c, _, _, lb in codec.blocks if c == "native-country")
    rare = labels.index(" Holand-Netherlands")
    hits = {}
    for frequency in ("log", "true"):
        sampler = codec.sampler(adult, frequency=frequency)
        drawn = draws(lambda t, s=sampler: s.batch(BATCH, seed=1, step=t))
        hits[frequency] = drawn.filter(
            (pl.col("column") == d) & (pl.col("category") == rare)
        ).height
    assert hits["log"] > 20 > hits["true"]


@pytest.mark.parametrize("frequency", ["true", "log"])
def test_generation_conditions_at_real_frequencies(
    adult: pl.DataFrame, codec: Codec, sampler: Sampler, frequency: str
) -> None:
    drawn = draws(lambda t: sampler.conditions(BATCH, seed=2, step=t, frequency=frequency))  # type: ignore[arg-type]
    observed = np.bincount(drawn["column"].to_numpy(), minlength=len(sampler.columns))
    assert chi2_pvalue(observed, np.full(len(observed), 1 / len(observed))) > ALPHA
    for d, column in enumerate(sampler.columns):
        counts = real_counts(adult, codec, column)
        weights = np.log1p(counts) if frequency == "log" else counts
        categories = drawn.filter(pl.col("column") == d)["category"].to_numpy()
        observed = np.bincount(categories, minlength=len(counts))
        assert chi2_pvalue(observed, weights / weights.sum()) > ALPHA, column


# ---------------------------------------------------------------- what a batch holds


def test_every_row_has_the_drawn_category(adult: pl.DataFrame, sampler: Sampler) -> None:
    batch = draws(lambda t: sampler.batch(BATCH, seed=9, step=t), steps=20)
    for d, span in enumerate(sampler.condition_spans):
        mine = batch.filter(pl.col("column") == d)
        values = adult[span.column].gather(mine["row"]).to_list()
        assert values == [span.labels[c] for c in mine["category"].to_list()]
        assert mine.height > 0


def test_condition_is_one_hot_where_the_spans_say(
    adult: pl.DataFrame, codec: Codec, sampler: Sampler
) -> None:
    batch = sampler.batch(2000, seed=4, step=3)
    condition = batch["condition"].to_numpy()
    mask = batch["mask"].to_numpy()
    d = batch["column"].to_numpy()
    category = batch["category"].to_numpy()
    assert condition.shape == (2000, sampler.width)
    assert mask.shape == (2000, len(sampler.columns))
    assert condition.dtype == mask.dtype == np.float32
    assert set(np.unique(condition)) == set(np.unique(mask)) == {0.0, 1.0}
    assert (condition.sum(axis=1) == 1).all()
    assert (mask.sum(axis=1) == 1).all()
    assert (mask.argmax(axis=1) == d).all()
    spans = sampler.condition_spans
    starts = np.array([s.start for s in spans])
    assert (condition.argmax(axis=1) == starts[d] + category).all()
    # The spans against the codec's own: the softmax span of each categorical column,
    # back to back in the condition vector, every label the feature's.
    softmax = {s.column: (s.start, s.stop) for s in codec.spans if s.activation == "softmax"}
    at = 0
    for span in spans:
        assert (span.feature_start, span.feature_stop) == softmax[span.column]
        assert (span.start, span.stop) == (at, at + span.feature_stop - span.feature_start)
        names = codec.feature_names[span.feature_start : span.feature_stop]
        assert names == [f"{span.column}_{label}" for label in span.labels]
        at = span.stop
    assert at == sampler.width
    # Each condition block equals the codec's encoding of the returned real row there.
    x = codec.encode(adult, layout="matrix", seed=0)["features"].to_numpy()
    rows = x[batch["row"].to_numpy()]
    for k, span in enumerate(spans):
        mine = d == k
        np.testing.assert_array_equal(
            condition[mine, span.start : span.stop],
            rows[mine, span.feature_start : span.feature_stop],
        )


def test_outputs_are_views_for_numpy(sampler: Sampler) -> None:
    batch = sampler.batch(BATCH, seed=1, step=1)
    for name in ("condition", "mask"):
        assert batch[name].n_chunks() == 1
        assert batch[name].null_count() == 0
        a, b = batch[name].to_numpy(), batch[name].to_numpy()
        assert np.shares_memory(a, b), name  # two views of one buffer: neither copied
        assert a.flags.c_contiguous
    conditions = sampler.conditions(BATCH, seed=1)["condition"]
    assert np.shares_memory(conditions.to_numpy(), conditions.to_numpy())


def test_torch_shares_the_buffer(sampler: Sampler) -> None:
    torch = pytest.importorskip("torch")
    condition = sampler.batch(BATCH, seed=1, step=1)["condition"].to_numpy()
    assert torch.from_numpy(condition).data_ptr() == condition.ctypes.data


# ---------------------------------------------------------------- seeds and steps


def test_same_seed_and_step_same_batch(codec: Codec, adult: pl.DataFrame) -> None:
    sampler = codec.sampler(adult)
    first = sampler.batch(BATCH, seed=42, step=17)
    sampler.batch(BATCH, seed=1, step=2)  # other draws in between change nothing
    np.random.seed(0)  # noqa: NPY002 - numpy's global state plays no part
    rebuilt = codec.sampler(adult.lazy())
    assert rebuilt.batch(BATCH, seed=42, step=17).equals(first)
    assert sampler.batch(BATCH, seed=42, step=17).equals(first)
    assert not sampler.batch(BATCH, seed=42, step=18).equals(first)
    assert not sampler.batch(BATCH, seed=43, step=17).equals(first)
    # A smaller draw at the same step is the larger one's first elements.
    assert sampler.batch(100, seed=42, step=17).equals(first.head(100))
    # Batches and generation conditions draw from different streams.
    conditions = sampler.conditions(BATCH, seed=42, step=17, frequency="log")
    assert not conditions.equals(first.drop("row"))
    # An unseeded draw is fresh each time.
    assert not sampler.batch(BATCH).equals(sampler.batch(BATCH))


def test_the_search_for_many_columns_gives_the_same_draws(
    codec: Codec, adult: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 4095 columns the category is found column by column: the same formula."""
    keyed = codec.sampler(adult)
    monkeypatch.setattr(sampling, "_KEYED_COLUMNS", 0)
    looped = codec.sampler(adult)
    assert looped._keys == {}
    for seed in (0, 3):
        assert looped.batch(BATCH, seed=seed, step=5).equals(keyed.batch(BATCH, seed=seed, step=5))
        assert looped.conditions(BATCH, seed=seed).equals(keyed.conditions(BATCH, seed=seed))


# ---------------------------------------------------------------- fixed conditions


def test_fixed_conditions(sampler: Sampler) -> None:
    spans = {s.column: s for s in sampler.condition_spans}
    span = spans["sex"]
    out = sampler.conditions(7, column="sex", value=" Female")
    condition = out["condition"].to_numpy()
    want = np.zeros(sampler.width, dtype=np.float32)
    want[span.start + span.labels.index(" Female")] = 1.0
    assert (condition == want).all()
    assert out["column"].to_list() == [sampler.columns.index("sex")] * 7
    assert out["category"].to_list() == [span.labels.index(" Female")] * 7
    assert (out["mask"].to_numpy().argmax(axis=1) == sampler.columns.index("sex")).all()


def test_nulls_and_infrequent_categories() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    colour = rng.choice(["red", "green", "blue", "teal", "plum"], n, p=[0.5, 0.3, 0.17, 0.02, 0.01])
    colour_list: list[str | None] = list(colour)
    for i in rng.choice(n, 200, replace=False):
        colour_list[i] = None
    size = rng.choice([1, 2, 3, 40], n, p=[0.4, 0.4, 0.19, 0.01]).tolist()
    flag: list[bool | None] = [bool(v) for v in rng.integers(0, 2, n)]
    flag[5] = None
    real = pl.DataFrame(
        {"colour": colour_list, "size": size, "flag": flag, "x": rng.normal(size=n)}
    )
    codec = Codec.fit(real, ["colour", "size", "flag"], min_frequency=100)
    sampler = codec.sampler(real, frequency="log")
    # Each real value's field, worked out from the counts apart from the codec.
    fields: dict[str, list[str]] = {}
    for name in ("colour", "size", "flag"):
        counts = real[name].drop_nulls().value_counts()
        rare = set(counts.filter(pl.col("count") < 100)[name].to_list())
        fields[name] = [
            "null" if v is None else "other" if v in rare else str(v).lower()
            for v in real[name].to_list()
        ]
    batch = draws(lambda t: sampler.batch(BATCH, seed=8, step=t), steps=20)
    seen = set()
    for d, span in enumerate(sampler.condition_spans):
        mine = batch.filter(pl.col("column") == d)
        for category, row in mine.select("category", "row").iter_rows():
            label = span.labels[category].lower()
            assert fields[span.column][row] == label, (span.column, row)
            seen.add((span.column, label))
    assert {("colour", "null"), ("colour", "other"), ("size", "other"), ("flag", "null")} <= seen
    assert sampler.columns == ["colour", "size", "flag"]  # the numeric x does not condition
    spans = {s.column: s for s in sampler.condition_spans}
    for column, value, label in [
        ("colour", None, "null"),
        ("colour", "plum", "other"),
        ("colour", "other", "other"),
        ("colour", "red", "red"),
        ("size", 40, "other"),
        ("size", 2, "2"),
        ("flag", True, "true"),
        ("flag", None, "null"),
    ]:
        out = sampler.conditions(2, column=column, value=value)
        assert out["category"].to_list() == [spans[column].labels.index(label)] * 2, value


# ---------------------------------------------------------------- hostile arguments


def test_hostile_arguments_raise_clear_errors(
    sampler: Sampler, codec: Codec, adult: pl.DataFrame
) -> None:
    cases: list[tuple[Any, type[Exception], str]] = [
        (
            lambda: sampler.batch(0, seed=1),
            ValueError,
            r"size must be an int in \[1, 2\*\*31\), got 0",
        ),
        (lambda: sampler.batch(-3, seed=1), ValueError, "got -3"),
        (lambda: sampler.batch(2**31, seed=1), ValueError, "size must be"),
        (lambda: sampler.batch(2.5, seed=1), TypeError, "size must be an int, got float"),  # type: ignore[arg-type]
        (lambda: sampler.batch(True, seed=1), TypeError, "got bool"),
        (
            lambda: sampler.batch(5, seed=1, step=-1),
            ValueError,
            r"step must be in \[0, 2\*\*64\), got -1",
        ),
        (lambda: sampler.batch(5, seed=1, step=2**64), ValueError, "step must be"),
        (lambda: sampler.batch(5, seed=1, step="1"), TypeError, "step must be an int, got str"),  # type: ignore[arg-type]
        (lambda: sampler.batch(5, seed=-1), ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        (lambda: sampler.batch(5, seed=1.0), TypeError, "seed must be an int or None, got float"),  # type: ignore[arg-type]
        (lambda: sampler.conditions(0), ValueError, "size must be"),
        (
            lambda: sampler.conditions(5, frequency="uniform"),  # type: ignore[arg-type]
            ValueError,
            "frequency must be one of",
        ),
        (
            lambda: sampler.conditions(5, column="nope", value="x"),
            ValueError,
            r"expected column to be one of the codec's categorical columns "
            r"\['workclass'.*got 'nope'",
        ),
        (
            lambda: sampler.conditions(5, column="age", value=30),
            ValueError,
            "column 'age' is numeric; only categorical columns condition",
        ),
        (
            lambda: sampler.conditions(5, column="sex", value="Female"),
            ValueError,
            r"expected a category of column 'sex', one of \[' Female', ' Male'\]; got 'Female'",
        ),
        (lambda: sampler.conditions(5, column="sex", value=1), ValueError, r"got 1 \(int\)"),
        (lambda: sampler.conditions(5, column="sex", value=None), ValueError, "no null field"),
        (lambda: sampler.conditions(5, value=" Male"), ValueError, "a value .* needs a column"),
        (lambda: sampler.conditions(5, column=3, value=" Male"), TypeError, "column name"),  # type: ignore[arg-type]
        (lambda: sampler.conditions(5, column="a\x00b", value=1), ValueError, "NUL"),
        (lambda: Sampler(codec, adult, frequency="often"), ValueError, "frequency must be one of"),  # type: ignore[arg-type]
        (lambda: Sampler("codec", adult), TypeError, "expected a fitted Codec, got str"),  # type: ignore[arg-type]
        (lambda: Sampler(codec, adult.to_pandas()), TypeError, "DataFrame or a LazyFrame, got"),
        (
            lambda: Sampler(codec, adult.drop("sex")),
            ValueError,
            "expected the real table to hold the codec's categorical column 'sex'",
        ),
        (lambda: Sampler(codec, adult.head(0)), ValueError, "got 0 rows"),
        (
            lambda: Codec.fit(adult.select("age", "fnlwgt")).sampler(adult),
            ValueError,
            r"at least one categorical column to condition on, "
            r"got only numeric columns \['age', 'fnlwgt'\]",
        ),
        (
            lambda: Codec.fit(pl.DataFrame({"s": ["a", "b"]})).sampler(
                pl.DataFrame({"s": [None, None]}, schema={"s": pl.String})
            ),
            ValueError,
            "column 's' has no real row of any of its 2 categories",
        ),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    # A value the codec has never seen is an error of the codec's encode, naming it.
    with pytest.raises(pl.exceptions.ComputeError, match="' Mars' in column 'native-country'"):
        codec.sampler(adult.with_columns(pl.lit(" Mars").alias("native-country")))


def test_sampler_of_an_int_and_boolean_codec_refuses_mistyped_values() -> None:
    real = pl.DataFrame({"n": [1, 2, 2, 3], "b": [True, False, True, True]})
    sampler = Codec.fit(real, ["n", "b"]).sampler(real)
    with pytest.raises(ValueError, match=r"got True \(bool\)"):
        sampler.conditions(1, column="n", value=True)
    with pytest.raises(ValueError, match=r"got 1 \(int\)"):
        sampler.conditions(1, column="b", value=1)
    with pytest.raises(ValueError, match=r"got '2' \(str\)"):
        sampler.conditions(1, column="n", value="2")
    assert sampler.conditions(1, column="n", value=np.int64(3))["category"].to_list() == [2]
    assert sampler.conditions(1, column="b", value=False)["category"].to_list() == [0]


def test_enum_categorical_and_empty_labels() -> None:
    """An Enum category with no row is never drawn (its weight is ln 1 = 0); an empty
    string and a Categorical column are categories like any other."""
    real = pl.DataFrame(
        {
            "s": ["", "a", "a", None],
            "e": pl.Series(["x", "y", "x", "x"], dtype=pl.Enum(["y", "x", "z"])),
            "c": pl.Series(["p", "q", "q", "p"], dtype=pl.Categorical),
        }
    )
    sampler = Codec.fit(real).sampler(real)
    assert [s.labels for s in sampler.condition_spans] == [
        ["", "a", "null"],
        ["y", "x", "z"],
        ["p", "q"],
    ]
    batch = draws(lambda t: sampler.batch(BATCH, seed=6, step=t), steps=10)
    for d, category, row in batch.select("column", "category", "row").iter_rows():
        span = sampler.condition_spans[d]
        value = real[row, span.column]
        assert (
            (span.labels[category] == "null") if value is None else span.labels[category] == value
        )
    e = batch.filter(pl.col("column") == 1)["category"]
    assert set(e.to_list()) == {0, 1}  # never "z"
