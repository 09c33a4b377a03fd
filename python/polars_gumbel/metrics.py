"""How close a synthetic table is to the real one: SDMetrics' fidelity metrics, computed
exactly on every row, lazily, in Polars.

Each metric follows the definition of SDMetrics 0.32 to the float (the tests compare
them within 1e-9), with two differences of principle: nothing is subsampled, and where
SDMetrics gives NaN or raises (a column with no values to compare, a constant column, a
bin range that is not finite) the score is null and ``note`` says why.

- Per column: :func:`tv_complement`, :func:`category_coverage`,
  :func:`category_adherence`, :func:`missing_value_similarity` (any column) and
  :func:`ks_complement` (numeric columns).
- Per pair of columns: :func:`contingency_similarity` and
  :func:`correlation_similarity` (Pearson or Spearman).
- :func:`quality_report`: SDMetrics' quality report, its "column shapes" and "column
  pair trends", every column and pair in one lazy plan.

Every function takes a real and a synthetic ``DataFrame`` or ``LazyFrame``. Given two
DataFrames it returns a DataFrame; given a LazyFrame, a LazyFrame that computes the
scores when collected. A column's kind is ``"numerical"`` for numbers, dates, datetimes
and durations and ``"categorical"`` otherwise, unless a :class:`~polars_gumbel.Codec` or
a ``kinds`` mapping says otherwise.

Categorical values are counted by the plugin's ``counts`` kernel: each column becomes
dense codes once, and each pair one table of ``a · K_b + b`` counters, rather than a
group-by on strings per pair.

Imports :mod:`polars_gumbel._plugin` (the plugin call) and, for its type only,
:mod:`polars_gumbel.codec`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

import polars as pl

from polars_gumbel._plugin import _plugin

if TYPE_CHECKING:
    from polars_gumbel.codec import Codec

Frame = Union[pl.DataFrame, pl.LazyFrame]
Kind = Literal["categorical", "numerical"]
Coefficient = Literal["pearson", "spearman"]

#: SDMetrics' weight of a synthetic category the real column lacks (its ``get_frequencies``).
_UNSEEN = 1e-6
#: The decimals SDMetrics rounds numbers to before its KS test (``sys.float_info.dig - 1``).
_KS_DECIMALS = 14
#: SDMetrics' bins of a numeric column in a contingency table.
BINS = 10

_PAIR_SCHEMA = {
    "column_1": pl.String,
    "column_2": pl.String,
    "metric": pl.String,
    "score": pl.Float64,
    "real_correlation": pl.Float64,
    "synthetic_correlation": pl.Float64,
    "real_association": pl.Float64,
    "note": pl.String,
}
#: SDMetrics' quality report counts a pair of numerical columns only where the real
#: correlation's size is above this, and another pair only where the real Cramér's V is.
CORRELATION_THRESHOLD = 0.5
ASSOCIATION_THRESHOLD = 0.3
_COLUMN_SCHEMA = {
    "column": pl.String,
    "metric": pl.String,
    "score": pl.Float64,
    "real": pl.Float64,
    "synthetic": pl.Float64,
    "note": pl.String,
}


def _lazy(real: Frame, synthetic: Frame) -> tuple[pl.LazyFrame, pl.LazyFrame, bool]:
    for name, frame in (("real", real), ("synthetic", synthetic)):
        if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
            msg = f"{name} must be a polars DataFrame or LazyFrame, got {type(frame).__name__}"
            raise TypeError(msg)
    eager = isinstance(real, pl.DataFrame) and isinstance(synthetic, pl.DataFrame)
    return real.lazy(), synthetic.lazy(), eager


def _finish(lf: pl.LazyFrame, eager: bool) -> Frame:
    return lf.collect() if eager else lf


def _is_numerical(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype.is_temporal()


def _is_countable(dtype: pl.DataType) -> bool:
    """Whether the metrics can compare a column of this dtype."""
    countable = (pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Null)
    return _is_numerical(dtype) or isinstance(dtype, countable) or dtype in countable


def column_kinds(
    real: Frame,
    synthetic: Frame | None = None,
    codec: Codec | None = None,
    kinds: Mapping[str, Kind] | None = None,
) -> dict[str, Kind]:
    """The kind of every column of ``real``: from ``kinds``, else from the ``codec``
    (a numeric entry is numerical, a categorical one categorical), else from the dtype.
    Checks that ``synthetic`` has the same columns.

    Examples
    --------
    >>> import polars as pl
    >>> column_kinds(pl.DataFrame({"a": ["x"], "b": [1.5], "c": [True]}))
    {'a': 'categorical', 'b': 'numerical', 'c': 'categorical'}
    """
    schema = real.collect_schema()
    if synthetic is not None:
        other = synthetic.collect_schema()
        missing = [c for c in schema if c not in other]
        extra = [c for c in other if c not in schema]
        if missing or extra:
            msg = (
                "the real and synthetic tables must have the same columns: "
                f"synthetic lacks {missing}, real lacks {extra}"
            )
            raise pl.exceptions.ColumnNotFoundError(msg)
    from_codec: dict[str, Kind] = {}
    if codec is not None:
        numeric = {s.column for s in codec.spans if s.activation != "softmax"}
        for c in codec.columns:
            from_codec[c] = "numerical" if c in numeric else "categorical"
    given = dict(kinds or {})
    for c, k in given.items():
        if k not in ("categorical", "numerical"):
            msg = f"kind of column {c!r} must be 'categorical' or 'numerical', got {k!r}"
            raise ValueError(msg)
        if c not in schema:
            msg = f"kinds names column {c!r}, which the real table lacks"
            raise pl.exceptions.ColumnNotFoundError(msg)
    out: dict[str, Kind] = {}
    other_schema = synthetic.collect_schema() if synthetic is not None else schema
    for c, dtype in schema.items():
        for table, d in (("real", dtype), ("synthetic", other_schema[c])):
            if not _is_countable(d):
                msg = (
                    f"column {c!r} of the {table} table has dtype {d}; the metrics compare "
                    "String, Categorical, Enum, Boolean, numeric and temporal columns"
                )
                raise pl.exceptions.InvalidOperationError(msg)
        if c in given:
            out[c] = given[c]
        elif c in from_codec:
            out[c] = from_codec[c]
        else:
            out[c] = "numerical" if _is_numerical(dtype) else "categorical"
        if out[c] == "numerical" and not _is_numerical(dtype):
            msg = f"column {c!r} is numerical but has dtype {dtype}"
            raise pl.exceptions.InvalidOperationError(msg)
        if out[c] == "numerical" and not _is_numerical(other_schema[c]):
            msg = (
                f"column {c!r} is numerical, with dtype {dtype} in the real table, but has "
                f"dtype {other_schema[c]} in the synthetic one"
            )
            raise pl.exceptions.InvalidOperationError(msg)
    return out


def _columns(kinds: dict[str, Kind], columns: Iterable[str] | None, want: Kind | None) -> list[str]:
    if columns is None:
        return [c for c, k in kinds.items() if want is None or k == want]
    chosen = list(columns)
    for c in chosen:
        if c not in kinds:
            msg = f"no column {c!r} in the real table"
            raise pl.exceptions.ColumnNotFoundError(msg)
        if want is not None and kinds[c] != want:
            msg = f"column {c!r} is {kinds[c]}, but this metric takes {want} columns"
            raise pl.exceptions.InvalidOperationError(msg)
    return chosen


def _as_number(column: str, dtype: pl.DataType) -> pl.Expr:
    """A numerical column as Float64, NaN made null: temporal columns as their integers.
    (Only a float column can hold a NaN.)"""
    col = pl.col(column)
    if dtype.is_temporal():
        col = col.to_physical()
    col = col.cast(pl.Float64)
    return pl.when(col.is_nan()).then(None).otherwise(col) if dtype.is_float() else col


def _counts(
    frame: pl.LazyFrame,
    inputs: list[pl.Expr],
    groups: list[list[int]],
    binned: list[dict[str, Any]] | None = None,
) -> pl.LazyFrame:
    """The occurring cells of each group's table: ``group``, ``first``, ``second`` (the
    values' text, null for null; a binned input's bin number) and ``count``."""
    if not groups:
        return pl.LazyFrame(
            schema={
                "group": pl.UInt32,
                "first": pl.String,
                "second": pl.String,
                "count": pl.UInt64,
            }
        )
    options = {"groups": groups, "binned": binned or []}
    expr = _plugin("counts", inputs, options, elementwise=False, changes_length=True)
    return frame.select(expr.alias("cells")).unnest("cells")


def _kernel_input(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column as the counts kernel reads it: temporal columns as their integers."""
    return pl.col(column).to_physical() if dtype.is_temporal() else pl.col(column)


#: An input of the counts kernel: a column, and whether it is counted by bins.
_Input = tuple[str, bool]


def _cells(
    real: pl.LazyFrame,
    synthetic: pl.LazyFrame,
    inputs: list[_Input],
    groups: list[list[int]],
    bins: int = BINS,
    edges: Mapping[str, list[float] | None] | None = None,
) -> pl.LazyFrame:
    """Every cell of every group's table in either table: ``group``, ``first`` and
    ``second`` (the values' text, null for null; a binned input's bin number), ``r`` and
    ``s`` (its rows in each table, 0 where it does not occur), and ``n_r`` and ``n_s``
    (each table's rows). Each table is read once, by one call of the kernel. A binned
    input is cut by ``edges[column]`` (the inner edges, the outer ones open), or by its
    own table's range where none are given."""
    edges = edges or {}

    def side(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
        schema = frame.collect_schema()
        exprs = [_kernel_input(c, schema[c]).alias(str(i)) for i, (c, _) in enumerate(inputs)]
        binning = [
            {"input": i, "edges": edges.get(c), "bins": bins, "open": edges.get(c) is not None}
            for i, (c, binned) in enumerate(inputs)
            if binned
        ]
        return _counts(frame, exprs, groups, binning).select(
            "group", "first", "second", pl.col("count").cast(pl.Float64).alias(name)
        )

    joined = side(real, "r").join(
        side(synthetic, "s"),
        on=["group", "first", "second"],
        how="full",
        coalesce=True,
        nulls_equal=True,
    )
    return joined.with_columns(pl.col("r", "s").fill_null(0.0)).join(
        _lengths(real, synthetic), how="cross"
    )


def _labelled(cells: pl.LazyFrame, columns: list[str], first_group: int = 0) -> pl.LazyFrame:
    """The one-column groups ``first_group, first_group + 1, ...`` of ``cells``, named
    by ``columns``, with their values as ``label``."""
    names = pl.LazyFrame(
        {"group": range(first_group, first_group + len(columns)), "column": columns},
        schema={"group": pl.UInt32, "column": pl.String},
    )
    return cells.join(names, on="group").rename({"first": "label"}).drop("second")


def _single_counts(real: pl.LazyFrame, synthetic: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Per column and label (null for null): the real and synthetic counts, and each
    table's rows."""
    groups = [[i] for i in range(len(columns))]
    cells = _cells(real, synthetic, [(c, False) for c in columns], groups)
    return _labelled(cells, columns)


def _lengths(real: pl.LazyFrame, synthetic: pl.LazyFrame) -> pl.LazyFrame:
    return real.select(n_r=pl.len()).join(synthetic.select(n_s=pl.len()), how="cross")


def _finite(value: pl.Expr) -> pl.Expr:
    return value.filter(value.is_finite())


def _sum(terms: pl.Expr) -> pl.Expr:
    """The sum of a group's float terms, added in sorted order: a group-by hands over
    its rows in no fixed order, and the sum must be the same bits on every run. (A
    running sum, because the optimizer drops a sort before a plain one.)"""
    return terms.sort().cum_sum().last().fill_null(0.0)


def _null(note: str) -> pl.Expr:
    return pl.lit(note, dtype=pl.String)


def _column_frame(lf: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Rows in the order of ``columns``, with the schema of a per-column result."""
    order = pl.LazyFrame(
        {"column": columns, "_order": list(range(len(columns)))},
        schema={"column": pl.String, "_order": pl.Int64},
    )
    return (
        order.join(lf, on="column", how="left")
        .sort("_order")
        .select(list(_COLUMN_SCHEMA))
        .cast(_COLUMN_SCHEMA)  # type: ignore[arg-type]
    )


def _tv(cells: pl.LazyFrame) -> pl.LazyFrame:
    """TVComplement from per-label counts: null labels dropped, and a synthetic label the
    real column lacks weighs 1e-6 real rows, as SDMetrics' ``get_frequencies`` has it."""
    known = cells.filter(pl.col("label").is_not_null())
    r_weight = pl.when(pl.col("r") > 0).then(pl.col("r")).otherwise(pl.lit(_UNSEEN))
    per_column = known.group_by("column").agg(
        n_r=pl.col("r").sum(),
        n_s=pl.col("s").sum(),
        total_r=_sum(r_weight),
        cells=pl.struct("r", "s"),
    )
    exploded = per_column.explode("cells").unnest("cells")
    r_weight = pl.when(pl.col("r") > 0).then(pl.col("r")).otherwise(pl.lit(_UNSEEN))
    tv = exploded.group_by("column").agg(
        n_r=pl.col("n_r").first(),
        n_s=pl.col("n_s").first(),
        tv=_sum((pl.col("s") / pl.col("n_s") - r_weight / pl.col("total_r")).abs()),
    )
    defined = (pl.col("n_r") > 0) & (pl.col("n_s") > 0)
    return tv.select(
        "column",
        metric=pl.lit("TVComplement"),
        score=pl.when(defined).then(1 - 0.5 * pl.col("tv")),
        real=pl.lit(None, pl.Float64),
        synthetic=pl.lit(None, pl.Float64),
        note=pl.when(~defined).then(_null("no non-null values")),
    )


def _all_columns(cells: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """``cells`` with a row for every column, so a column with no rows at all still
    gets its (null) score."""
    names = pl.LazyFrame({"column": columns}, schema={"column": pl.String})
    return names.join(cells, on="column", how="left")


def tv_complement(real: Frame, synthetic: Frame, columns: Iterable[str] | None = None) -> Frame:
    """1 - the total variation distance of each categorical column's frequencies (nulls
    dropped), SDMetrics' ``TVComplement``.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"c": ["a", "a", "b", None]})
    >>> synthetic = pl.DataFrame({"c": ["a", "b", "b", "b"]})
    >>> tv_complement(real, synthetic).select("column", "score").rows()
    [('c', 0.5833333333333334)]
    """
    r, s, eager = _lazy(real, synthetic)
    kinds = column_kinds(r, s)
    cols = _columns(kinds, columns, None)
    cells = _single_counts(r, s, cols)
    return _finish(_column_frame(_tv(_all_columns(cells, cols)), cols), eager)


def _coverage(cells: pl.LazyFrame) -> pl.LazyFrame:
    known = cells.filter(pl.col("label").is_not_null())
    agg = known.group_by("column").agg(
        real=(pl.col("r") > 0).sum().cast(pl.Float64),
        synthetic=((pl.col("r") > 0) & (pl.col("s") > 0)).sum().cast(pl.Float64),
    )
    defined = pl.col("real") > 0
    return agg.select(
        "column",
        metric=pl.lit("CategoryCoverage"),
        score=pl.when(defined).then(pl.col("synthetic") / pl.col("real")),
        real="real",
        synthetic="synthetic",
        note=pl.when(~defined).then(_null("the real column has no non-null values")),
    )


def category_coverage(real: Frame, synthetic: Frame, columns: Iterable[str] | None = None) -> Frame:
    """The share of the real column's categories (nulls aside) that the synthetic one
    holds, SDMetrics' ``CategoryCoverage``; ``real`` and ``synthetic`` count them.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"c": ["a", "b", "c", None]})
    >>> synthetic = pl.DataFrame({"c": ["a", "a", "z", "b"]})
    >>> category_coverage(real, synthetic).select("score", "real", "synthetic").rows()
    [(0.6666666666666666, 3.0, 2.0)]
    """
    r, s, eager = _lazy(real, synthetic)
    kinds = column_kinds(r, s)
    cols = _columns(kinds, columns, None)
    cells = _single_counts(r, s, cols)
    return _finish(_column_frame(_coverage(_all_columns(cells, cols)), cols), eager)


def _adherence(cells: pl.LazyFrame) -> pl.LazyFrame:
    in_real = pl.col("r") > 0
    # A null is a valid synthetic value when the real column has nulls.
    valid = pl.when(in_real).then(pl.col("s")).otherwise(0.0)
    agg = cells.group_by("column").agg(
        valid=valid.sum(), n_s=pl.col("n_s").first().cast(pl.Float64)
    )
    defined = pl.col("n_s") > 0
    return agg.select(
        "column",
        metric=pl.lit("CategoryAdherence"),
        score=pl.when(defined).then(pl.col("valid") / pl.col("n_s")),
        real=pl.lit(None, pl.Float64),
        synthetic=pl.lit(None, pl.Float64),
        note=pl.when(~defined).then(_null("the synthetic table has no rows")),
    )


def category_adherence(
    real: Frame, synthetic: Frame, columns: Iterable[str] | None = None
) -> Frame:
    """The share of synthetic values that the real column holds (a null counts when the
    real column has nulls), SDMetrics' ``CategoryAdherence``.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"c": ["a", "b"]})
    >>> synthetic = pl.DataFrame({"c": ["a", "z", None, "b"]})
    >>> category_adherence(real, synthetic).select("score").item()
    0.5
    """
    r, s, eager = _lazy(real, synthetic)
    kinds = column_kinds(r, s)
    cols = _columns(kinds, columns, None)
    cells = _single_counts(r, s, cols)
    return _finish(_column_frame(_adherence(_all_columns(cells, cols)), cols), eager)


def _missing_fraction(frame: pl.LazyFrame, columns: list[str], schema: pl.Schema) -> pl.LazyFrame:
    def missing(c: str) -> pl.Expr:
        col = pl.col(c)
        gone = col.is_null()
        if schema[c].is_float():
            gone = gone | col.is_nan()
        return gone.sum().cast(pl.Float64) / pl.len()

    return frame.select([missing(c).alias(c) for c in columns]).unpivot(
        variable_name="column", value_name="fraction"
    )


def _missing(real: pl.LazyFrame, synthetic: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    schema_r, schema_s = real.collect_schema(), synthetic.collect_schema()
    fr = _missing_fraction(real, columns, schema_r).rename({"fraction": "real"})
    fs = _missing_fraction(synthetic, columns, schema_s).rename({"fraction": "synthetic"})
    both = fr.join(fs, on="column", how="full", coalesce=True)
    defined = pl.col("real").is_not_nan() & pl.col("synthetic").is_not_nan()
    return both.select(
        "column",
        metric=pl.lit("MissingValueSimilarity"),
        score=pl.when(defined).then(1 - (pl.col("real") - pl.col("synthetic")).abs()),
        real=pl.col("real").fill_nan(None),
        synthetic=pl.col("synthetic").fill_nan(None),
        note=pl.when(~defined).then(_null("a table has no rows")),
    )


def missing_value_similarity(
    real: Frame, synthetic: Frame, columns: Iterable[str] | None = None
) -> Frame:
    """1 - the difference of the two columns' shares of missing values (null, and NaN
    in a float column), SDMetrics' ``MissingValueSimilarity``; ``real`` and
    ``synthetic`` are the shares.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"x": [1.0, None, 3.0, 4.0]})
    >>> synthetic = pl.DataFrame({"x": [float("nan"), None, 3.0, 4.0]})
    >>> missing_value_similarity(real, synthetic).select("score", "real", "synthetic").rows()
    [(0.75, 0.25, 0.5)]
    """
    r, s, eager = _lazy(real, synthetic)
    kinds = column_kinds(r, s)
    cols = _columns(kinds, columns, None)
    return _finish(_column_frame(_missing(r, s, cols), cols), eager)


def _values(frame: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Each column's distinct values (float ones rounded to 14 decimals as SDMetrics
    rounds them; nulls and NaN dropped) ascending with their rows: ``group`` (the
    column's position), ``value``, ``count``."""
    schema = frame.collect_schema()
    exprs = [_kernel_input(c, schema[c]).alias(str(i)) for i, c in enumerate(columns)]
    options = {"decimals": _KS_DECIMALS}
    expr = _plugin("distinct_values", exprs, options, elementwise=False, changes_length=True)
    return frame.select(expr.alias("values")).unnest("values")


def _ks(real: pl.LazyFrame, synthetic: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """KSComplement of each column: the largest gap between the two tables' running
    shares of the sorted values, ``|c_r · n_s - c_s · n_r| / (n_r · n_s)`` in whole
    numbers until the one division."""
    if not columns:
        return pl.LazyFrame(schema=_COLUMN_SCHEMA)
    side = [
        _values(frame, columns).with_columns(side=pl.lit(i, pl.UInt8))
        for i, frame in enumerate((real, synthetic))
    ]
    inputs = [pl.col("group"), pl.col("value"), pl.col("count"), pl.col("side")]
    gaps = _plugin("ks_gaps", inputs, {}, elementwise=False, changes_length=True)
    stat = pl.concat(side).select(gaps.alias("ks")).unnest("ks")
    names = pl.LazyFrame(
        {"group": range(len(columns)), "column": columns},
        schema={"group": pl.UInt32, "column": pl.String},
    )
    stat = names.join(stat, on="group", how="left").with_columns(
        pl.col("n_r", "n_s").fill_null(0.0)
    )
    defined = (pl.col("n_r") > 0) & (pl.col("n_s") > 0)
    return stat.select(
        "column",
        metric=pl.lit("KSComplement"),
        score=pl.when(defined).then(1 - pl.col("gap") / (pl.col("n_r") * pl.col("n_s"))),
        real=pl.lit(None, pl.Float64),
        synthetic=pl.lit(None, pl.Float64),
        note=pl.when(~defined).then(_null("no non-null values")),
    )


def ks_complement(real: Frame, synthetic: Frame, columns: Iterable[str] | None = None) -> Frame:
    """1 - the two-sample Kolmogorov-Smirnov statistic of each numerical column (nulls
    and NaN dropped, values rounded to 14 decimals), SDMetrics' ``KSComplement``.
    Dates, datetimes and durations compare as their integers.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    >>> synthetic = pl.DataFrame({"x": [3.0, 4.0, 5.0, None]})
    >>> ks_complement(real, synthetic).select("score").item()
    0.5
    """
    r, s, eager = _lazy(real, synthetic)
    kinds = column_kinds(r, s)
    cols = _columns(kinds, columns, "numerical")
    return _finish(_column_frame(_ks(r, s, cols), cols), eager)


def _pairs(kinds: dict[str, Kind], pairs: Iterable[Sequence[str]] | None) -> list[tuple[str, str]]:
    if pairs is None:
        return list(itertools.combinations(kinds, 2))
    out = []
    for p in pairs:
        a, b = p
        for c in (a, b):
            if c not in kinds:
                msg = f"no column {c!r} in the real table"
                raise pl.exceptions.ColumnNotFoundError(msg)
        out.append((a, b))
    return out


def _pair_tables(
    real: pl.LazyFrame,
    synthetic: pl.LazyFrame,
    pairs: list[tuple[str, str]],
    binned: set[str],
    bins: int,
    own_edges: bool,
) -> pl.LazyFrame:
    """ContingencySimilarity of each pair: the real and synthetic tables of the two
    columns' values (numerical ones in ``binned`` by their bins) joined on the values.
    With ``own_edges`` each table is binned by its own range (SDMetrics' quality
    report: numpy's ``histogram_bin_edges`` and ``np.digitize``, in the kernel);
    otherwise both by the real range, the outer edges made -inf and +inf (its
    ``discretize_column``)."""
    schema = real.collect_schema()
    used = [c for c in schema if any(c in p for p in pairs)]
    position = {c: i for i, c in enumerate(used)}
    groups = [[position[a], position[b]] for a, b in pairs]
    to_bin = [c for c in used if c in binned]
    edges = None if own_edges or not to_bin else _real_edges(real, to_bin, schema, bins)
    cells = _cells(real, synthetic, [(c, c in binned) for c in used], groups, bins, edges)
    return _contingency(cells, pairs)


def _contingency(
    cells: pl.LazyFrame, pairs: list[tuple[str, str]], first_group: int = 0
) -> pl.LazyFrame:
    """ContingencySimilarity of the two-column groups ``first_group, ...`` of
    ``cells``, one per pair, with the real table's Cramér's V."""
    groups = pl.LazyFrame(
        {
            "group": range(first_group, first_group + len(pairs)),
            "column_1": [a for a, _ in pairs],
            "column_2": [b for _, b in pairs],
        },
        schema={"group": pl.UInt32, "column_1": pl.String, "column_2": pl.String},
    )
    mine = cells.join(groups.select("group"), on="group")
    p_r = pl.when(pl.col("n_r") > 0).then(pl.col("r") / pl.col("n_r")).otherwise(0.0)
    p_s = pl.when(pl.col("n_s") > 0).then(pl.col("s") / pl.col("n_s")).otherwise(0.0)
    per_group = (
        mine.group_by("group")
        .agg(tv=_sum((p_r - p_s).abs()) / 2)
        .join(_cramers_v(mine), on="group", how="left")
    )
    return (
        groups.join(per_group, on="group", how="left")
        .sort("group")
        .select(
            "column_1",
            "column_2",
            metric=pl.lit("ContingencySimilarity"),
            score=1 - pl.col("tv").fill_null(0.0),
            real_correlation=pl.lit(None, pl.Float64),
            synthetic_correlation=pl.lit(None, pl.Float64),
            real_association="real_association",
            note=pl.lit(None, pl.String),
        )
    )


def _cramers_v(cells: pl.LazyFrame) -> pl.LazyFrame:
    """Cramér's V of each group's real table (``scipy.stats.contingency.association``
    without correction): χ² = Σ n_ab² · n / (n_a · n_b) - n over the cells that occur,
    which is Pearson's χ² over every cell; null for a table with one row or column."""
    row = pl.col("r").sum().over("group", "first")
    col = pl.col("r").sum().over("group", "second")
    real = cells.filter(pl.col("r") > 0)
    terms = real.with_columns(
        term=pl.col("r") ** 2 / (row * col),
    )
    stats = terms.group_by("group").agg(
        n=pl.col("r").sum(),
        chi=_sum(pl.col("term")),
        rows=pl.col("first").n_unique(),
        columns=pl.col("second").n_unique(),
    )
    k = pl.min_horizontal("rows", "columns") - 1
    chi2 = pl.col("chi") * pl.col("n") - pl.col("n")
    return stats.select(
        "group",
        real_association=pl.when(k > 0).then((chi2 / (pl.col("n") * k)).sqrt()),
    )


def _real_edges(
    real: pl.LazyFrame, columns: list[str], schema: pl.Schema, bins: int
) -> dict[str, list[float] | None]:
    """SDMetrics' ``discretize_column`` edges of each column: numpy's
    ``histogram_bin_edges`` of the real values, the outer two made ∓inf (of the finite
    values: SDMetrics cannot bin a column holding ±inf). This reads the real table's
    ranges before the plan runs."""
    import numpy as np

    ranges = real.select(
        [
            expr
            for c in columns
            for expr in (
                _finite(_as_number(c, schema[c])).min().alias(f"lo{c}"),
                _finite(_as_number(c, schema[c])).max().alias(f"hi{c}"),
            )
        ]
    ).collect()
    out: dict[str, list[float] | None] = {}
    for c in columns:
        lo, hi = ranges.get_column(f"lo{c}").item(), ranges.get_column(f"hi{c}").item()
        values = np.array([] if lo is None else [lo, hi], dtype=np.float64)
        # The inner edges; the kernel opens the outer two (`open`).
        out[c] = [float(e) for e in np.histogram_bin_edges(values, bins=bins)[1:-1]]
    return out


def contingency_similarity(
    real: Frame,
    synthetic: Frame,
    pairs: Iterable[Sequence[str]] | None = None,
    *,
    bins: int = BINS,
    kinds: Mapping[str, Kind] | None = None,
) -> Frame:
    """1 - the total variation distance of each pair's joint frequencies (a null is a
    value of its own), SDMetrics' ``ContingencySimilarity``. A numerical column is cut
    into ``bins`` bins between the real column's finite least and largest values, the
    outer bins open-ended, as SDMetrics' ``discretize_column`` cuts it. ``pairs``
    defaults to every pair of columns.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", "q"]})
    >>> synthetic = pl.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "p", "q", "q"]})
    >>> contingency_similarity(real, synthetic).select("score").item()
    0.5
    """
    if not isinstance(bins, int) or isinstance(bins, bool) or bins <= 0:
        msg = f"bins must be a positive integer, got {bins!r}"
        raise ValueError(msg)
    r, s, eager = _lazy(real, synthetic)
    k = column_kinds(r, s, kinds=kinds)
    chosen = _pairs(k, pairs)
    binned = {c for p in chosen for c in p if k[c] == "numerical"}
    lf = (
        _pair_tables(r, s, chosen, binned, bins, own_edges=False)
        if chosen
        else pl.LazyFrame(schema=_PAIR_SCHEMA)
    )
    return _finish(lf, eager)


def _correlations(
    real: pl.LazyFrame,
    synthetic: pl.LazyFrame,
    pairs: list[tuple[str, str]],
    method: Coefficient,
) -> pl.LazyFrame:
    """CorrelationSimilarity of every pair, each table read in one pass for all pairs."""
    if not pairs:
        return pl.LazyFrame(schema=_PAIR_SCHEMA)

    columns = list(dict.fromkeys(c for pair in pairs for c in pair))

    def stats(numbers: pl.LazyFrame) -> pl.LazyFrame:
        """Per pair: ``pair``, ``corr`` (NaN where undefined), ``rows`` holding both
        values, ``constant`` (SDMetrics refuses a column with one distinct value, before
        dropping nulls) and ``finite`` (no ±inf, which makes Pearson's r NaN)."""
        if method == "pearson":
            position = {c: i for i, c in enumerate(columns)}
            options = {"pairs": [[position[a], position[b]] for a, b in pairs]}
            inputs = [pl.col(c) for c in columns]
            expr = _plugin("correlations", inputs, options, elementwise=False, changes_length=True)
            return (
                numbers.select(expr.alias("c"))
                .unnest("c")
                .with_columns(pl.col("pair").cast(pl.Int64))
            )
        lo = {c: pl.col(c).min() for c in columns}
        hi = {c: pl.col(c).max() for c in columns}
        constant = {c: (lo[c] == hi[c]) & (pl.col(c).count() > 0) for c in columns}
        found = []
        for i, (a, b) in enumerate(pairs):
            x, y = pl.col(a), pl.col(b)
            found.append(
                pl.struct(
                    # pl.corr drops the rows where either value is null, as SDMetrics.
                    corr=pl.corr(x, y, method=method),
                    rows=(x.is_not_null() & y.is_not_null()).sum(),
                    constant=constant[a] | constant[b],
                    finite=pl.lit(True),
                ).alias(str(i))
            )
        return (
            numbers.select(found)
            .unpivot(variable_name="pair", value_name="c")
            .unnest("c")
            .with_columns(pl.col("pair").cast(pl.Int64))
        )

    def side(frame: pl.LazyFrame, tag: str) -> pl.LazyFrame:
        sch = frame.collect_schema()
        # Each column as Float64 once, NaN made null.
        numbers = frame.select([_as_number(c, sch[c]).alias(c) for c in columns])
        defined = (pl.col("rows") >= 2) & ~pl.col("constant")
        return stats(numbers).select(
            "pair",
            pl.when(defined).then(pl.col("corr")).alias(f"{tag}_corr"),
            pl.col("constant").alias(f"{tag}_constant"),
            pl.col("rows").alias(f"{tag}_rows"),
            pl.col("finite").alias(f"{tag}_finite"),
        )

    both = side(real, "r").join(side(synthetic, "s"), on="pair")
    ok = pl.col("r_corr").is_not_null() & pl.col("s_corr").is_not_null()
    ok = ok & pl.col("r_corr").is_not_nan() & pl.col("s_corr").is_not_nan()
    note = (
        pl.when(ok)
        .then(pl.lit(None, pl.String))
        .when(pl.col("r_constant") | pl.col("s_constant"))
        .then(_null("a column is constant"))
        .when((pl.col("r_rows") < 2) | (pl.col("s_rows") < 2))
        .then(_null("fewer than two rows with both values"))
        .when(~pl.col("r_finite") | ~pl.col("s_finite"))
        .then(_null("an infinite value"))
        .when(~ok)
        .then(_null("a correlation is undefined"))
    )
    names = pl.LazyFrame(
        {
            "pair": list(range(len(pairs))),
            "column_1": [a for a, _ in pairs],
            "column_2": [b for _, b in pairs],
        },
        schema={"pair": pl.Int64, "column_1": pl.String, "column_2": pl.String},
    )
    return (
        names.join(both, on="pair")
        .sort("pair")
        .select(
            "column_1",
            "column_2",
            metric=pl.lit("CorrelationSimilarity"),
            score=pl.when(ok).then(1 - (pl.col("r_corr") - pl.col("s_corr")).abs() / 2),
            real_correlation=pl.col("r_corr").fill_nan(None),
            synthetic_correlation=pl.col("s_corr").fill_nan(None),
            real_association=pl.lit(None, pl.Float64),
            note=note,
        )
    )


def correlation_similarity(
    real: Frame,
    synthetic: Frame,
    pairs: Iterable[Sequence[str]] | None = None,
    *,
    coefficient: Coefficient = "pearson",
) -> Frame:
    """1 - half the difference of each numerical pair's correlations (rows with a
    missing value dropped), SDMetrics' ``CorrelationSimilarity``, with the two
    correlations. ``coefficient`` is ``"pearson"`` or
    ``"spearman"``; ``pairs`` defaults to every pair of numerical columns.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
    >>> synthetic = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 2.0, 1.0]})
    >>> scores = correlation_similarity(real, synthetic)
    >>> scores.select("score", "real_correlation", "synthetic_correlation").rows()
    [(0.0, 1.0, -1.0)]
    """
    if coefficient not in ("pearson", "spearman"):
        msg = f"coefficient must be 'pearson' or 'spearman', got {coefficient!r}"
        raise ValueError(msg)
    r, s, eager = _lazy(real, synthetic)
    k = column_kinds(r, s)
    numerical = {c: kind for c, kind in k.items() if kind == "numerical"}
    if pairs is None:
        chosen = list(itertools.combinations(numerical, 2))
    else:
        chosen = _pairs(k, pairs)
        for a, b in chosen:
            for c in (a, b):
                if k[c] != "numerical":
                    msg = f"column {c!r} is {k[c]}, but correlation takes numerical columns"
                    raise pl.exceptions.InvalidOperationError(msg)
    return _finish(_correlations(r, s, chosen, coefficient), eager)


@dataclass(frozen=True)
class QualityReport:
    """SDMetrics' quality report of a synthetic table: ``columns`` (one row per column:
    KSComplement for numerical, TVComplement for categorical ones), ``pairs`` (one row
    per pair: CorrelationSimilarity for two numerical columns, ContingencySimilarity
    otherwise; ``meets_threshold`` marks those the average counts), each property's
    average, and ``score``, their mean."""

    columns: pl.DataFrame
    pairs: pl.DataFrame
    column_shapes: float | None
    column_pair_trends: float | None

    @property
    def score(self) -> float | None:
        """The overall score: the mean of the two properties that are defined."""
        parts = [p for p in (self.column_shapes, self.column_pair_trends) if p is not None]
        return sum(parts) / len(parts) if parts else None

    def properties(self) -> pl.DataFrame:
        """The two properties and their scores, as SDMetrics' ``get_properties``."""
        return pl.DataFrame(
            {
                "property": ["Column Shapes", "Column Pair Trends"],
                "score": [self.column_shapes, self.column_pair_trends],
            },
            schema={"property": pl.String, "score": pl.Float64},
        )

    def summary(self) -> str:
        """The report in a few lines of text, its weakest columns and pairs named."""

        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.2f}%"

        lines = [
            f"Overall score: {pct(self.score)}",
            f"  Column Shapes:      {pct(self.column_shapes)} ({self.columns.height} columns)",
            f"  Column Pair Trends: {pct(self.column_pair_trends)} ({self.pairs.height} pairs)",
        ]
        worst = self.columns.drop_nulls("score").sort("score").head(3)
        if worst.height:
            named = ", ".join(f"{c} {pct(s)}" for c, s in worst.select("column", "score").rows())
            lines.append(f"  Weakest columns: {named}")
        counted = self.pairs.drop_nulls("score")
        if "meets_threshold" in counted.columns:
            counted = counted.filter("meets_threshold")
        worst_pairs = counted.sort("score").head(3)
        if worst_pairs.height:
            named = ", ".join(
                f"{a} x {b} {pct(s)}"
                for a, b, s in worst_pairs.select("column_1", "column_2", "score").rows()
            )
            lines.append(f"  Weakest pairs counted: {named}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _mean(frame: pl.DataFrame) -> float | None:
    value = frame.get_column("score").drop_nulls().mean()
    return None if value is None else float(value)  # type: ignore[arg-type]


def quality_report(
    real: Frame,
    synthetic: Frame,
    codec: Codec | None = None,
    *,
    kinds: Mapping[str, Kind] | None = None,
    correlation_threshold: float = CORRELATION_THRESHOLD,
    association_threshold: float = ASSOCIATION_THRESHOLD,
) -> QualityReport:
    """SDMetrics' quality report, its "column shapes" and "column pair trends", on every
    row: one lazy plan for every column and every pair, collected once.

    As in SDMetrics, the numerical columns of a pair with a categorical one are cut into
    10 bins between each table's own least and largest values (``np.digitize``: the
    largest value, and a missing one, fall past the last edge). A numerical column with
    an infinite value is binned by its finite values, where SDMetrics gives NaN.

    Also as in SDMetrics, "column pair trends" averages only the pairs whose real
    columns are related: a numerical pair whose real correlation's size is above
    ``correlation_threshold`` (0.5), another pair whose real Cramér's V is above
    ``association_threshold`` (0.3); ``meets_threshold`` marks them. Every pair keeps
    its score, where SDMetrics gives the others NaN. Pass 0 for both to average every
    pair.

    Examples
    --------
    >>> import polars as pl
    >>> real = pl.DataFrame({"c": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    >>> report = quality_report(real, real)
    >>> report.score, report.columns.height, report.pairs.height
    (1.0, 2, 1)
    """
    r, s, _ = _lazy(real, synthetic)
    k = column_kinds(r, s, codec=codec, kinds=kinds)
    names = list(k)
    categorical = [c for c in names if k[c] == "categorical"]
    numerical = [c for c in names if k[c] == "numerical"]
    pairs = list(itertools.combinations(names, 2))
    mixed = [(a, b) for a, b in pairs if not (k[a] == k[b] == "numerical")]
    numeric_pairs = [(a, b) for a, b in pairs if k[a] == k[b] == "numerical"]
    # One kernel call per table: every categorical column's values, then the numerical
    # columns binned, in the pairs with a categorical column.
    binned = [c for c in numerical if any(c in p for p in mixed)]
    inputs: list[_Input] = [(c, False) for c in categorical] + [(c, True) for c in binned]
    position = {c: i for i, (c, _) in enumerate(inputs)}
    groups = [[i] for i in range(len(categorical))]
    groups += [[position[a], position[b]] for a, b in mixed]
    # Read by two branches of the plan: computed once.
    cells = _cells(r, s, inputs, groups).cache()
    shapes = [_ks(r, s, numerical)]
    if categorical:
        shapes.append(_tv(_all_columns(_labelled(cells, categorical), categorical)))
    columns_lf = _column_frame(pl.concat(shapes), names)
    trends = [
        _contingency(cells, mixed, len(categorical)),
        _correlations(r, s, numeric_pairs, "pearson"),
    ]
    order = pl.LazyFrame(
        {
            "column_1": [a for a, _ in pairs],
            "column_2": [b for _, b in pairs],
            "_order": list(range(len(pairs))),
        },
        schema={"column_1": pl.String, "column_2": pl.String, "_order": pl.Int64},
    )
    pairs_lf = (
        order.join(pl.concat(trends), on=["column_1", "column_2"], how="left")
        .sort("_order")
        .select(list(_PAIR_SCHEMA))
    )
    meets = (
        pl.when(pl.col("metric") == "CorrelationSimilarity")
        .then(pl.col("real_correlation").abs() > correlation_threshold)
        .otherwise(pl.col("real_association") > association_threshold)
        .fill_null(False)
        & pl.col("score").is_not_null()
    )
    pairs_lf = pairs_lf.with_columns(meets_threshold=meets)
    columns_df, pairs_df = pl.collect_all([columns_lf, pairs_lf])
    return QualityReport(
        columns=columns_df,
        pairs=pairs_df,
        column_shapes=_mean(columns_df),
        column_pair_trends=_mean(pairs_df.filter("meets_threshold")),
    )
