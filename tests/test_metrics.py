"""polars_gumbel.metrics against SDMetrics 0.32 (subsampling off), metric by metric, on
the Adult table and on hostile frames: every score within 1e-9, and null (with a note)
exactly where SDMetrics gives NaN or raises."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from polars_gumbel import Codec, metrics
from polars_gumbel.data import ADULT

sdmetrics = pytest.importorskip("sdmetrics")
from sdmetrics.column_pairs import (  # noqa: E402
    ContingencySimilarity,
    CorrelationSimilarity,
)
from sdmetrics.reports.single_table import QualityReport  # noqa: E402
from sdmetrics.single_column import (  # noqa: E402
    CategoryAdherence,
    CategoryCoverage,
    KSComplement,
    MissingValueSimilarity,
    TVComplement,
)

TOL = 1e-9


def reference(f: Callable[[], Any]) -> float | None:
    """SDMetrics' score, or None where it raises or gives NaN."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(f())
    except Exception:
        return None
    return None if math.isnan(value) else value


def eager(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    assert isinstance(frame, pl.DataFrame)
    return frame


def same(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return abs(ours - theirs) <= TOL


def pandas(df: pl.DataFrame) -> pd.DataFrame:
    """The frame as SDMetrics reads it. An Enum or Categorical column goes over as
    strings: pandas' categorical dtype would make SDMetrics count categories that no
    row holds, where ours counts the values the rows hold."""
    cats = [c for c, d in df.schema.items() if isinstance(d, (pl.Enum, pl.Categorical))]
    return df.with_columns(pl.col(cats).cast(pl.String)).to_pandas()


def metadata(kinds: Mapping[str, str]) -> dict[str, Any]:
    return {"columns": {c: {"sdtype": k} for c, k in kinds.items()}}


@pytest.fixture(scope="module")
def real() -> pl.DataFrame:
    return pl.read_parquet(ADULT).head(4000)


@pytest.fixture(scope="module")
def synthetic(real: pl.DataFrame) -> pl.DataFrame:
    """A decoded generator draw: every column resampled through the Codec, so the
    categories, ranges and nulls differ from the real table's as a model's would."""
    codec = Codec.fit(real, seed=3)
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(3000, codec.width)).astype(np.float32)
    return codec.decode(scores, method="sample", seed=11)


COLUMN_METRICS: list[tuple[Callable[..., Any], Any, bool]] = [
    (metrics.tv_complement, TVComplement, False),
    (metrics.category_coverage, CategoryCoverage, False),
    (metrics.category_adherence, CategoryAdherence, False),
    (metrics.missing_value_similarity, MissingValueSimilarity, False),
    (metrics.ks_complement, KSComplement, True),
]


def check_columns(real: pl.DataFrame, synthetic: pl.DataFrame) -> None:
    pr, ps = pandas(real), pandas(synthetic)
    kinds = metrics.column_kinds(real)
    for ours_fn, theirs, numerical_only in COLUMN_METRICS:
        cols = [c for c in real.columns if not numerical_only or kinds[c] == "numerical"]
        ours = eager(ours_fn(real, synthetic, cols))
        assert ours.get_column("column").to_list() == cols
        for c, score, note in ours.select("column", "score", "note").rows():
            expected = reference(partial(theirs.compute, pr[c], ps[c]))
            assert same(score, expected), (theirs.__name__, c, score, expected)
            assert (score is None) == (note is not None), (theirs.__name__, c, note)


def check_pairs(
    real: pl.DataFrame,
    synthetic: pl.DataFrame,
    differ: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> None:
    """Contingency and correlation against SDMetrics; ``differ`` names the pairs that
    SDMetrics cannot bin (a real value is infinite) and we can."""
    pr, ps = pandas(real), pandas(synthetic)
    kinds = metrics.column_kinds(real)
    continuous = [c for c, k in kinds.items() if k == "numerical"]
    ours = eager(metrics.contingency_similarity(real, synthetic))
    pairs = list(itertools.combinations(real.columns, 2))
    assert ours.select("column_1", "column_2").rows() == pairs
    for a, b, score in ours.select("column_1", "column_2", "score").rows():
        cont = [c for c in (a, b) if c in continuous] or None
        expected = reference(
            partial(
                ContingencySimilarity.compute, pr[[a, b]], ps[[a, b]], continuous_column_names=cont
            )
        )
        if (a, b) in differ:
            assert expected is None
            assert score is not None
            continue
        assert same(score, expected), ("contingency", a, b, score, expected)
    for coefficient in ("pearson", "spearman"):
        name = coefficient.capitalize()
        corr = eager(metrics.correlation_similarity(real, synthetic, coefficient=coefficient))
        assert corr.height == math.comb(len(continuous), 2)
        rows = corr.select("column_1", "column_2", "score", "note", "real_correlation").rows()
        for a, b, score, note, real_corr in rows:
            expected = reference(
                partial(CorrelationSimilarity.compute, pr[[a, b]], ps[[a, b]], coefficient=name)
            )
            if expected is None and real_corr == 0.0:
                # SDMetrics' threshold test is `|r| <= 0`, so a real correlation of
                # exactly zero gives NaN; ours gives the score.
                assert (
                    score
                    == 1 - abs(corr.filter(pl.col("column_1") == a)["synthetic_correlation"][0]) / 2
                )
                continue
            assert same(score, expected), (coefficient, a, b, score, expected, note)
            assert (score is None) == (note is not None)


def sdmetrics_report(
    real: pl.DataFrame,
    synthetic: pl.DataFrame,
    kinds: Mapping[str, str],
    thresholds: bool = True,
) -> QualityReport:
    report = QualityReport()
    report.num_rows_subsample = None
    if not thresholds:
        report.real_correlation_threshold = 0
        report.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(pandas(real), pandas(synthetic), metadata(kinds), verbose=False)
    return report


def check_report(
    real: pl.DataFrame,
    synthetic: pl.DataFrame,
    codec: Codec | None = None,
    differ: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> metrics.QualityReport:
    """Our report against SDMetrics', score by score; ``differ`` names the pairs where we
    give a score and SDMetrics NaN (documented)."""
    ours = metrics.quality_report(real, synthetic, codec)
    kinds = metrics.column_kinds(real, codec=codec)
    theirs = sdmetrics_report(real, synthetic, kinds)
    # Every pair's score, as SDMetrics gives it with no threshold.
    unfiltered = sdmetrics_report(real, synthetic, kinds, thresholds=False)
    shapes = theirs.get_details("Column Shapes")
    expected = dict(zip(shapes["Column"], shapes["Score"]))
    for c, metric, score in ours.columns.select("column", "metric", "score").rows():
        want = expected[c]
        want = None if want is None or math.isnan(want) else float(want)
        assert same(score, want), ("shape", c, metric, score, want)
    trends = theirs.get_details("Column Pair Trends")
    every = unfiltered.get_details("Column Pair Trends")
    meets = dict(zip(zip(trends["Column 1"], trends["Column 2"]), trends["Meets Threshold?"]))
    expected_pairs = {
        (a, b): (m, s)
        for a, b, m, s in zip(every["Column 1"], every["Column 2"], every["Metric"], every["Score"])
    }
    assert len(expected_pairs) == ours.pairs.height
    rows = ours.pairs.select("column_1", "column_2", "metric", "score", "meets_threshold").rows()
    for a, b, metric, score, our_meets in rows:
        want_metric, want = expected_pairs[(a, b)]
        assert metric == want_metric
        want = None if math.isnan(want) else float(want)
        if (a, b) in differ:
            assert want is None
            assert score is not None
            continue
        assert same(score, want), ("trend", a, b, metric, score, want)
        their_meets = meets[(a, b)]
        assert our_meets == (False if pd.isna(their_meets) else bool(their_meets)), (a, b)
    props = theirs.get_properties()
    their_props = dict(zip(props["Property"], props["Score"]))
    for name, value in (
        ("Column Shapes", ours.column_shapes),
        ("Column Pair Trends", ours.column_pair_trends),
    ):
        if not differ:
            assert same(value, reference(partial(their_props.__getitem__, name)))
    if not differ:
        assert same(ours.score, reference(theirs.get_score))
    return ours


def test_adult_columns_match_sdmetrics(real: pl.DataFrame, synthetic: pl.DataFrame) -> None:
    check_columns(real, synthetic)


def test_adult_pairs_match_sdmetrics(real: pl.DataFrame, synthetic: pl.DataFrame) -> None:
    check_pairs(real, synthetic)


def test_adult_quality_report_matches_sdmetrics(
    real: pl.DataFrame, synthetic: pl.DataFrame
) -> None:
    report = check_report(real, synthetic)
    assert report.columns.height == 15
    assert report.pairs.height == 105
    assert report.columns.get_column("score").null_count() == 0
    text = report.summary()
    assert "Column Shapes" in text
    assert "Weakest columns" in text


def test_adult_report_with_a_codec_takes_its_kinds(
    real: pl.DataFrame, synthetic: pl.DataFrame
) -> None:
    # Fitted with no numeric transform, the codec encodes only the categorical
    # columns; with one, every numeric column is numerical.
    codec = Codec.fit(real, seed=3)
    report = check_report(real, synthetic, codec)
    metric = dict(report.columns.select("column", "metric").rows())
    assert metric["age"] == "KSComplement"
    assert metric["sex"] == "TVComplement"
    as_categories = metrics.column_kinds(real, kinds={"education-num": "categorical"})
    check_report_with_kinds(real, synthetic, as_categories)


def check_report_with_kinds(
    real: pl.DataFrame, synthetic: pl.DataFrame, kinds: dict[str, metrics.Kind]
) -> None:
    ours = metrics.quality_report(real, synthetic, kinds=kinds)
    theirs = sdmetrics_report(real, synthetic, dict(kinds))
    assert same(ours.score, reference(theirs.get_score))


def test_the_real_table_against_itself_scores_one(real: pl.DataFrame) -> None:
    report = metrics.quality_report(real, real)
    assert report.score == pytest.approx(1.0, abs=1e-12)


def frame(**columns: Any) -> pl.DataFrame:
    return pl.DataFrame(columns, strict=False)


HOSTILE: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {
    "all-null column": (
        frame(
            c=["a", "b", "a"], x=[1.0, 2.0, 3.0], n=pl.Series([None, None, None], dtype=pl.String)
        ),
        frame(c=["a", "a", "b", "b"], x=[1.0, 2.5, 3.0, 2.0], n=pl.Series(["q", None, None, None])),
    ),
    "unseen categories": (
        frame(c=["a", "b", "a", "c"], x=[1.0, 2.0, 3.0, 4.0]),
        frame(c=["z", "a", "y", "y"], x=[2.0, 2.0, 3.0, 5.0]),
    ),
    "one row": (frame(c=["a"], x=[1.0]), frame(c=["a"], x=[2.0])),
    "constant": (
        frame(c=["a", "a", "a"], x=[1.0, 1.0, 1.0], y=[1.0, 2.0, 4.0]),
        frame(c=["a", "b", "a"], x=[1.0, 2.0, 1.0], y=[2.0, 2.0, 2.0]),
    ),
    "enum against string": (
        frame(c=pl.Series(["a", "b", "a", None], dtype=pl.Enum(["b", "a", "q"])), x=[1, 2, 3, 4]),
        frame(c=["a", None, "b", "b"], x=[1, 2, 2, 9]),
    ),
    "nulls and nan": (
        frame(
            c=["a", None, "b", "a", None],
            x=[1.0, None, float("nan"), 4.0, 5.0],
            y=[1, 2, None, 4, 1],
        ),
        frame(
            c=[None, None, "b", "a", "a"],
            x=[float("nan"), 2.0, 3.0, None, 1.0],
            y=[2, 2, 3, None, 5],
        ),
    ),
    "values near 1e300 and 1e-300": (
        frame(x=[1e300, 3e300, 2e300, 5e300, 4e300], y=[1e-300, 4e-300, 2e-300, 3e-300, 5e-300]),
        frame(x=[2e300, 1e300, 5e300, 3e300, 4e300], y=[3e-300, 1e-300, 5e-300, 2e-300, 4e-300]),
    ),
    "booleans and integers": (
        frame(b=[True, False, None, True], i=[1, 5, 5, None], c=["x", "y", "x", "x"]),
        frame(b=[False, False, True, None], i=[5, 5, 2, 2], c=["x", "x", "y", None]),
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_frames_match_sdmetrics(case: str) -> None:
    r, s = HOSTILE[case]
    check_columns(r, s)
    check_pairs(r, s)
    check_report(r, s)


def test_zero_rows_give_null_scores_with_notes() -> None:
    r = frame(c=["a", "b"], x=[1.0, 2.0])
    s = r.clear()
    check_columns(r, s)
    check_pairs(r, s)
    for fn in (metrics.tv_complement, metrics.ks_complement, metrics.category_adherence):
        out = eager(fn(r, s))
        assert out.get_column("score").null_count() == out.height
        assert out.get_column("note").null_count() == 0
    both_empty = metrics.quality_report(s, s)
    assert both_empty.column_shapes is None


def test_infinite_values() -> None:
    """KSComplement and the standalone contingency (open-ended bins) match SDMetrics
    with ±inf; correlations are null with a note, as SDMetrics' are NaN. The report
    bins a column holding ±inf by its finite range, where SDMetrics cannot bin it."""
    inf = float("inf")
    r = frame(
        c=["a", "b", "a", "b", "a"], x=[1.0, -inf, 3.0, inf, 2.0], y=[1.0, 2.0, 3.0, 5.0, 1.0]
    )
    s = frame(
        c=["a", "a", "a", "b", "b"], x=[inf, 2.0, 3.0, 1.0, 1e308], y=[2.0, 2.0, 3.0, 1.0, 1.0]
    )
    check_columns(r, s)
    check_pairs(r, s, differ={("c", "x"), ("x", "y")})
    corr = eager(metrics.correlation_similarity(r, s))
    assert corr.get_column("note").to_list() == ["an infinite value"]
    report = check_report(r, s, differ={("c", "x")})
    binned = report.pairs.filter(pl.col("column_1") == "c", pl.col("column_2") == "x")
    # Finite bins of x: the real -inf falls before the first edge, +inf past the last.
    assert 0.0 <= binned.get_column("score").item() <= 1.0


def test_lazy_inputs_stay_lazy(real: pl.DataFrame, synthetic: pl.DataFrame) -> None:
    out = metrics.tv_complement(real.lazy(), synthetic.lazy())
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().equals(eager(metrics.tv_complement(real, synthetic)))


def test_errors_name_what_was_expected() -> None:
    r = frame(c=["a"], x=[1.0])
    with pytest.raises(pl.exceptions.ColumnNotFoundError, match="synthetic lacks"):
        eager(metrics.tv_complement(r, frame(c=["a"])))
    with pytest.raises(pl.exceptions.InvalidOperationError, match="numerical columns"):
        eager(metrics.ks_complement(r, r, ["c"]))
    with pytest.raises(ValueError, match="coefficient"):
        eager(metrics.correlation_similarity(r, r, coefficient="kendall"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bins"):
        eager(metrics.contingency_similarity(r, r, bins=0))
    with pytest.raises(TypeError, match="DataFrame or LazyFrame"):
        eager(metrics.tv_complement(r, {"c": ["a"]}))  # type: ignore[arg-type]
    with pytest.raises(pl.exceptions.InvalidOperationError, match="dtype"):
        metrics.column_kinds(r, kinds={"c": "numerical"})


def test_scores_are_the_same_bits_on_every_run(real: pl.DataFrame, synthetic: pl.DataFrame) -> None:
    """SDMetrics subsamples, so its scores change from run to run; ours are exact, and
    summed in one order whatever order the group-bys hand rows over in."""
    runs = {
        (
            metrics.quality_report(real, synthetic).pairs.get_column("score").to_list().__repr__(),
            eager(metrics.tv_complement(real, synthetic)).get_column("score").to_list().__repr__(),
        )
        for _ in range(4)
    }
    assert len(runs) == 1


def test_tables_of_one_kind_of_column() -> None:
    """A table of numbers only, or of categories only: the report has the one kind of
    column shape, and pairs of that kind."""
    numbers = frame(x=[1.0, 2.0, 3.0, 5.0], y=[2, 1, 4, 3])
    report = check_report(numbers, frame(x=[1.0, 2.5, 3.0, 4.0], y=[1, 2, 3, 3]))
    assert set(report.columns["metric"]) == {"KSComplement"}
    labels = frame(a=["x", "y", "x", "x"], b=["p", "q", "q", "p"])
    report = check_report(labels, frame(a=["y", "y", "x", "x"], b=["p", "p", "q", "p"]))
    assert set(report.columns["metric"]) == {"TVComplement"}


def test_columns_the_metrics_cannot_compare_are_named() -> None:
    lists = frame(c=["a", "b"], l=[[1], [2]])
    with pytest.raises(pl.exceptions.InvalidOperationError, match=r"'l' of the real table"):
        metrics.quality_report(lists, lists)
    with pytest.raises(pl.exceptions.InvalidOperationError, match=r"'x' is numerical.*String"):
        metrics.quality_report(frame(x=[1, 2]), frame(x=["a", "b"]))
