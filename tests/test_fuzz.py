"""Fuzzing all six expressions with random dtypes, layouts and options (DESIGN §5:
nothing panics; every bad input is a clear error).

The property: calling ``one_hot``, ``softmax``, ``log_softmax``, ``gumbel_softmax``,
``argmax`` or ``decode`` on any column with any options either gives a value (as long as
the input, and of the dtype the plan announced before reading any data), or raises a
``ValueError`` / ``TypeError`` before the plan is built, or a Polars error with a message
that is neither a panic nor an internal error. The search runs in an interpreter of its
own, so that an abort would fail this test rather than end the test run.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("POLARS_GUMBEL_FUZZ_EXAMPLES", "1000"))
NOT_CLEAR = ("panicked", "internal error", "PanicException")


def test_fuzz_in_its_own_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "POLARS_MAX_THREADS": "2"},
    )
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-8000:])
    assert "fuzzed" in done.stdout


# What the interpreter of `test_fuzz_in_its_own_interpreter` runs.

_INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
    "Int128": (-(2**127), 2**127 - 1),
    "UInt128": (0, 2**128 - 1),
}
_TEXT = st.text(alphabet=st.sampled_from(["a", "b", "c", "\x00", "é", "🐍", "_"]), max_size=4)
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308, float("-inf")]),
)


def _leaves() -> list[tuple[Any, st.SearchStrategy[Any]]]:
    """Every leaf dtype this Polars has, with a strategy for its values."""
    out: list[tuple[Any, st.SearchStrategy[Any]]] = [
        (pl.Boolean, st.booleans()),
        (pl.Float32, st.floats(width=32, allow_nan=True, allow_infinity=True)),
        (pl.Float64, _FLOATS),
        (pl.String, _TEXT),
        (pl.Categorical, _TEXT),
        (pl.Enum(["a", "b", "c"]), st.sampled_from(["a", "b", "c"])),
        (pl.Binary, st.binary(max_size=3)),
        (pl.Date, st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))),
        (pl.Datetime("us"), st.datetimes(min_value=dt.datetime(1900, 1, 1))),
        (
            pl.Duration("us"),
            st.timedeltas(min_value=-dt.timedelta(days=9), max_value=dt.timedelta(days=9)),
        ),
        (pl.Time, st.times()),
        (pl.Null, st.none()),
        (
            pl.Decimal(10, 2),
            st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False),
        ),
    ]
    for name, (lo, hi) in _INT_RANGES.items():
        if hasattr(pl, name):
            out.append((getattr(pl, name), st.integers(lo, hi)))
    if hasattr(pl, "Float16"):
        out.append((pl.Float16, st.floats(width=16, allow_nan=True, allow_infinity=True)))
    return out


@st.composite
def columns(draw: st.DrawFn, name: str = "x") -> pl.Series:
    """A column of any dtype: a leaf, or a List, Array or Struct of leaves, or deeper."""
    dtype, values = draw(st.sampled_from(_leaves()))
    cell = st.one_of(st.none(), values)
    rows = draw(st.integers(0, 6))
    layout = draw(st.sampled_from(["leaf", "list", "array", "struct", "list-of-list"]))
    k = draw(st.integers(0, 4))
    if layout == "leaf":
        data, full = draw(st.lists(cell, min_size=rows, max_size=rows)), dtype
    elif layout == "list":
        row = st.one_of(st.none(), st.lists(cell, max_size=4))
        data, full = draw(st.lists(row, min_size=rows, max_size=rows)), pl.List(dtype)
    elif layout == "list-of-list":
        row = st.one_of(st.none(), st.lists(st.lists(cell, max_size=2), max_size=3))
        data, full = draw(st.lists(row, min_size=rows, max_size=rows)), pl.List(pl.List(dtype))
    elif layout == "array":
        row = st.one_of(st.none(), st.lists(cell, min_size=k, max_size=k))
        data, full = draw(st.lists(row, min_size=rows, max_size=rows)), pl.Array(dtype, k)
    else:
        k = max(k, 1)
        fields = [f"{name}_{j}" for j in range(k)]
        row = st.one_of(st.none(), st.fixed_dictionaries({f: cell for f in fields}))
        data = draw(st.lists(row, min_size=rows, max_size=rows))
        full = pl.Struct({f: dtype for f in fields})
    try:
        s = pl.Series(name, data, dtype=full)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        s = pl.Series(name, [None] * rows, dtype=full)
    if draw(st.booleans()) and len(s) > 1:  # two chunks, sliced
        s = pl.concat([s, s], rechunk=False).slice(1, len(s))
    return s


_ANY_OPTION = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    _FLOATS,
    _TEXT,
    st.lists(_TEXT, max_size=4),
    st.lists(st.integers(-3, 3), max_size=4),
)


def _tau() -> st.SearchStrategy[Any]:
    return st.one_of(st.floats(min_value=1e-8, max_value=1e8), _ANY_OPTION)


def _seed() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.integers(0, 2**64 - 1), _ANY_OPTION)


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    """An expression's name, its options, and whether it takes a key column."""
    name = draw(
        st.sampled_from(["one_hot", "softmax", "log_softmax", "gumbel_softmax", "argmax", "decode"])
    )
    options: dict[str, Any] = {}
    keyed = False
    pick = st.booleans()
    if name == "one_hot":
        if draw(pick):
            options["categories"] = draw(
                st.one_of(
                    st.lists(_TEXT, max_size=4),
                    st.lists(st.integers(-3, 3), max_size=4),
                    st.lists(st.booleans(), max_size=2),
                    _ANY_OPTION,
                )
            )
        choices = {
            "layout": st.sampled_from(["struct", "array", "bogus"]),
            "dtype": st.sampled_from([pl.UInt8, pl.Boolean, pl.Float32, pl.Float64, pl.Int8]),
            "prefix": st.one_of(st.none(), _TEXT),
            "separator": _TEXT,
            "drop_first": st.one_of(st.booleans(), _ANY_OPTION),
            "unknown": st.sampled_from(["error", "zeros", "null", "other", "x"]),
            "nulls": st.sampled_from(["null", "zeros", "category", "x"]),
            "other_label": _TEXT,
        }
    elif name in ("softmax", "log_softmax"):
        choices = {"tau": _tau()}
    elif name == "gumbel_softmax":
        choices = {"tau": _tau(), "hard": st.one_of(st.booleans(), _ANY_OPTION), "seed": _seed()}
        keyed = draw(pick)
    elif name == "argmax":
        choices = {}
    else:
        if draw(pick):
            options["labels"] = draw(st.one_of(st.lists(_TEXT, max_size=5), _ANY_OPTION))
        choices = {
            "method": st.sampled_from(["argmax", "sample", "x"]),
            "tau": _tau(),
            "seed": _seed(),
            "prefix": st.one_of(st.none(), _TEXT),
            "separator": _TEXT,
            "dtype": st.sampled_from(
                [pl.String, pl.Categorical, pl.Enum, pl.Boolean, pl.Int64, pl.Float64]
            ),
            "null_label": st.one_of(st.none(), _TEXT),
        }
        keyed = draw(pick)
    for option, strategy in choices.items():
        if draw(pick):
            options[option] = draw(strategy)
    return name, options, keyed


def _clear(exc: BaseException) -> None:
    message = str(exc)
    assert message.strip(), repr(exc)
    for bad in NOT_CLEAR:
        assert bad not in message, message


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    scores=columns(),
    key=columns("k"),
    call=calls(),
    engine=st.sampled_from(["in-memory", "streaming"]),
)
def fuzz_expressions(
    scores: pl.Series, key: pl.Series, call: tuple[str, dict[str, Any], bool], engine: str
) -> None:
    import polars_gumbel as pg

    name, options, keyed = call
    df = scores.to_frame()
    if keyed:
        key = key.extend_constant(None, max(0, len(scores) - len(key))).head(len(scores))
        df = df.with_columns(key)
        options["key"] = "k"
    try:
        expr = getattr(pg, name)("x", **options)
    except (ValueError, TypeError) as exc:
        _clear(exc)
        return
    lf = df.lazy().select(expr)
    try:
        schema = lf.collect_schema()
        out = lf.collect(engine=engine)  # type: ignore[call-overload]
    except pl.exceptions.PolarsError as exc:
        _clear(exc)
        return
    assert out.height == len(scores), (out.height, len(scores))
    assert out.schema == schema, (out.schema, schema)


if __name__ == "__main__":
    fuzz_expressions()
    print("fuzzed")
