"""Training-by-sampling on a fitted :class:`~polars_gumbel.Codec`: CTGAN's conditional
sampler (Xu et al. 2019, the ``DataSampler`` of the ``ctgan`` package), built once from
the codec and the real table, then drawn from by step.

Only the categorical ("discrete") columns condition, as in CTGAN: numeric columns' mode
blocks do not. A :class:`Sampler` keeps, per discrete column ``d`` (in codec order), each
real row's category through the codec, the rows of each category in increasing order,
and the category counts ``n_di``. Its condition vector concatenates the discrete
columns' blocks: entry ``offset_d + i`` is category ``i`` of column ``d``, which the
generator emits at feature ``start_d + i`` of ``codec.spans`` (see
:attr:`Sampler.condition_spans`).

The draws are the project's counter-based Philox generator, never numpy's state. Under
``seed`` a batch draws from the stream ``s_b = derive(derive(seed, "sampler"),
"batch")`` and generation conditions from ``s_c = derive(derive(seed, "sampler"),
"conditions")`` (``derive`` is the codec's stream derivation), with the step as the
counter's row. Element ``i`` of the draw at step ``t`` takes the three Float64 uniforms
``u_m = u(t, 3i + m)``, ``m = 0, 1, 2`` of the README's formula, and their 52-bit
integers ``k_m = ⌊u_m · 2⁵²⌋`` (exact: ``u = (k + ½) · 2⁻⁵²``)::

    scale(k, n) = ⌊k · n / 2⁵²⌋                     uniform on 0 .. n - 1 (bias below)
    column      d = scale(k₀, C)                    C discrete columns, uniform
    weights     w_di = ln(1 + n_di)  ("log")  or  n_di  ("true")
    cumulative  c_d(i) = round(2⁵² · Σ_{j ≤ i} w_dj / Σ_j w_dj)        c_d(K_d - 1) = 2⁵²
    category    i = #{j : c_d(j) ≤ k₁}              P(i) = (c_d(i) - c_d(i - 1)) / 2⁵²
    row         the scale(k₂, n_di)-th real row of category i of column d

Each of the ``n`` values of ``scale(k, n)`` takes ``⌊2⁵²/n⌋`` or ``⌈2⁵²/n⌉`` of the 2⁵²
values of ``k``, so its probability is within 2⁻⁵² of ``1/n``: a relative bias below
``n · 2⁻⁵²``, at most 2⁻²⁰ for the 2³² rows a sampler holds, with no rejection. A
category's probability is within 2⁻⁵² of ``w_di / Σ_j w_dj``; a category with no rows is
never drawn. So the same seed and step give the same batch on any machine, whatever ran
before, and the first ``n`` elements of a larger draw at the same step are the draw of
``n``.

Imports :mod:`polars_gumbel._internal` (the uniforms and the stream derivation),
:mod:`polars_gumbel._validate` and :mod:`polars_gumbel.expressions` (``decode``); not
:mod:`polars_gumbel.codec`, whose ``Codec.sampler`` builds a :class:`Sampler`.
"""

from __future__ import annotations

import json
import numbers
import secrets
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import polars as pl

from polars_gumbel import _internal, _validate
from polars_gumbel.expressions import decode

Frequency = Literal["log", "true"]
_FREQUENCIES = ("log", "true")
_BITS = 52
#: Columns up to which one sorted search draws every element's category at once (the
#: column shifted above the 52 bits of the cumulative weights must fit in 64 bits).
_KEYED_COLUMNS = (1 << (64 - _BITS)) - 1
_MAX_ROWS = 1 << 32
_MAX_SIZE = 1 << 31


class ConditionSpan(NamedTuple):
    """Where a discrete column's block lies in the condition vector (``start``,
    ``stop``) and in the generator's output (``feature_start``, ``feature_stop``, its
    ``softmax`` span in ``codec.spans``); ``labels`` names each entry."""

    column: str
    start: int
    stop: int
    feature_start: int
    feature_stop: int
    labels: list[str]


class _Codec(Protocol):
    """What a sampler reads of a fitted codec."""

    def __init__(self, document: str) -> None: ...

    @property
    def blocks(self) -> list[tuple[str, int, int, list[str]]]: ...

    def to_json(self) -> str: ...

    def encode(self, data: pl.LazyFrame, layout: Any = ..., dtype: Any = ...) -> pl.LazyFrame: ...


def _scale(k: np.ndarray[Any, Any], n: np.ndarray[Any, Any] | int) -> np.ndarray[Any, Any]:
    """``⌊k · n / 2⁵²⌋`` exactly in 64-bit integers, for ``k < 2⁵²`` and ``n ≤ 2³²``:
    ``k`` split into 26-bit halves keeps every product below 2⁵⁸."""
    n = np.asarray(n, dtype=np.uint64)
    hi = k >> np.uint64(26)
    lo = k & np.uint64((1 << 26) - 1)
    out: np.ndarray[Any, Any] = (hi * n + ((lo * n) >> np.uint64(26))) >> np.uint64(26)
    return out


def _cumulative(weights: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``c(i) = round(2⁵² · Σ_{j ≤ i} w_j / Σ_j w_j)``; the last is exactly 2⁵²."""
    total = np.cumsum(weights, dtype=np.float64)
    out: np.ndarray[Any, Any] = np.rint(total / total[-1] * float(1 << _BITS)).astype(np.uint64)
    return out


def _check_size(where: str, size: Any) -> int:
    value = _validate.integer(f"{where}: size", size)
    if not 1 <= value < _MAX_SIZE:
        raise ValueError(f"{where}: size must be an int in [1, 2**31), got {value}")
    return value


def _check_seed_step(where: str, seed: Any, step: Any) -> tuple[int, int]:
    if seed is None:
        seed_value = secrets.randbits(64)
    else:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"{where}: seed must be an int or None, got {type(seed).__name__}")
        seed_value = int(seed)
        if not 0 <= seed_value < 2**64:
            raise ValueError(f"{where}: seed must be in [0, 2**64), got {seed_value}")
    step_value = _validate.integer(f"{where}: step", step)
    if not 0 <= step_value < 2**64:
        raise ValueError(f"{where}: step must be in [0, 2**64), got {step_value}")
    return seed_value, step_value


class Sampler:
    """CTGAN's training-by-sampling over the real table a codec was fitted on.

    Build it once (``codec.sampler(real)`` or ``Sampler(codec, real)``); every draw is
    then a pure function of ``seed`` and ``step``. The draws return a DataFrame whose
    ``condition`` (``Array(Float32, width)``) and ``mask``
    (``Array(Float32, len(columns))``) columns are one chunk each: ``.to_numpy()`` of
    them is a view, and ``torch.from_numpy`` of that shares it too.

    Parameters
    ----------
    codec
        A fitted :class:`~polars_gumbel.Codec` with at least one categorical column.
    real
        The real table (a DataFrame, or a LazyFrame collected once) holding every
        categorical column of the codec. Row ``r`` of a batch's ``row`` is the ``r``-th
        row of this table; its category is what ``codec.encode`` gives it (a value
        grouped as infrequent is the ``other`` category, a null the ``null`` one). At
        most 2³² rows.
    frequency
        How :meth:`batch` weighs a column's categories: ``"log"``, ``ln(1 + count)``
        (CTGAN's default, ``log_frequency=True``), or ``"true"``, the count.

    Examples
    --------
    >>> import polars as pl
    >>> from polars_gumbel import Codec
    >>> real = pl.DataFrame({"sex": ["F", "M", "M", "F"], "race": ["a", "a", "b", "a"]})
    >>> sampler = Codec.fit(real).sampler(real)
    >>> sampler.columns, sampler.width
    (['sex', 'race'], 4)
    >>> batch = sampler.batch(3, seed=0, step=0)
    >>> batch.columns
    ['condition', 'mask', 'column', 'category', 'row']
    >>> batch["condition"].dtype
    Array(Float32, shape=(4,))
    >>> all(real[r, sampler.columns[d]] == sampler.condition_spans[d].labels[c]
    ...     for d, c, r in batch.select("column", "category", "row").iter_rows())
    True
    >>> sampler.conditions(2, column="sex", value="M")["condition"].to_list()
    [[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    """

    def __init__(
        self, codec: _Codec, real: pl.DataFrame | pl.LazyFrame, *, frequency: Frequency = "log"
    ) -> None:
        if not callable(getattr(codec, "to_json", None)) or not hasattr(codec, "blocks"):
            raise TypeError(f"Sampler: expected a fitted Codec, got {type(codec).__name__}")
        if not isinstance(real, (pl.DataFrame, pl.LazyFrame)):
            raise TypeError(
                f"Sampler: the real table must be a DataFrame or a LazyFrame, got "
                f"{type(real).__name__}"
            )
        self._frequency: Frequency = _validate.choice(  # type: ignore[assignment]
            "Sampler: frequency", frequency, _FREQUENCIES
        )
        document = json.loads(codec.to_json())
        entries = [c for c in document["columns"] if "categories" in c]
        numeric = [c["name"] for c in document["columns"] if "categories" not in c]
        if not entries:
            raise ValueError(
                "Sampler: expected a codec with at least one categorical column to "
                f"condition on, got only numeric columns {numeric!r}"
            )
        self._entries: list[dict[str, Any]] = entries
        self._numeric = numeric
        blocks = {name: (start, stop, labels) for name, start, stop, labels in codec.blocks}
        names = [c["name"] for c in entries]
        spans: list[ConditionSpan] = []
        at = 0
        for name in names:
            start, stop, labels = blocks[name]
            spans.append(ConditionSpan(name, at, at + stop - start, start, stop, list(labels)))
            at += stop - start
        self._spans = spans
        self._width = at
        self._offsets = np.array([s.start for s in spans] + [at], dtype=np.int64)

        lf = real.lazy()
        schema = lf.collect_schema()
        missing = [n for n in names if n not in schema]
        if missing:
            raise ValueError(
                f"Sampler: expected the real table to hold the codec's categorical column "
                f"{missing[0]!r}; found columns {schema.names()!r}"
            )
        # Each row's category through the codec's categorical columns alone (a codec of
        # them, so that numeric columns need not be encoded): its one-hot block decoded
        # to the Enum of the block's labels, whose physical value is the field's index;
        # null where the codec gives the row no category (a null it has no field for).
        only = type(codec)(json.dumps({**document, "columns": entries}))
        encoded = only.encode(lf.select(names), layout="array", dtype=pl.Float32)
        found = encoded.select(
            decode(s.column, s.labels, dtype=pl.Enum(s.labels)).to_physical().alias(s.column)
            for s in spans
        ).collect()
        n_rows = found.height
        if n_rows == 0:
            raise ValueError("Sampler: expected a real table with rows, got 0 rows")
        if n_rows > _MAX_ROWS:
            raise ValueError(f"Sampler: at most 2**32 real rows, got {n_rows}")
        counts: list[np.ndarray[Any, Any]] = []
        rows: list[np.ndarray[Any, Any]] = []
        for span in spans:
            width = span.stop - span.start
            codes = found[span.column].cast(pl.UInt32)
            matched = n_rows - codes.null_count()
            if matched == 0:
                raise ValueError(
                    f"Sampler: column {span.column!r} has no real row of any of its "
                    f"{width} categories: its values are all null, and the codec has no "
                    "null field"
                )
            # Rows of no category sort last, under the code `width`.
            code = codes.fill_null(width).to_numpy()
            code = code.astype(np.uint16 if width < 1 << 16 else np.uint32)
            order = np.argsort(code, kind="stable")[:matched]
            counts.append(np.bincount(code, minlength=width + 1)[:width])
            rows.append(order.astype(np.uint32))
        count = np.concatenate(counts).astype(np.uint64)
        self._counts = count
        self._starts = (np.cumsum(count) - count).astype(np.uint64)
        self._rows = np.concatenate(rows)
        self._n_rows = n_rows
        column_of = np.repeat(np.arange(len(spans), dtype=np.uint64), np.diff(self._offsets))
        self._cumulative: dict[str, np.ndarray[Any, Any]] = {}
        self._keys: dict[str, np.ndarray[Any, Any]] = {}
        for freq in _FREQUENCIES:
            cdf = np.concatenate(
                [
                    _cumulative(np.log1p(c.astype(np.float64)) if freq == "log" else c)
                    for c in counts
                ]
            )
            self._cumulative[freq] = cdf
            if len(spans) <= _KEYED_COLUMNS:
                self._keys[freq] = (column_of << np.uint64(_BITS)) + cdf

    def __repr__(self) -> str:
        return (
            f"Sampler(columns={self.columns!r}, width={self.width}, rows={self._n_rows}, "
            f"frequency={self._frequency!r})"
        )

    @property
    def columns(self) -> list[str]:
        """The discrete (categorical) columns, in codec order: a batch's ``column`` and
        ``mask`` index them."""
        return [s.column for s in self._spans]

    @property
    def width(self) -> int:
        """The length of a condition vector: every discrete column's block."""
        return self._width

    @property
    def frequency(self) -> Frequency:
        """How :meth:`batch` weighs categories: ``"log"`` or ``"true"``."""
        return self._frequency

    @property
    def n_rows(self) -> int:
        """The number of real rows indexed."""
        return self._n_rows

    @property
    def condition_spans(self) -> list[ConditionSpan]:
        """Each discrete column's place: entries ``start .. stop`` of the condition
        vector hold its one-hot block, which the generator emits at
        ``feature_start .. feature_stop`` (its ``softmax`` span in ``codec.spans``);
        entry ``start + i`` stands for feature ``feature_start + i``, labelled
        ``labels[i]``.

        Examples
        --------
        >>> import polars as pl
        >>> from polars_gumbel import Codec
        >>> real = pl.DataFrame({"age": [30, 41, 52], "sex": ["F", "M", None]})
        >>> codec = Codec.fit(real, numeric="minmax")
        >>> [tuple(s) for s in codec.spans]
        [('age', 0, 1, 'tanh'), ('sex', 1, 4, 'softmax')]
        >>> [tuple(s) for s in codec.sampler(real).condition_spans]
        [('sex', 0, 3, 1, 4, ['F', 'M', 'null'])]
        """
        return [s._replace(labels=list(s.labels)) for s in self._spans]

    def _uniform_ints(self, stream: str, seed: int, step: int, size: int) -> np.ndarray[Any, Any]:
        """``k_m = ⌊u(step, 3i + m) · 2⁵²⌋``: a size x 3 array of 52-bit integers."""
        key = _internal.derive_seed(_internal.derive_seed(seed, "sampler"), stream)
        u = _internal.uniforms(key, step, 3 * size)
        k: np.ndarray[Any, Any] = (u * float(1 << _BITS)).astype(np.uint64).reshape(size, 3)
        return k

    def _draw(
        self, k: np.ndarray[Any, Any], frequency: str
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The column ``d`` and the global category ``offset_d + i`` of each element."""
        n_columns = len(self._spans)
        d = _scale(k[:, 0], n_columns)
        if frequency in self._keys:
            # One search of (column, k₁) among every (column, c_d(i)): the count of
            # entries not above it is offset_d + #{i : c_d(i) ≤ k₁}.
            query = (d << np.uint64(_BITS)) + k[:, 1]
            g = np.searchsorted(self._keys[frequency], query, side="right")
        else:
            cdf = self._cumulative[frequency]
            g = np.empty(len(d), dtype=np.int64)
            for column in np.unique(d):
                sel = d == column
                a, b = self._offsets[column], self._offsets[column + 1]
                g[sel] = a + np.searchsorted(cdf[a:b], k[sel, 1], side="right")
        return d.astype(np.int64), g.astype(np.int64)

    def _frame(
        self, d: np.ndarray[Any, Any], g: np.ndarray[Any, Any], rows: np.ndarray[Any, Any] | None
    ) -> pl.DataFrame:
        size = len(d)
        at = np.arange(size)
        condition = np.zeros((size, self._width), dtype=np.float32)
        condition[at, g] = 1.0
        mask = np.zeros((size, len(self._spans)), dtype=np.float32)
        mask[at, d] = 1.0
        # A C-contiguous 2-D array becomes an Array column over the same memory.
        series = [
            pl.Series("condition", condition),
            pl.Series("mask", mask),
            pl.Series("column", d.astype(np.uint32)),
            pl.Series("category", (g - self._offsets[d]).astype(np.uint32)),
        ]
        if rows is not None:
            series.append(pl.Series("row", rows))
        return pl.DataFrame(series)

    def batch(self, size: int, *, seed: int | None = None, step: int = 0) -> pl.DataFrame:
        """A training batch: for each of ``size`` elements a discrete column drawn
        uniformly, one of its categories at the sampler's ``frequency``, and a real row
        of that category, all from the stream ``s_b`` at counter ``step`` (see the
        module's formula).

        Parameters
        ----------
        size
            The number of elements, at least 1.
        seed
            An int in ``[0, 2**64)``; ``None`` draws a fresh seed from the OS.
        step
            The training step, an int in ``[0, 2**64)``: the same seed and step give the
            same batch, whatever ran before and on any machine.

        Returns
        -------
        DataFrame
            ``condition``: ``Array(Float32, width)``, one-hot at ``start + category``
            of the drawn column's :attr:`condition_spans` entry; ``mask``:
            ``Array(Float32, len(columns))``, one-hot at the drawn column (CTGAN's
            ``mask``, which weighs the generator's conditional loss); ``column``: the
            column's index in :attr:`columns` (UInt32); ``category``: the category's
            index in its block (UInt32); ``row``: the index of a real row of that
            category in the real table (UInt32).
        """
        size = _check_size("Sampler.batch", size)
        seed, step = _check_seed_step("Sampler.batch", seed, step)
        k = self._uniform_ints("batch", seed, step, size)
        d, g = self._draw(k, self._frequency)
        within = _scale(k[:, 2], self._counts[g])
        rows = self._rows[self._starts[g] + within]
        return self._frame(d, g, rows)

    def conditions(
        self,
        size: int,
        *,
        column: str | None = None,
        value: Any = None,
        seed: int | None = None,
        step: int = 0,
        frequency: Frequency = "true",
    ) -> pl.DataFrame:
        """Condition vectors for generation, CTGAN's ``sample``.

        Without ``column``, each element's column is drawn uniformly and its category
        at the real frequencies (``frequency="true"``, or ``"log"``), from the stream
        ``s_c`` at counter ``step``. With ``column`` and ``value``, every element is
        that category (CTGAN's ``condition_column`` and ``condition_value``), and
        ``seed``, ``step`` and ``frequency`` play no part.

        Parameters
        ----------
        size
            The number of condition vectors, at least 1.
        column
            A discrete column of :attr:`columns`.
        value
            A value of ``column`` as the real table holds it: one of its categories,
            ``None`` for its null field, a value grouped as infrequent (or the
            ``other`` label itself) for its ``other`` field.
        seed, step
            As in :meth:`batch`.
        frequency
            ``"true"`` (the real frequencies) or ``"log"``.

        Returns
        -------
        DataFrame
            ``condition``, ``mask``, ``column`` and ``category`` as :meth:`batch` gives
            them.
        """
        size = _check_size("Sampler.conditions", size)
        if column is None:
            if value is not None:
                raise ValueError(
                    f"Sampler.conditions: a value ({value!r}) needs a column: expected "
                    f"column= one of {self.columns!r}"
                )
            _validate.choice("Sampler.conditions: frequency", frequency, _FREQUENCIES)
            seed, step = _check_seed_step("Sampler.conditions", seed, step)
            k = self._uniform_ints("conditions", seed, step, size)
            d, g = self._draw(k, frequency)
            return self._frame(d, g, None)
        index, category = self._category_of(column, value)
        d = np.full(size, index, dtype=np.int64)
        g = np.full(size, self._offsets[index] + category, dtype=np.int64)
        return self._frame(d, g, None)

    def _category_of(self, column: Any, value: Any) -> tuple[int, int]:
        """The index of a discrete column and of a value's field in its block."""
        where = "Sampler.conditions"
        _validate.column_name(f"{where}: column", column)
        if column not in self.columns:
            if column in self._numeric:
                raise ValueError(
                    f"{where}: column {column!r} is numeric; only categorical columns "
                    f"condition: expected one of {self.columns!r}"
                )
            raise ValueError(
                f"{where}: expected column to be one of the codec's categorical columns "
                f"{self.columns!r}, got {column!r}"
            )
        index = self.columns.index(column)
        entry, span = self._entries[index], self._spans[index]
        (kind, categories), *_ = entry["categories"].items()
        infrequent: list[Any] = []
        if entry.get("infrequent"):
            infrequent = next(iter(entry["infrequent"].values()))
        n = len(categories)
        if value is None:
            if entry["null_category"]:
                return index, n
            raise ValueError(
                f"{where}: column {column!r} had no nulls when the codec was fitted, so it "
                "has no null field: expected one of its categories, got None"
            )
        if kind == "boolean":
            typed = isinstance(value, (bool, np.bool_))
        elif kind == "int":
            typed = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        else:
            typed = isinstance(value, str)
        if typed:
            plain = bool(value) if kind == "boolean" else (int(value) if kind == "int" else value)
            if plain in categories:
                return index, categories.index(plain)
            if plain in infrequent:
                return index, span.stop - span.start - 1
        if infrequent and value == span.labels[-1] and isinstance(value, str):
            return index, span.stop - span.start - 1
        shown = categories[:10] + (["..."] if n > 10 else [])
        extra = " (or None for its null field)" if entry["null_category"] else ""
        raise ValueError(
            f"{where}: expected a category of column {column!r}, one of {shown!r}{extra}; "
            f"got {value!r} ({type(value).__name__})"
        )


__all__ = ["ConditionSpan", "Frequency", "Sampler"]
