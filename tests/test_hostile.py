"""Hostile inputs: every case a documented value or one clear error (DESIGN §5: nothing
panics; every bad input is an error that says what was expected and what was found).

No case runs in pytest's interpreter, so an abort, a panic or a hang cannot end the test
run. Cases run a dozen to an interpreter (``python -c``, with a timeout), a few
interpreters at a time, each case reporting on a line of its own; a case that fails, or
that its interpreter never reported because it aborted or hung, runs again alone in a
fresh interpreter, and that run decides. Each case is its own test. A case states
what it expects: a value, checked against a reference written here (plain-Python
softmax and argmax) or a stated property, or an error of a given type whose message
names what it must (the value, the column, the dtype) and is neither a panic nor an
internal error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
import pytest

TIMEOUT = 120
WORKERS = max(2, min(4, os.cpu_count() or 2))
BATCH = 12

# Run before every case: the expressions, and the functions a case states its
# expectation with.
PRELUDE = r'''
import json, math, os, subprocess, sys, tempfile
from pathlib import Path
import polars as pl
from polars_gumbel import (
    Codec, argmax, decode, gumbel_softmax, log_softmax, one_hot, softmax,
)

ERRORS = (pl.exceptions.PolarsError, ValueError, TypeError)
NOT_CLEAR = ("panicked", "internal error", "PanicException", "Traceback")
NAN, INF = float("nan"), float("inf")


def error(f, *needles, kinds=ERRORS, absent=()):
    """Calls `f`, which must raise one of `kinds` with every needle in its message."""
    try:
        f()
    except kinds as exc:
        message = str(exc)
        for bad in NOT_CLEAR:
            assert bad not in message, message
        for needle in needles:
            assert needle in message, (needle, message)
        for bad in absent:
            assert bad not in message, (bad, message)
        return message
    raise AssertionError("expected an error, got a value")


def rows_of(s):
    """A block column's rows as lists; a null row (or one of all-null fields) is None."""
    out = []
    for row in s.to_list():
        if isinstance(row, dict):
            row = list(row.values())
            if row and all(v is None for v in row):
                row = None
        out.append(row)
    return out


def block(rows, layout, dtype=pl.Float64, name="x", k=None):
    """A score column of `rows` (None: a null row) in a layout."""
    if layout == "list":
        return pl.Series(name, rows, dtype=pl.List(dtype))
    if k is None:
        k = len(next(r for r in rows if r is not None))
    if layout == "array":
        return pl.Series(name, rows, dtype=pl.Array(dtype, k))
    fields = [f"{name}_{j}" for j in range(k)]
    values = [None if r is None else dict(zip(fields, r)) for r in rows]
    return pl.Series(name, values, dtype=pl.Struct({f: dtype for f in fields}))


def chunked(s):
    """`s` as two chunks, then sliced one row in from each end: offsets everywhere."""
    padded = pl.concat([s.head(1), s, s.tail(1)], rechunk=False)
    cut = 1 + len(s) // 2
    two = pl.concat([padded.head(cut), padded.tail(len(padded) - cut)], rechunk=False)
    out = two.slice(1, len(s))
    assert out.n_chunks() >= 1
    return out


def usable(row):
    if row is None or len(row) == 0 or any(v is None for v in row):
        return False
    if any(math.isnan(v) or v == INF for v in row):
        return False
    return max(row) > -INF


def ref_softmax(row, tau=1.0):
    if not usable(row):
        return None
    top = max(row)
    e = [math.exp((v - top) / tau) for v in row]
    total = sum(e)
    return [x / total for x in e]


def ref_log_softmax(row, tau=1.0):
    if not usable(row):
        return None
    top = max(row)
    log_total = math.log(sum(math.exp((v - top) / tau) for v in row))
    return [(v - top) / tau - log_total for v in row]


def ref_argmax(row):
    if not usable(row):
        return None
    return row.index(max(row))


def ref_decode(row, labels):
    i = ref_argmax(row)
    return None if i is None or all(v == 0 for v in row) else labels[i]


def close(got, want, rel):
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if w is None or g is None:
            assert g is None and w is None, (got, want)
        elif isinstance(w, list):
            assert len(g) == len(w), (g, w)
            for a, b in zip(g, w):
                if b == -INF:
                    assert a == -INF, (g, w)
                else:
                    assert abs(a - b) <= rel * max(1.0, abs(b)), (g, w)
        else:
            assert g == w, (got, want)


def cli(*args, check_done=True):
    done = subprocess.run(
        [sys.executable, "-m", "polars_gumbel.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120,
    )
    return done


def cli_error(*args, needles=()):
    """The command fails with one line `polars-gumbel: error: ...`, nothing before it."""
    done = cli(*args)
    assert done.returncode != 0, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("polars-gumbel: error: "), done.stderr
    for bad in NOT_CLEAR:
        assert bad not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


tmp = Path(tempfile.mkdtemp())
'''


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    xfail: str | None = None
    requires: tuple[str, ...] = field(default=())
    # A strict xfail fails the run once the case passes: for a known fault outside the
    # project, whose mark must go when it is fixed.
    strict: bool = False


@dataclass(frozen=True)
class Outcome:
    ok: bool
    report: str


# Runs the cases given on stdin one after the other, reporting each on a line of its own
# as soon as it ends; anything a case raises, a panic (a BaseException) included, is its
# failure and not the next case's.
WORKER = r"""
import json, sys, traceback
for case_id, source in json.loads(sys.stdin.read()):
    try:
        exec(compile(source, case_id, "exec"), {"__name__": "__case__"})
        verdict = [case_id, True, ""]
    except BaseException as exc:
        report = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        verdict = [case_id, False, report[-4000:]]
    print("@@case " + json.dumps(verdict), flush=True)
"""


def _run_batch(cases: list[Case], timeout: float) -> tuple[dict[str, Outcome], str]:
    """Runs `cases` in one interpreter: the outcome of each case it reported, and how
    the interpreter ended."""
    sources = [[c.id, PRELUDE + "\n" + textwrap.dedent(c.code)] for c in cases]
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", WORKER],
            input=json.dumps(sources),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        stdout, ending = done.stdout, f"exit code {done.returncode}\n{done.stderr[-3000:]}"
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        stdout = out.decode() if isinstance(out, bytes) else out
        ending = f"timed out after {timeout:.0f} s"
    outcomes = {}
    for line in stdout.splitlines():
        if line.startswith("@@case "):
            case_id, ok, report = json.loads(line[len("@@case ") :])
            outcomes[case_id] = Outcome(ok, report)
    return outcomes, ending


def _run_alone(case: Case) -> Outcome:
    """A case in an interpreter of its own: what any failure is judged by."""
    outcomes, ending = _run_batch([case], TIMEOUT)
    return outcomes.get(case.id) or Outcome(False, ending)


def _run_all(cases: list[Case]) -> dict[str, Outcome]:
    """Every case, in batches of a few interpreters at a time. A case that fails, or that
    its batch's interpreter did not report (it aborted or hung), runs again alone, and
    that run decides: an abort or a hang fails exactly the case that caused it."""
    batches = [cases[i : i + BATCH] for i in range(0, len(cases), BATCH)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda b: _run_batch(b, TIMEOUT * 2)[0], batches))
        outcomes = {k: v for r in results for k, v in r.items()}
        again = [c for c in cases if not outcomes.get(c.id, Outcome(False, "")).ok]
        outcomes.update(zip([c.id for c in again], pool.map(_run_alone, again)))
    return outcomes


# ---------------------------------------------------------------------------------------
# Strings into one_hot
# ---------------------------------------------------------------------------------------


def string_cases() -> Iterator[Case]:
    for layout in ("struct", "array"):
        for source in ("string", "categorical", "enum"):
            for engine in ("eager", "in-memory", "streaming"):
                cast = {
                    "string": "pl.String",
                    "categorical": "pl.Categorical",
                    "enum": 'pl.Enum(["a", "b\\x00c"])',
                }[source]
                collect = {
                    "eager": "df.select(expr)",
                    "in-memory": "df.lazy().select(expr).collect()",
                    "streaming": 'df.lazy().select(expr).collect(engine="streaming")',
                }[engine]
                yield Case(
                    f"one_hot-unknown-nul-{source}-{layout}-{engine}",
                    f"""
                    df = pl.DataFrame({{"x": ["a", "b\\x00c"]}})
                    df = df.with_columns(pl.col("x").cast({cast}))
                    expr = one_hot("x", ["a"], layout="{layout}")
                    error(lambda: {collect}, "b\\\\0c", "column 'x'", absent=["row"])
                    """,
                )
    for option in ("prefix", "separator", "other_label"):
        yield Case(
            f"one_hot-nul-in-{option}",
            f"""
            error(lambda: one_hot("x", ["a"], {option}="p\\x00q"), "{option}", "NUL",
                  kinds=ValueError)
            """,
        )
    yield Case(
        "one_hot-nul-in-categories",
        """error(lambda: one_hot("x", ["a", "a\\x00b"]), "categories", "NUL", kinds=ValueError)""",
    )
    yield Case(
        "one_hot-nul-in-categories-namespace",
        """
        import polars_gumbel
        error(lambda: pl.col("x").gumbel.one_hot(["a\\x00b"]), "NUL", kinds=ValueError)
        """,
    )
    yield Case(
        "one_hot-enum-with-nul-category-schema",
        """
        lf = pl.LazyFrame({"x": ["a"]}, schema={"x": pl.Enum(["a", "b\\x00c"])})
        error(lambda: lf.select(one_hot("x")).collect_schema(), "one_hot", "NUL", "x_b\\\\0c")
        """,
    )
    yield Case(
        "one_hot-nul-value-known",
        """
        df = pl.DataFrame({"x": ["a\\x00b", "c"]})
        # A value with a NUL is ordinary data: it is found, as any other.
        out = df.select(one_hot("x", ["c"], unknown="zeros")).unnest("x")
        assert out.to_dict(as_series=False) == {"x_c": [0, 1]}
        """,
    )
    yield Case(
        "one_hot-1mb-unknown-value",
        """
        big = "z" * 1_000_000
        df = pl.DataFrame({"x": ["a", big]})
        msg = error(lambda: df.select(one_hot("x", ["a"])), "column 'x'", "1000000 characters")
        assert len(msg) < 2_000, len(msg)
        """,
    )
    yield Case(
        "one_hot-1mb-category",
        """
        big = "y" * 1_000_000
        df = pl.DataFrame({"x": [big, "a", big]})
        out = df.select(one_hot("x", ["a", big], layout="array"))["x"].to_list()
        assert out == [[0, 1], [1, 0], [0, 1]]
        """,
    )
    for layout in ("struct", "array"):
        yield Case(
            f"one_hot-emoji-{layout}",
            f"""
            cats = ["🐍", "é", "日本", "👩‍👩‍👧"]
            values = ["日本", "👩‍👩‍👧", None, "🐍", "é"]
            df = pl.DataFrame({{"x": values}})
            out = rows_of(df.select(one_hot("x", cats, layout="{layout}"))["x"])
            want = [None if v is None else [int(v == c) for c in cats] for v in values]
            assert out == want, out
            """,
        )
    yield Case(
        "one_hot-emoji-field-names",
        """
        schema = pl.LazyFrame({"x": ["🐍"]}).select(one_hot("x", ["🐍", "é"])).collect_schema()
        assert [f.name for f in schema["x"].fields] == ["x_🐍", "x_é"]
        """,
    )
    yield Case(
        "one_hot-empty-string-category",
        """
        df = pl.DataFrame({"x": ["", "a", ""]})
        out = df.select(one_hot("x", ["", "a"])).unnest("x")
        assert out.to_dict(as_series=False) == {"x_": [1, 0, 1], "x_a": [0, 1, 0]}
        """,
    )
    yield Case(
        "one_hot-no-categories",
        """error(lambda: one_hot("x", []), "categories", kinds=ValueError)""",
    )
    yield Case(
        "one_hot-duplicate-categories",
        """error(lambda: one_hot("x", ["a", "b", "a"]), "duplicate", "'a'", kinds=ValueError)""",
    )
    yield Case(
        "one_hot-category-equals-null-label",
        """
        df = pl.DataFrame({"x": ["null", None]})
        error(lambda: df.select(one_hot("x", ["null"], nulls="category")), "x_null", "twice")
        """,
    )
    yield Case(
        "one_hot-category-equals-other-label",
        """
        df = pl.DataFrame({"x": ["a"]})
        error(lambda: df.select(one_hot("x", ["a", "zz"], unknown="other", other_label="zz")),
              "x_zz", "twice")
        """,
    )
    for layout in ("struct", "array"):
        yield Case(
            f"one_hot-100k-categories-{layout}",
            f"""
            cats = [f"c{{i}}" for i in range(100_000)]
            picks = [99_999, 0, 54_321, 7]
            df = pl.DataFrame({{"x": [cats[i] for i in picks] + ["nope"]}})
            out = df.select(one_hot("x", cats, layout="{layout}", unknown="zeros"))["x"]
            if "{layout}" == "array":
                rows = out.to_list()
            else:
                rows = [list(r.values()) for r in out.to_list()]
            for row, i in zip(rows, picks):
                assert len(row) == 100_000 and row[i] == 1 and sum(row) == 1
            assert sum(rows[-1]) == 0
            """,
        )
    yield Case(
        "one_hot-zero-rows",
        """
        df = pl.DataFrame({"x": []}, schema={"x": pl.String})
        out = df.select(one_hot("x", ["a", "b"], dtype=pl.Float32))
        assert out.height == 0
        assert out.schema["x"] == pl.Struct({"x_a": pl.Float32, "x_b": pl.Float32})
        """,
    )
    for nulls, want in (
        ("null", "[None, None]"),
        ("zeros", "[[0, 0], [0, 0]]"),
        ("category", "[[0, 0, 1], [0, 0, 1]]"),
    ):
        yield Case(
            f"one_hot-all-null-{nulls}",
            f"""
            df = pl.DataFrame({{"x": [None, None]}}, schema={{"x": pl.String}})
            out = rows_of(df.select(one_hot("x", ["a", "b"], nulls="{nulls}"))["x"])
            assert out == {want}, out
            """,
        )
    yield Case(
        "one_hot-duplicate-values-in-data",
        """
        df = pl.DataFrame({"x": ["b"] * 1000 + ["a"] * 1000})
        out = df.select(one_hot("x", ["a", "b"])).unnest("x")
        assert out["x_a"].sum() == 1000 and out["x_b"].sum() == 1000
        assert out["x_b"].head(1000).min() == 1
        """,
    )
    # The true row, or none: an elementwise expression may see one batch of the column.
    for name, frame in (
        ("lazy", 'pl.LazyFrame({"x": ["a", "a", "zz"]}).select(expr).collect()'),
        (
            "multi-chunk",
            'pl.concat([pl.DataFrame({"x": ["a"] * 3}), pl.DataFrame({"x": ["a", "zz"]})],'
            " rechunk=False).select(expr)",
        ),
        (
            "streaming",
            'pl.LazyFrame({"x": ["a"] * 200_000 + ["zz"]}).select(expr)'
            '.collect(engine="streaming")',
        ),
        ("eager", 'pl.DataFrame({"x": ["a", "a", "zz"]}).select(expr)'),
    ):
        yield Case(
            f"one_hot-unknown-row-{name}",
            f"""
            expr = one_hot("x", ["a"])
            msg = error(lambda: {frame}, "'zz'", "column 'x'")
            assert "(row" not in msg and "row 0" not in msg, msg
            """,
        )
    yield Case(
        "codec-encode-unknown-nul",
        """
        codec = Codec.fit(pl.DataFrame({"x": ["a", "b"]}), numeric=None)
        error(lambda: codec.encode(pl.DataFrame({"x": ["a", "b\\x00c"]})), "b\\\\0c", "'x'")
        """,
    )
    yield Case(
        "one_hot-uint64-beyond-int64",
        """
        df = pl.DataFrame({"x": [2**64 - 1, 1]}, schema={"x": pl.UInt64})
        out = rows_of(df.select(one_hot("x", [1, -1], unknown="zeros"))["x"])
        assert out == [[0, 0], [1, 0]], out
        error(lambda: df.select(one_hot("x", [1])), str(2**64 - 1), "column 'x'")
        """,
    )
    wrong = {
        "int-categories-on-string": ('pl.Series("x", ["a"])', "[1, 2]", "integers", "str"),
        "string-categories-on-int": ('pl.Series("x", [1])', '["1"]', "strings", "i64"),
        "bool-categories-on-string": ('pl.Series("x", ["a"])', "[True]", "booleans", "str"),
    }
    for name, (series, cats, kind, dtype) in wrong.items():
        yield Case(
            f"one_hot-{name}",
            f"""
            df = {series}.to_frame()
            error(lambda: df.select(one_hot("x", {cats})), "{kind}", "column 'x'", "{dtype}")
            """,
        )


# Dtypes one_hot refuses: (id, series constructor, dtype as the message shows it).
ONE_HOT_REFUSED = {
    "float64": ('pl.Series("x", [1.5])', "f64"),
    "int128": ('pl.Series("x", [1], dtype=pl.Int128)', "i128"),
    "decimal": ('pl.Series("x", [1], dtype=pl.Decimal(10, 2))', "decimal[10,2]"),
    "date": ('pl.Series("x", [0], dtype=pl.Int32).cast(pl.Date)', "date"),
    "list": ('pl.Series("x", [["a"]])', "list[str]"),
    "struct": ('pl.Series("x", [{"a": "b"}])', "struct"),
    "binary": ('pl.Series("x", [b"a"])', "binary"),
    "null": ('pl.Series("x", [None])', "null"),
    "float16": ('pl.Series("x", [1.5], dtype=pl.Float16)', "f16"),
}


def object_cases() -> Iterator[Case]:
    """An Object column reaches a plugin as Binary (Polars exports it so): an error that
    names the expression and the column."""
    for expr in ("one_hot('x', ['a'])", "softmax('x')", "argmax('x')", "decode('x', ['a'])"):
        name = expr.split("(")[0]
        yield Case(
            f"object-column-{name}",
            f"""
            df = pl.Series("x", [object(), object()], dtype=pl.Object).to_frame()
            error(lambda: df.select({expr}), "{name}", "column 'x'")
            """,
        )


def one_hot_dtype_cases() -> Iterator[Case]:
    for name, (series, shown) in ONE_HOT_REFUSED.items():
        requires = ("Float16",) if name == "float16" else ()
        yield Case(
            f"one_hot-dtype-{name}",
            f"""
            df = {series}.to_frame()
            error(lambda: df.select(one_hot("x", [1])), "one_hot", "'x'", "{shown}")
            """,
            requires=requires,
        )


# ---------------------------------------------------------------------------------------
# Score blocks
# ---------------------------------------------------------------------------------------

K_BIG = 10_000

# name: (rows, dtype, layouts); rows as Python source.
BLOCKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "k1": ("[[3.0], [-1.0], None]", "pl.Float64", ("list", "array", "struct")),
    "ragged": ("[[1.0, 2.0, 3.0], [0.5], [2.0, 2.0], []]", "pl.Float64", ("list",)),
    "nulls": (
        "[[1.0, 2.0], None, [None, 1.0], [0.5, 0.25]]",
        "pl.Float64",
        ("list", "array", "struct"),
    ),
    "nan-inf": (
        "[[NAN, 1.0], [INF, 1.0], [-INF, 0.0], [-INF, -INF]]",
        "pl.Float64",
        ("list", "array", "struct"),
    ),
    "zeros-subnormal": (
        "[[-0.0, 0.0], [5e-324, 0.0], [-5e-324, 2.2e-308]]",
        "pl.Float64",
        ("list", "array", "struct"),
    ),
    "huge": (
        "[[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308], [-1e308, -1e308]]",
        "pl.Float64",
        ("list", "array", "struct"),
    ),
    "float32": (
        "[[1.0, 2.0, 0.5], None, [1e38, -1e38, 0.0]]",
        "pl.Float32",
        ("list", "array", "struct"),
    ),
    "int64": ("[[1, 5, 5], [-3, 0, 2]]", "pl.Int64", ("list", "array", "struct")),
    "uint8": ("[[1, 255, 0], [0, 0, 0]]", "pl.UInt8", ("list", "array")),
    "boolean": ("[[True, False], [False, False]]", "pl.Boolean", ("list", "array", "struct")),
    "zero-rows": ("[]", "pl.Float64", ("list", "array")),
    "k0": ("[[], [], None]", "pl.Float64", ("list", "array")),
    "k10000": (
        f"[[math.sin(j * (r + 1)) for j in range({K_BIG})] for r in range(3)]",
        "pl.Float64",
        ("list", "array"),
    ),
    "chunked": (
        "[[1.0, 2.0], [3.0, 1.0], None, [0.0, 0.0], [2.0, -1.0]]",
        "pl.Float64",
        ("list", "array", "struct"),
    ),
}

EXPRESSIONS = ("softmax", "log_softmax", "argmax", "decode", "gumbel_hard", "gumbel_soft")


def _check(expr: str, rel: str) -> str:
    """Code that checks `out` (the result) against the reference for `rows`."""
    if expr == "softmax":
        return f"close(rows_of(out), [ref_softmax(r) for r in rows], {rel})"
    if expr == "log_softmax":
        return f"close(rows_of(out), [ref_log_softmax(r) for r in rows], {rel})"
    if expr == "argmax":
        return (
            "assert out.dtype == pl.UInt32\nassert out.to_list() == [ref_argmax(r) for r in rows]"
        )
    if expr == "decode":
        return "assert out.to_list() == [ref_decode(r, labels) for r in rows], out.to_list()"
    if expr == "gumbel_hard":
        # A sample: one 1.0 per usable row, never at a -inf score; null rows stay null.
        return """
got = rows_of(out)
for g, r in zip(got, rows):
    if not usable(r):
        assert g is None, (g, r)
    else:
        assert sorted(g) == [0.0] * (len(r) - 1) + [1.0], g
        assert r[g.index(1.0)] > -INF
"""
    return """
got = rows_of(out)
for g, r in zip(got, rows):
    if not usable(r):
        assert g is None, (g, r)
    else:
        assert all(0.0 <= v <= 1.0 for v in g) and abs(sum(g) - 1.0) < 1e-5, g
        assert all(v == 0.0 for v, x in zip(g, r) if x == -INF), (g, r)
"""


def _call(expr: str) -> str:
    return {
        "softmax": "softmax('x')",
        "log_softmax": "log_softmax('x')",
        "argmax": "argmax('x')",
        "decode": "decode('x', labels)",
        "gumbel_hard": "gumbel_softmax('x', hard=True, seed=3)",
        "gumbel_soft": "gumbel_softmax('x', tau=0.5, seed=3)",
    }[expr]


def block_cases() -> Iterator[Case]:
    for name, (rows, dtype, layouts) in BLOCKS.items():
        for layout in layouts:
            for expr in EXPRESSIONS:
                if expr == "decode" and layout == "list" and name in ("ragged", "k10000"):
                    continue  # labels are per position; covered with the fixed layouts
                rel = "1e-5" if dtype == "pl.Float32" else "1e-12"
                k = "0" if name == "k0" else ("2" if name == "zero-rows" else "None")
                series = f"block(rows, '{layout}', {dtype}, k={k})"
                if name == "chunked":
                    series = f"chunked({series})"
                to_float = (
                    ""
                    if dtype in ("pl.Float64", "pl.Float32")
                    else "rows = [None if r is None else [float(v) for v in r] for r in rows]"
                )
                code = textwrap.dedent(
                    f"""
                    rows = {rows}
                    s = {series}
                    width = max([len(r) for r in rows if r is not None], default={k} or 0)
                    labels = [f"l{{j}}" for j in range(width)]
                    out = s.to_frame().select({_call(expr)})["x"]
                    assert len(out) == len(rows)
                    """
                )
                check = _check(expr, rel)
                if name == "k0" and layout == "array" and expr not in ("argmax", "decode"):
                    # Its rows would all be null, which Polars cannot take back from a
                    # plugin for Array(_, 0): a clear error at plan time instead.
                    code = (
                        "s = block([[], []], 'array', k=0)\n"
                        f"error(lambda: s.to_frame().lazy().select({_call(expr)}).collect_schema(),"
                        " 'at least one score', \"'x'\")\n"
                    )
                    check = ""
                yield Case(f"block-{name}-{layout}-{expr}", code + to_float + "\n" + check)


# Score dtypes every expression refuses, inside a List block.
REFUSED_SCORES = {
    "decimal": ("pl.Decimal(10, 2)", "[[1, 2]]", "decimal[10,2]", ()),
    "float16": ("pl.Float16", "[[1.0, 2.0]]", "f16", ("Float16",)),
    "int128": ("pl.Int128", "[[1, 2]]", "i128", ()),
    "uint128": ("pl.UInt128", "[[1, 2]]", "u128", ("UInt128",)),
    "string": ("pl.String", '[["a", "b"]]', "str", ()),
    "date": ("pl.Date", "[[None]]", "date", ()),
    "nested": ("pl.List(pl.Float64)", "[[[1.0], [2.0]]]", "list[f64]", ()),
}


def score_dtype_cases() -> Iterator[Case]:
    for name, (inner, rows, shown, requires) in REFUSED_SCORES.items():
        for expr in ("softmax", "log_softmax", "argmax", "decode", "gumbel_hard"):
            call = _call(expr).replace("labels", '["a", "b"]')
            yield Case(
                f"scores-{name}-{expr}",
                f"""
                df = pl.Series("x", {rows}, dtype=pl.List({inner})).to_frame()
                name = "{expr}".split("_hard")[0]
                error(lambda: df.lazy().select({call}).collect_schema(), name, "'x'", "{shown}")
                error(lambda: df.select({call}), name, "'x'", "{shown}")
                """,
                requires=requires,
            )
    for name, series, shown in (
        ("float-column", 'pl.Series("x", [1.0])', "f64"),
        ("string-column", 'pl.Series("x", ["a"])', "str"),
        (
            "array-of-decimal",
            'pl.Series("x", [[1, 2]], dtype=pl.Array(pl.Decimal(5, 1), 2))',
            "decimal[5,1]",
        ),
        ("struct-of-strings", 'pl.Series("x", [{"a": "b"}])', "str"),
    ):
        for expr in ("softmax", "argmax", "decode"):
            call = _call(expr).replace("labels", '["a", "b"]')
            yield Case(
                f"scores-{name}-{expr}",
                f"""
                df = {series}.to_frame()
                error(lambda: df.select({call}), "{expr}", "'x'", "{shown}")
                """,
            )


# ---------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------


def option_cases() -> Iterator[Case]:
    setup = 'df = pl.DataFrame({"x": [[1.0, 2.0], [0.5, 0.5]], "k": [1, 2]})\n'
    for value, kind in (
        ("0", "ValueError"),
        ("-1.0", "ValueError"),
        ("NAN", "ValueError"),
        ("INF", "ValueError"),
        ("-INF", "ValueError"),
        ("'1'", "TypeError"),
        ("None", "TypeError"),
        ("True", "TypeError"),
        ("[1.0]", "TypeError"),
        ("1 + 0j", "TypeError"),
    ):
        for expr in ("softmax", "gumbel_softmax", "decode"):
            args = "'x', ['a', 'b'], method='sample', " if expr == "decode" else "'x', "
            yield Case(
                f"option-tau-{value}-{expr}",
                setup + f"error(lambda: {expr}({args}tau={value}), 'tau', kinds={kind})",
            )
    for value in ("1e-300", "1e300", "5e-324"):
        yield Case(
            f"option-tau-extreme-{value}",
            setup
            + textwrap.dedent(f"""
            out = rows_of(df.select(softmax("x", tau={value}))["x"])
            close(out, [ref_softmax(r, {value}) for r in [[1.0, 2.0], [0.5, 0.5]]], 1e-12)
            """),
        )
    yield Case(
        "option-tau-numpy",
        setup
        + textwrap.dedent("""
        import numpy as np
        a = df.select(softmax("x", tau=np.float32(0.5)))
        b = df.select(softmax("x", tau=0.5))
        assert a.equals(b)
        """),
    )
    for value, kind in (
        ("-1", "ValueError"),
        ("2**64", "ValueError"),
        ("1.5", "TypeError"),
        ("'1'", "TypeError"),
        ("True", "TypeError"),
        ("[1]", "TypeError"),
    ):
        for expr in ("gumbel_softmax", "decode"):
            args = "'x', ['a', 'b'], method='sample', " if expr == "decode" else "'x', "
            yield Case(
                f"option-seed-{value}-{expr}",
                setup + f"error(lambda: {expr}({args}seed={value}), 'seed', kinds={kind})",
            )
    yield Case(
        "option-seed-numpy-and-max",
        setup
        + textwrap.dedent("""
        import numpy as np
        a = df.select(gumbel_softmax("x", seed=np.uint64(2**64 - 1)))
        b = df.select(gumbel_softmax("x", seed=2**64 - 1))
        assert a.equals(b)
        """),
    )
    for value in ("1.5", "5", "None.__class__", "b'k'"):
        yield Case(
            f"option-key-type-{value}",
            setup + f"error(lambda: gumbel_softmax('x', seed=1, key={value}), kinds=TypeError)",
        )
    for name, column, needles in (
        ("float", "pl.Series('k', [1.0, 2.0])", '"key", "f64", "\'k\'"'),
        ("list", "pl.Series('k', [[1], [2]])", '"key", "list[i64]", "\'k\'"'),
        ("int128", "pl.Series('k', [1, 2], dtype=pl.Int128)", '"i128", "\'k\'"'),
        ("boolean", "pl.Series('k', [True, False])", '"key", "bool", "\'k\'"'),
        ("nulls", "pl.Series('k', [1, None])", '"key", "null", "\'k\'"'),
    ):
        for expr in ("gumbel_softmax", "decode"):
            args = "'x', ['a', 'b'], method='sample', " if expr == "decode" else "'x', "
            yield Case(
                f"option-key-{name}-{expr}",
                setup
                + textwrap.dedent(f"""
                frame = df.with_columns({column})
                error(lambda: frame.select({expr}({args}seed=1, key="k")), {needles})
                """),
            )
    yield Case(
        "option-key-string-partitions",
        """
        df = pl.DataFrame({"x": [[1.0, 2.0, 3.0]] * 6, "k": list("abcdef")})
        whole = df.select(gumbel_softmax("x", seed=5, key="k"))
        parts = pl.concat([df[:2], df[2:]]).select(gumbel_softmax("x", seed=5, key="k"))
        reverse = df.reverse().select(gumbel_softmax("x", seed=5, key="k")).reverse()
        assert whole.equals(parts) and whole.equals(reverse)
        """,
    )
    for option, value, kind in (
        ("layout", "'bogus'", "ValueError"),
        ("unknown", "'bogus'", "ValueError"),
        ("nulls", "'bogus'", "ValueError"),
        ("dtype", "pl.Int8", "TypeError"),
        ("drop_first", "'yes'", "TypeError"),
        ("prefix", "1", "TypeError"),
        ("separator", "None", "TypeError"),
        ("categories", "'abc'", "TypeError"),
        ("categories", "[1, 'a']", "TypeError"),
        ("categories", "[2**63]", "ValueError"),
    ):
        yield Case(
            f"option-one_hot-{option}-{value}",
            f"error(lambda: one_hot('x', **{{'categories': ['a'], '{option}': {value}}}), "
            f"'{option}', kinds={kind})",
        )
    for option, value, kind in (
        ("method", "'bogus'", "ValueError"),
        ("dtype", "pl.Float64", "TypeError"),
        ("labels", "'ab'", "TypeError"),
        ("labels", "[1, 2]", "TypeError"),
        ("labels", "['a', 'a']", "ValueError"),
        ("labels", "['a', 'b\\x00']", "ValueError"),
        ("separator", "'\\x00'", "ValueError"),
        ("prefix", "'p\\x00'", "ValueError"),
        ("null_label", "'n\\x00'", "ValueError"),
    ):
        yield Case(
            f"option-decode-{option}-{value}",
            f"error(lambda: decode('x', **{{'labels': ['a', 'b'], '{option}': {value}}}), "
            f"'{option}', kinds={kind})",
        )
    yield Case(
        "option-gumbel-hard-type",
        "error(lambda: gumbel_softmax('x', hard='yes'), 'hard', kinds=TypeError)",
    )
    yield Case(
        "option-expr-type",
        "error(lambda: softmax(3), 'expression', kinds=TypeError)",
    )
    yield Case(
        "option-decode-labels-count",
        """
        df = pl.DataFrame({"x": [[1.0, 2.0]]}, schema={"x": pl.Array(pl.Float64, 2)})
        error(lambda: df.select(decode("x", ["a", "b", "c"])), "2 scores", "3 labels", "'x'")
        """,
    )
    yield Case(
        "option-decode-list-needs-labels",
        """
        df = pl.DataFrame({"x": [[1.0, 2.0]]})
        error(lambda: df.select(decode("x")), "labels", "'x'")
        """,
    )
    yield Case(
        "option-decode-separator-nul-struct",
        """
        df = pl.DataFrame({"x_a": [1.0], "x_b": [0.0]}).select(pl.struct("x_a", "x_b").alias("x"))
        error(lambda: decode("x", separator="\\x00"), "separator", kinds=ValueError)
        assert df.select(decode("x"))["x"].to_list() == ["a"]
        """,
    )


# ---------------------------------------------------------------------------------------
# Lazy plans
# ---------------------------------------------------------------------------------------


def plan_cases() -> Iterator[Case]:
    setup = textwrap.dedent(
        """
    df = pl.DataFrame({
        "g": [1, 1, 2, 2, 2],
        "c": ["a", "b", "b", None, "a"],
        "x": [[1.0, 2.0], [0.0, 0.0], [3.0, -1.0], [-INF, 0.0], [0.5, 0.25]],
    })
    rows = df["x"].to_list()
    """
    )
    yield Case(
        "plan-group_by-one_hot",
        setup
        + textwrap.dedent("""
        out = df.group_by("g", maintain_order=True).agg(one_hot("c", ["a", "b"], layout="array"))
        assert out["c"].to_list() == [[[1, 0], [0, 1]], [[0, 1], None, [1, 0]]], out
        """),
    )
    yield Case(
        "plan-group_by-softmax",
        setup
        + textwrap.dedent("""
        out = df.group_by("g", maintain_order=True).agg(softmax("x"))
        got = [r for group in out["x"].to_list() for r in group]
        close(got, [ref_softmax(r) for r in rows], 1e-12)
        """),
    )
    yield Case(
        "plan-over-argmax",
        setup
        + textwrap.dedent("""
        out = df.select(argmax("x").over("g"))["x"].to_list()
        assert out == [ref_argmax(r) for r in rows], out
        """),
    )
    yield Case(
        "plan-over-seeded-gumbel",
        setup
        + textwrap.dedent("""
        # Positional seeding numbers rows within each group: the groups' rows 0, 1, ...
        out = df.select(gumbel_softmax("x", seed=9).over("g"))["x"].to_list()
        first = df.filter(pl.col("g") == 1).select(gumbel_softmax("x", seed=9))["x"].to_list()
        second = df.filter(pl.col("g") == 2).select(gumbel_softmax("x", seed=9))["x"].to_list()
        assert out == first + second
        """),
    )
    for expr in ("one_hot", "softmax", "gumbel_seeded", "gumbel_keyed", "decode", "argmax"):
        call = {
            "one_hot": 'one_hot("c", ["a", "b"], nulls="category")',
            "softmax": 'softmax("x")',
            "gumbel_seeded": 'gumbel_softmax("x", seed=4)',
            "gumbel_keyed": 'gumbel_softmax("x", seed=4, key="g")',
            "decode": 'decode("x", ["p", "q"], method="sample", seed=2)',
            "argmax": 'argmax("x")',
        }[expr]
        yield Case(
            f"plan-streaming-{expr}",
            setup
            + textwrap.dedent(f"""
            big = pl.concat([df] * 20_000)
            a = big.lazy().select({call}).collect(engine="streaming")
            b = big.lazy().select({call}).collect(engine="in-memory")
            assert a.equals(b)
            assert a.height == big.height
            """),
        )
    yield Case(
        "plan-sink_parquet",
        setup
        + textwrap.dedent("""
        path = tmp / "out.parquet"
        df.lazy().select(one_hot("c", ["a", "b"]), softmax("x")).sink_parquet(path)
        back = pl.read_parquet(path)
        assert back.equals(df.select(one_hot("c", ["a", "b"]), softmax("x")))
        """),
    )
    yield Case(
        "plan-sink_parquet-unknown-error",
        setup
        + textwrap.dedent("""
        path = tmp / "out.parquet"
        error(lambda: df.lazy().select(one_hot("c", ["a"])).sink_parquet(path), "'b'", "'c'")
        """),
    )
    yield Case(
        "plan-serialize",
        setup
        + textwrap.dedent("""
        import io
        lf = df.lazy().select(
            one_hot("c", ["a", "b"]), softmax("x", tau=0.5), argmax("x").alias("i")
        )
        try:
            text = lf.serialize()
        except TypeError:
            text = lf.serialize(format="binary")
        source = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text)
        back = pl.LazyFrame.deserialize(source)
        assert back.collect().equals(lf.collect())
        """),
    )
    yield Case(
        "plan-when-then",
        setup
        + textwrap.dedent("""
        expr = pl.when(pl.col("g") == 1).then(softmax("x")).otherwise(pl.lit(None))
        out = df.select(expr)["x"].to_list()
        want = [ref_softmax(r) if g == 1 else None for r, g in zip(rows, df["g"])]
        close(out, want, 1e-12)
        """),
    )
    yield Case(
        "plan-when-then-argmax",
        setup
        + textwrap.dedent("""
        expr = pl.when(pl.col("g") == 2).then(argmax("x")).otherwise(pl.lit(None))
        out = df.select(expr)["x"].to_list()
        assert out == [ref_argmax(r) if g == 2 else None for r, g in zip(rows, df["g"])], out
        """),
    )
    yield Case(
        "plan-filter-then-seeded",
        setup
        + textwrap.dedent("""
        # Positional seeding numbers the rows the expression sees, after the filter.
        kept = df.filter(pl.col("g") == 2)
        a = df.lazy().filter(pl.col("g") == 2).select(gumbel_softmax("x", seed=1)).collect()
        assert a.equals(kept.select(gumbel_softmax("x", seed=1)))
        """),
    )
    yield Case(
        "plan-collect_schema-only",
        """
        lf = pl.LazyFrame({"x": [[1.0]]}, schema={"x": pl.Array(pl.Float32, 1)})
        plan = lf.select(softmax("x"), argmax("x").alias("i"), decode("x", ["a"]).alias("d"))
        schema = plan.collect_schema()
        assert schema == pl.Schema({"x": pl.Array(pl.Float32, 1), "i": pl.UInt32, "d": pl.String})
        """,
    )
    for engine in ("multi-chunk", "streaming"):
        frame = (
            "pl.concat([pl.DataFrame({'s': rows[:100_000]}), pl.DataFrame({'s': rows[100_000:]})],"
            " rechunk=False).select(expr)"
            if engine == "multi-chunk"
            else "pl.LazyFrame({'s': rows}).select(expr).collect(engine='streaming')"
        )
        yield Case(
            f"plan-decode-list-longer-than-labels-{engine}",
            f"""
            rows = [[1.0, 2.0]] * 150_000 + [[1.0, 2.0, 3.0]] + [[1.0, 2.0]] * 10
            expr = decode("s", ["a", "b"])
            msg = error(lambda: {frame}, "column 's'", "2 labels")
            # The true row, 150000, or none at all.
            assert "row 150000" in msg or "row " not in msg, msg
            """,
        )
    yield Case(
        "plan-column-name-with-nul",
        """
        df = pl.DataFrame({"a\\x00b": [[1.0, 2.0]]})
        try:
            out = df.select(softmax("a\\x00b"))
        except ERRORS as exc:
            assert not any(bad in str(exc) for bad in NOT_CLEAR), exc
        else:
            close(rows_of(out.to_series()), [ref_softmax([1.0, 2.0])], 1e-12)
        """,
    )


# ---------------------------------------------------------------------------------------
# Codec documents
# ---------------------------------------------------------------------------------------


def _column(**changes: object) -> str:
    entry = {
        "name": "c",
        "dtype": "string",
        "categories": {"string": ["a", "b"]},
        "null_category": False,
        "infrequent": None,
    }
    entry.update(changes)
    return repr(entry)


def codec_cases() -> Iterator[Case]:
    doc = (
        "lambda *cols, **top: json.dumps("
        '{"format": "polars-gumbel-codec", "version": 1, "columns": list(cols), **top})'
    )
    malformed = {
        "empty": "''",
        "truncated": "'{'",
        "list": "'[]'",
        "null": "'null'",
        "number": "'42'",
        "string": "'\"codec\"'",
        "trailing": "doc(C) + 'x'",
        "nan": "doc(C).replace('false', 'NaN', 1)",
        "huge-int": "doc(C).replace('\"a\"', '1' + '0' * 400, 1)",
    }
    for name, text in malformed.items():
        yield Case(
            f"codec-malformed-{name}",
            f"doc = {doc}\nC = {_column()}\n"
            f"error(lambda: Codec.from_json({text}), kinds=ValueError)",
        )
    for name, value in (("bytes", "b'{}'"), ("none", "None"), ("dict", "{}")):
        yield Case(
            f"codec-type-{name}",
            f"error(lambda: Codec.from_json({value}), 'str', kinds=TypeError)",
        )
    for name, top, needle in (
        ("version-0", '{"version": 0}', "version"),
        ("version-3", '{"version": 3}', "version"),
        ("version-string", '{"version": "1"}', "version"),
        ("version-float", '{"version": 1.0}', "version"),
        ("version-huge", '{"version": 2**70}', "version"),
        ("version-huge-float", '{"version": 1e300}', "version"),
        ("format", '{"format": "other"}', "format"),
        ("unknown-field", '{"extra": 1}', "extra"),
        ("no-columns", '{"columns": []}', "columns"),
    ):
        yield Case(
            f"codec-top-{name}",
            f"doc = {doc}\nC = {_column()}\n"
            f"error(lambda: Codec.from_json(doc(C, **{top})), '{needle}', kinds=ValueError)",
        )
    inconsistent = {
        "enum-duplicate-categories": (
            _column(dtype={"enum": ["a", "b", "a"]}),
            "twice",
        ),
        "int-categories-on-string": (_column(categories={"int": [1, 2]}), "integers"),
        "string-categories-on-int": (_column(dtype="int64"), "strings"),
        "bool-categories-on-string": (_column(categories={"boolean": [True]}), "booleans"),
        "infrequent-overlaps": (_column(infrequent={"string": ["b", "z"]}), "'b'"),
        "infrequent-empty": (_column(infrequent={"string": []}), "infrequent"),
        "infrequent-other-kind": (_column(infrequent={"int": [1]}), "infrequent"),
        "empty-name": (_column(name=""), "name"),
        "nul-in-name": (_column(name="c\x00d"), "NUL"),
        "nul-in-category": (_column(categories={"string": ["a\x00"]}), "NUL"),
        "duplicate-categories": (_column(categories={"string": ["a", "a"]}), "'a'"),
        "category-not-in-enum": (_column(dtype={"enum": ["a"]}), "'b'"),
        "uint8-out-of-range": (
            _column(dtype="uint8", categories={"int": [1, 300]}),
            "300",
        ),
        "uint64-negative": (_column(dtype="uint64", categories={"int": [-1]}), "-1"),
        "category-is-null-label": (
            _column(categories={"string": ["null"]}, null_category=True),
            "c_null",
        ),
        "no-fields": (_column(categories={"string": []}), "no fields"),
        "int-beyond-int64": (_column(dtype="int64", categories={"int": [2**64]}), "categories"),
        "unknown-dtype": (_column(dtype="float64"), "float64"),
        "missing-field": ("{'name': 'c', 'dtype': 'string'}", "categories"),
        "unknown-column-field": (_column(extra=1), "extra"),
    }
    for name, (column, needle) in inconsistent.items():
        yield Case(
            f"codec-inconsistent-{name}",
            f"doc = {doc}\nerror(lambda: Codec.from_json(doc({column})), {needle!r}, "
            "kinds=ValueError)",
        )
    yield Case(
        "codec-duplicate-column-names",
        f"doc = {doc}\nC = {_column()}\n"
        "error(lambda: Codec.from_json(doc(C, C)), 'columns[0]', 'columns[1]', \"'c'\", "
        "kinds=ValueError)",
    )
    yield Case(
        "codec-duplicate-feature-names",
        f"doc = {doc}\n"
        f"A = {_column(name='a', categories={'string': ['b_c']})}\n"
        f"B = {_column(name='a_b', categories={'string': ['c']})}\n"
        "error(lambda: Codec.from_json(doc(A, B)), 'a_b_c', \"'a'\", \"'a_b'\", kinds=ValueError)",
    )
    yield Case(
        "codec-feature-named-as-column",
        f"doc = {doc}\n"
        f"A = {_column(name='a', categories={'string': ['b']})}\n"
        f"B = {_column(name='a_b', categories={'string': ['c']})}\n"
        "error(lambda: Codec.from_json(doc(A, B)), 'a_b', kinds=ValueError)",
    )
    yield Case(
        "codec-fit-duplicate-feature-names",
        """
        df = pl.DataFrame({"a": ["b_c", "x"], "a_b": ["c", "y"]})
        fit = lambda: Codec.fit(df, numeric=None)
        error(fit, "Codec.fit", "a_b_c", "'a'", "'a_b'", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-null-string-and-nulls",
        """
        df = pl.DataFrame({"a": ["null", None, "x"]})
        error(lambda: Codec.fit(df, numeric=None), "Codec.fit", "a_null", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-nul-column-name",
        """
        df = pl.DataFrame({"a\\x00b": ["x", "y"]})
        error(lambda: Codec.fit(df, ["a\\x00b"], numeric=None), "NUL", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-nul-value",
        """
        df = pl.DataFrame({"a": ["x\\x00y", "z"]})
        error(lambda: Codec.fit(df, numeric=None), "NUL", "'a'", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-no-columns",
        """
        df = pl.DataFrame({"n": [1, 2]})
        error(lambda: Codec.fit(df, numeric=None), "no columns", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-int128-column",
        """
        df = pl.DataFrame({"n": [1, 2]}, schema={"n": pl.Int128})
        error(lambda: Codec.fit(df, ["n"], numeric=None), "'n'", "Int128", kinds=TypeError)
        """,
    )
    yield Case(
        "codec-encode-feature-clash",
        """
        codec = Codec.fit(pl.DataFrame({"c": ["a", "b"]}), numeric=None)
        df = pl.DataFrame({"c": ["a"], "c_a": [1]})
        error(lambda: codec.encode(df), "'c_a'", kinds=ValueError)
        assert codec.encode(df, layout="struct").columns == ["c", "c_a"]
        """,
    )
    yield Case(
        "codec-round-trip-emoji-and-empty",
        """
        df = pl.DataFrame({"c": ["🐍", "", None, "é"], "n": [1, 2, 3, 4]})
        codec = Codec.fit(df, numeric=None)
        again = Codec.from_json(codec.to_json())
        assert again == codec
        assert codec.decode(codec.encode(df)).equals(df)
        """,
    )
    yield Case(
        "codec-load-missing",
        "error(lambda: Codec.load(tmp / 'none.json'), 'none.json', kinds=OSError)",
    )
    yield Case(
        "codec-load-not-utf8",
        """
        path = tmp / "bad.json"
        path.write_bytes(b"\\xff\\xfe{}")
        error(lambda: Codec.load(path), "UTF-8", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-load-directory",
        "error(lambda: Codec.load(tmp), kinds=OSError)",
    )


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------


def cli_cases() -> Iterator[Case]:
    setup = textwrap.dedent(
        """
    data = tmp / "in.parquet"
    pl.DataFrame({"c": ["a", "b", "a"], "n": [1, 2, 3]}).write_parquet(data)
    codec = tmp / "codec.json"
    assert cli("fit", data, "-o", codec, "--numeric", "none").returncode == 0
    encoded = tmp / "enc.parquet"
    assert cli("encode", data, "--codec", codec, "-o", encoded).returncode == 0
    """
    )
    bad = {
        "fit-missing": ('"fit", tmp / "none.parquet", "-o", tmp / "c.json"', ("none.parquet",)),
        "encode-missing": (
            '"encode", tmp / "none.csv", "--codec", codec, "-o", tmp / "o.parquet"',
            ("none.csv",),
        ),
        "decode-missing-codec": (
            '"decode", encoded, "--codec", tmp / "no.json", "-o", tmp / "o.parquet"',
            ("no.json",),
        ),
        "fit-unwritable": ('"fit", data, "-o", "/proc/x.json"', ()),
        "fit-no-such-directory": ('"fit", data, "-o", tmp / "no" / "c.json"', ()),
        "encode-unwritable": ('"encode", data, "--codec", codec, "-o", "/proc/x.parquet"', ()),
        "encode-bad-extension": (
            '"encode", data, "--codec", codec, "-o", tmp / "o.xlsx"',
            ("'.xlsx'",),
        ),
        "encode-layout-bogus": (
            '"encode", data, "--codec", codec, "-o", tmp / "o.parquet", "--layout", "bogus"',
            ("bogus",),
        ),
        "encode-dtype-bogus": (
            '"encode", data, "--codec", codec, "-o", tmp / "o.parquet", "--dtype", "int8"',
            ("int8",),
        ),
        "decode-seed-float": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--seed", "1.5"',
            ("--seed", "1.5"),
        ),
        "decode-seed-negative": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--seed", "-1"',
            ("--seed",),
        ),
        "decode-seed-huge": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--seed", str(2**64)',
            ("--seed",),
        ),
        "decode-tau-nan": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--tau", "nan"',
            ("--tau",),
        ),
        "decode-tau-zero": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--tau", "0"',
            ("--tau",),
        ),
        "decode-method-bogus": (
            '"decode", encoded, "--codec", codec, "-o", tmp / "o.parquet", "--method", "x"',
            ("--method",),
        ),
        "demo-noise-nan": ('"demo", "--noise", "nan"', ("--noise",)),
        "demo-noise-negative": ('"demo", "--noise", "-1"', ("--noise",)),
        "demo-rows-zero": ('"demo", "--rows", "0"', ("--rows",)),
        "fit-columns-empty": ('"fit", data, "-o", tmp / "c.json", "--columns", ""', ("--columns",)),
        "fit-columns-hole": (
            '"fit", data, "-o", tmp / "c.json", "--columns", "c,,n"',
            ("--columns",),
        ),
        "fit-columns-unknown": ('"fit", data, "-o", tmp / "c.json", "--columns", "zz"', ("'zz'",)),
        "fit-max-categories-zero": (
            '"fit", data, "-o", tmp / "c.json", "--max-categories", "0"',
            ("--max-categories",),
        ),
        "fit-min-frequency-nan": (
            '"fit", data, "-o", tmp / "c.json", "--min-frequency", "nan"',
            ("--min-frequency",),
        ),
        "fit-min-frequency-word": (
            '"fit", data, "-o", tmp / "c.json", "--min-frequency", "abc"',
            ("--min-frequency",),
        ),
        "fit-min-frequency-1.5": (
            '"fit", data, "-o", tmp / "c.json", "--min-frequency", "1.5"',
            ("--min-frequency",),
        ),
        "unknown-flag": ('"fit", data, "-o", tmp / "c.json", "--bogus"', ("--bogus",)),
        "no-command": ("", ("COMMAND",)),
        "unknown-command": ('"frobnicate"', ("frobnicate",)),
        "fit-missing-output": ('"fit", data', ("-o",)),
    }
    for name, (args, needles) in bad.items():
        yield Case(
            f"cli-{name}",
            setup + f"cli_error({args + ', ' if args else ''}needles={needles!r})\n",
        )
    yield Case(
        "cli-corrupt-parquet",
        setup
        + textwrap.dedent("""
        bad = tmp / "bad.parquet"
        bad.write_bytes(b"PAR1 not really parquet")
        cli_error("fit", bad, "-o", tmp / "c.json")
        cli_error("encode", bad, "--codec", codec, "-o", tmp / "o.parquet")
        """),
    )
    yield Case(
        "cli-corrupt-codec",
        setup
        + textwrap.dedent("""
        bad = tmp / "bad.json"
        bad.write_text('{"format": "polars-gumbel-codec", "version": 1, "columns": [{"name"')
        cli_error("encode", data, "--codec", bad, "-o", tmp / "o.parquet", needles=("malformed",))
        """),
    )
    yield Case(
        "cli-inconsistent-codec",
        setup
        + textwrap.dedent("""
        doc = json.loads(codec.read_text())
        doc["columns"][0]["infrequent"] = {"string": ["a"]}
        bad = tmp / "bad.json"
        bad.write_text(json.dumps(doc))
        cli_error("encode", data, "--codec", bad, "-o", tmp / "o.parquet", needles=("infrequent",))
        """),
    )
    yield Case(
        "cli-header-only-csv",
        setup
        + textwrap.dedent("""
        head = tmp / "head.csv"
        head.write_text("c,n\\n")
        cli_error("fit", head, "-o", tmp / "c.json")
        out = tmp / "o.csv"
        done = cli("encode", head, "--codec", codec, "-o", out)
        assert done.returncode == 0, done.stderr
        assert pl.read_csv(out).columns == ["c_a", "c_b", "n"]
        """),
    )
    yield Case(
        "cli-empty-file",
        setup
        + textwrap.dedent("""
        empty = tmp / "empty.csv"
        empty.write_text("")
        cli_error("fit", empty, "-o", tmp / "c.json")
        """),
    )
    yield Case(
        "cli-csv-header-with-nul",
        setup
        + textwrap.dedent("""
        nul = tmp / "nul.csv"
        nul.write_bytes(b"a\\x00b,n\\nx,1\\ny,2\\n")
        cli_error("fit", nul, "-o", tmp / "c.json")
        """),
    )
    yield Case(
        "cli-csv-value-with-nul",
        setup
        + textwrap.dedent("""
        nul = tmp / "nul.csv"
        nul.write_bytes(b"c,n\\na,1\\nb\\x00z,2\\n")
        line = cli_error("encode", nul, "--codec", codec, "-o", tmp / "o.parquet")
        assert "b\\\\0z" in line, line
        """),
    )
    yield Case(
        "cli-nothing-done-before-error",
        setup
        + textwrap.dedent("""
        done = cli("fit", data, "-o", tmp / "missing-dir" / "c.json")
        assert done.returncode != 0 and "done" not in done.stderr, done.stderr
        """),
    )


# ---------------------------------------------------------------------------------------
# Names a user passes, and the codec's sources
# ---------------------------------------------------------------------------------------


def name_cases() -> Iterator[Case]:
    nul_calls = {
        "softmax": 'softmax("a\\x00b")',
        "log-softmax": 'log_softmax(pl.col("a\\x00b"))',
        "argmax": 'argmax(pl.col("a\\x00b"))',
        "gumbel": 'gumbel_softmax("a\\x00b", seed=1)',
        "gumbel-key": 'gumbel_softmax("x", seed=1, key="k\\x00")',
        "decode": 'decode("a\\x00b", ["p", "q"])',
        "decode-key": 'decode("x", ["p", "q"], method="sample", seed=1, key=pl.col("k\\x00"))',
        "one-hot": 'one_hot("a\\x00b", ["p"])',
        "alias": 'softmax(pl.col("x").alias("y\\x00"))',
    }
    for name, call in nul_calls.items():
        yield Case(
            f"name-nul-{name}",
            f"""
            error(lambda: {call}, "NUL", kinds=ValueError)
            """,
        )
    for name, call in (
        ("decode", 'decode("x")'),
        ("argmax", 'argmax("x")'),
        ("softmax", 'softmax("x")'),
    ):
        # Polars panics exporting the plugin's input schema, before the plugin runs;
        # an expression cannot see its input's fields sooner (pola-rs/polars#24353).
        yield Case(
            f"name-nul-struct-field-{name}",
            f"""
            df = pl.DataFrame({{"x": [{{"x_a\\x00": 1.0, "x_b": 2.0}}]}})
            error(lambda: df.select({call}))
            """,
            xfail="Polars panics exporting a plugin's input field named with a NUL",
            strict=True,
        )
    for order in ("features-first", "column-first"):
        frame = (
            'feats.with_columns(pl.Series("s", ["b", "a"]))'
            if order == "features-first"
            else 'feats.select(pl.Series("s", ["b", "a"]), pl.all())'
        )
        yield Case(
            f"codec-decode-two-sources-{order}",
            f"""
            c = Codec.fit(pl.DataFrame({{"s": ["a", "b"]}}), numeric=None)
            feats = c.encode(pl.DataFrame({{"s": ["a", "b"]}}))
            error(lambda: c.decode({frame}), "two sources", "'s'", "'s_a'", kinds=ValueError)
            """,
        )
    yield Case(
        "codec-decode-two-sources-struct",
        """
        c = Codec.fit(pl.DataFrame({"s": ["a", "b"]}), numeric=None)
        df = pl.DataFrame({"s": ["a", "b"]})
        both = c.encode(df, layout="struct").with_columns(c.encode(df)["s_b"])
        error(lambda: c.decode(both), "two sources", "'s'", "'s_b'", kinds=ValueError)
        """,
    )
    yield Case(
        "codec-fit-rare-value-with-nul",
        """
        df = pl.DataFrame({"x": ["a", "a", "b\\x00", None]})
        c = Codec.fit(df, min_frequency=2, numeric=None)
        assert c.feature_names == ["x_a", "x_null", "x_other"], c.feature_names
        enc = c.encode(pl.DataFrame({"x": ["b\\x00", "a", "zzz"]}))
        assert enc.rows() == [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)], enc.rows()
        assert c.decode(enc)["x"].to_list() == ["other", "a", "other"]
        assert Codec.from_json(c.to_json()) == c
        """,
    )
    for cast in ("s_b", "s_null", "t_y"):
        yield Case(
            f"codec-gumbel-names-the-column-{cast}",
            f"""
            df = pl.DataFrame({{"s": ["a", "b", None], "t": ["x", "y", "x"]}})
            c = Codec.fit(df, numeric=None)
            bad = c.encode(df).with_columns(pl.col("{cast}").cast(pl.String))
            msg = error(lambda: c.gumbel_softmax(bad, seed=1), "'{cast}'", "str")
            first = msg.splitlines()[0]
            assert not any(f"'{{f}}'" in first for f in c.feature_names if f != "{cast}"), first
            """,
        )
    for name, value in (("map", "{}"), ("string", '"x"'), ("null", "None"), ("number", "3")):
        yield Case(
            f"codec-columns-is-{name}",
            f"""
            d = json.loads(Codec.fit(pl.DataFrame({{"s": ["a"]}}), numeric=None).to_json())
            d["columns"] = {value}
            error(lambda: Codec.from_json(json.dumps(d)), "`columns`", kinds=ValueError)
            """,
        )
    for name, value, needle in (
        ("map", "{}", "`table`"),
        ("numbers", "[1, 2]", "`table`"),
        ("twice", '["s", "s"]', "twice"),
        ("lacking", '["x"]', "lacks"),
    ):
        yield Case(
            f"codec-table-{name}",
            f"""
            d = json.loads(Codec.fit(pl.DataFrame({{"s": ["a"]}}), numeric=None).to_json())
            d["table"] = {value}
            error(lambda: Codec.from_json(json.dumps(d)), "{needle}", kinds=ValueError)
            """,
        )
    yield Case(
        "codec-columns-entry-not-a-map",
        """
        d = json.loads(Codec.fit(pl.DataFrame({"s": ["a"]}), numeric=None).to_json())
        d["columns"] = [1]
        error(lambda: Codec.from_json(json.dumps(d)), "columns[0]", kinds=ValueError)
        """,
    )
    for fmt in ("csv", "ndjson"):
        yield Case(
            f"cli-decode-own-empty-{fmt}",
            f"""
            data = tmp / "in.parquet"
            pl.DataFrame({{"c": ["a", "b"], "n": [1, 2]}}).write_parquet(data)
            empty = tmp / "empty.parquet"
            pl.read_parquet(data).head(0).write_parquet(empty)
            codec, enc, dec = tmp / "c.json", tmp / "enc.{fmt}", tmp / "dec.parquet"
            assert cli("fit", data, "-o", codec).returncode == 0
            assert cli("encode", empty, "--codec", codec, "-o", enc).returncode == 0
            done = cli("decode", enc, "--codec", codec, "-o", dec)
            assert done.returncode == 0, done.stderr
            out = pl.read_parquet(dec)
            assert out.height == 0 and out.schema["c"] == pl.String, out
            """,
        )


# ---------------------------------------------------------------------------------------
# The codec's matrix
# ---------------------------------------------------------------------------------------

MATRIX_SETUP = """
import numpy as np
df = pl.DataFrame({"s": ["a", "b", None, "a"], "n": [1, 2, 3, 4], "t": [True, False, True, True]})
c = Codec.fit(df, numeric=None)
D = c.width
m = c.encode(df, layout="matrix")["features"]
want = c.decode(c.encode(df))
"""


def matrix_cases() -> Iterator[Case]:
    cases = {
        "wrong-width": """
            bad = pl.DataFrame({"features": np.zeros((4, D + 1), np.float32)})
            error(lambda: c.decode(bad), f"{D + 1} scores", f"{D} features", kinds=ValueError)
            error(lambda: c.decode(np.zeros((4, D - 1))), f"{D - 1}", f"{D} features")
            """,
        "list-not-array": """
            bad = pl.DataFrame({"features": m.cast(pl.List(pl.Float32))})
            error(lambda: c.decode(bad, matrix="features"), "List", "Array", kinds=ValueError)
            """,
        "float16": """
            out = c.decode(m.to_numpy().astype(np.float16))
            assert out.equals(want.select(c.columns)), out
            soft = c.gumbel_softmax(m.to_numpy().astype(np.float16), seed=1)
            assert soft.dtype == np.float32, soft.dtype
            """,
        "integer": """
            out = c.decode(m.to_numpy().astype(np.int64))
            assert out.equals(want.select(c.columns)), out
            """,
        "bool": """
            out = c.decode(m.to_numpy().astype(bool))
            assert out.equals(want.select(c.columns)), out
            """,
        "nulls-inside-a-span": """
            rows = m.to_numpy().tolist()
            rows[1][0] = None          # a score of s's span
            frame = pl.DataFrame({"features": rows}, schema={"features": pl.Array(pl.Float64, D)})
            out = c.decode(frame)
            assert out["s"].to_list() == [want["s"][0], None, *want["s"].to_list()[2:]], out
            assert out["t"].to_list() == want["t"].to_list(), out
            """,
        "null-rows": """
            frame = pl.DataFrame({"features": m}).with_columns(
                pl.when(pl.int_range(4) == 2)
                .then(None)
                .otherwise(pl.col("features"))
                .alias("features")
            )
            out = c.decode(frame)
            assert out.row(2) == (None, None), out
            assert out.row(3) == want.select(c.columns).row(3), out
            """,
        "sliced": """
            frame = pl.DataFrame({"features": m})[1:3]
            for method in ("argmax", "sample"):
                got = c.decode(frame, method=method, seed=3)
                ref = c.decode(c.encode(df)[1:3], method=method, seed=3)
                assert got.equals(ref.select(c.columns)), (method, got, ref)
            """,
        "multi-chunk": """
            parts = [pl.DataFrame({"features": m[:1]}), pl.DataFrame({"features": m[1:]})]
            frame = pl.concat(parts, rechunk=False)
            assert frame["features"].n_chunks() == 2
            got = c.decode(frame, method="sample", seed=3)
            ref = c.decode(c.encode(df), method="sample", seed=3)
            assert got.equals(ref.select(c.columns)), (got, ref)
            relaxed = c.gumbel_softmax(frame, seed=3)["features"].to_numpy()
            flat = c.gumbel_softmax(c.encode(df).drop("n"), seed=3).to_numpy()
            assert np.array_equal(relaxed, flat), (relaxed, flat)
            """,
        "zero-rows": """
            out = c.decode(np.zeros((0, D), np.float32))
            assert out.height == 0 and out.schema == want.select(c.columns).schema, out
            assert c.gumbel_softmax(np.zeros((0, D), np.float32), seed=1).shape == (0, D)
            """,
        "fortran-order": """
            logits = np.asfortranarray(np.random.default_rng(1).normal(size=(4, D)))
            got = c.decode(logits, method="sample", seed=5)
            ref = c.decode(np.ascontiguousarray(logits), method="sample", seed=5)
            assert got.equals(ref), (got, ref)
            """,
        "three-d": """
            error(lambda: c.decode(np.zeros((2, 2, D))), "2-D", "(2, 2, ", kinds=ValueError)
            error(lambda: c.gumbel_softmax(np.zeros(D)), "2-D", kinds=ValueError)
            """,
        "object-array": """
            error(lambda: c.decode(np.array([["a"] * D], dtype=object)), "object", kinds=TypeError)
            """,
        "not-an-array": """
            error(lambda: c.decode({"features": 1}), "dict", kinds=TypeError)
            """,
        "nan-and-inf-in-one-span": """
            logits = np.zeros((2, D))
            logits[:, 3] = 1.0         # t: true
            logits[0, 0] = np.nan
            logits[1, 1] = np.inf
            out = c.decode(logits)
            assert out["s"].to_list() == [None, None], out
            assert out["t"].null_count() == 0, out
            soft = c.gumbel_softmax(pl.DataFrame({"features": logits}), seed=1)["features"]
            spans = {name: (a, b) for name, a, b, _ in c.blocks}
            a, b = spans["s"]
            assert soft.arr.slice(a, b - a).to_list() == [[None] * (b - a)] * 2, soft
            assert all(v is not None for row in soft.arr.slice(b, D - b).to_list() for v in row)
            """,
        "key-is-the-matrix": """
            frame = pl.DataFrame({"features": m})
            keyed = lambda: c.decode(frame, method="sample", seed=1, key="features")
            error(keyed, "key", "matrix", kinds=ValueError)
            """,
        "matrix-and-features-both": """
            frame = c.encode(df).with_columns(m.alias("features"))
            two = "two sources"
            error(lambda: c.decode(frame, matrix="features"), two, "'features'", kinds=ValueError)
            error(lambda: c.gumbel_softmax(frame, matrix="features"), two, kinds=ValueError)
            """,
        "matrix-name-clash": """
            clash = lambda: c.encode(df, layout="matrix", matrix="n")
            error(clash, "'n'", "matrix", kinds=ValueError)
            error(lambda: c.encode(df, layout="matrix", matrix="x\\x00"), "NUL", kinds=ValueError)
            """,
        "no-matrix-column": """
            error(lambda: c.decode(pl.DataFrame({"n": [1]}), matrix="zz"), "'zz'", kinds=ValueError)
            """,
        "unknown-category": """
            bad = pl.DataFrame({"s": ["zzz"], "n": [1], "t": [True]})
            error(lambda: c.encode(bad, layout="matrix"), "zzz", "'s'")
            """,
        "unseen-null": """
            c2 = Codec.fit(pl.DataFrame({"s": ["a", "b"]}), numeric=None)
            mm = c2.encode(pl.DataFrame({"s": ["a", None]}), layout="matrix")["features"]
            assert mm.to_list() == [[1.0, 0.0], [None, None]], mm.to_list()
            assert c2.decode(pl.DataFrame({"features": mm}))["s"].to_list() == ["a", None]
            """,
        "arrow-with-nulls": """
            import pyarrow as pa
            arr = pa.array([[0.0, 1.0, 0.0, 1.0, 0.0], None], pa.list_(pa.float64(), D))
            out = c.decode(arr)
            assert out.row(1) == (None, None), out
            assert out.height == 2, out
            """,
    }
    for name, code in cases.items():
        yield Case(f"matrix-{name}", MATRIX_SETUP + textwrap.dedent(code))


ALL_CASES: list[Case] = [
    *string_cases(),
    *one_hot_dtype_cases(),
    *object_cases(),
    *block_cases(),
    *score_dtype_cases(),
    *option_cases(),
    *plan_cases(),
    *codec_cases(),
    *cli_cases(),
    *name_cases(),
    *matrix_cases(),
]


def _param(case: Case) -> object:
    marks = []
    if case.xfail:
        marks.append(pytest.mark.xfail(reason=case.xfail, strict=case.strict))
    missing = [name for name in case.requires if not hasattr(pl, name)]
    if missing:
        marks.append(pytest.mark.skip(reason=f"this Polars has no pl.{missing[0]}"))
    return pytest.param(case, marks=marks, id=case.id)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 200


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """Runs the selected cases (see `_run_all`)."""
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        if isinstance(case, Case) and item.get_closest_marker("skip") is None:
            selected.append(case)
    return _run_all(selected)


@pytest.mark.parametrize("case", [_param(c) for c in ALL_CASES])
def test_hostile(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes.get(case.id) or _run_alone(case)
    assert outcome.ok, f"{case.id}: {outcome.report}"
