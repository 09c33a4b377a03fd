"""The ``polars-gumbel`` command: fit, encode, decode and demo, streaming files by
extension (Parquet, CSV, NDJSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from polars_gumbel.codec import Codec

_DTYPES = {"float32": pl.Float32, "float64": pl.Float64, "uint8": pl.UInt8, "boolean": pl.Boolean}
#: ``fit --numeric``: the transform of every number column, or ``none`` to pass them through.
_NUMERIC = ("mode", "standard", "minmax", "none")


class CliError(Exception):
    """An error reported as one line on stderr."""


class UsageError(CliError):
    """A command line argparse refused (exit code 2, as argparse's own)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other error of the
    command (argparse prints its usage block, then the error)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _whole(text: str, low: int, high: int | None, wanted: str) -> int:
    """`text` as a whole number in [low, high), or an argparse error saying `wanted`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low or (high is not None and value >= high):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole(text, 1, None, "a number >= 1")


def _seed(text: str) -> int:
    return _whole(text, 0, 2**64, "a number in [0, 2**64)")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _min_frequency(text: str) -> int | float:
    """A count (a whole number >= 1) or a fraction of the rows, in (0, 1)."""
    value = _finite(text)
    if value >= 1 and value.is_integer():
        return int(value)
    if 0 < value < 1:
        return value
    raise argparse.ArgumentTypeError(
        f"expected a whole number >= 1 or a fraction in (0, 1), got {text!r}"
    )


def _column_list(text: str) -> list[str]:
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return columns


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    for kind, suffixes in {
        "parquet": (".parquet", ".pq"),
        "csv": (".csv",),
        "ndjson": (".ndjson", ".jsonl"),
    }.items():
        if suffix in suffixes:
            return kind
    raise CliError(f"{path}: unknown file type {suffix!r}; use .parquet, .csv or .ndjson")


def scan(path: str, dtypes: Mapping[str, pl.DataType] | None = None) -> pl.LazyFrame:
    """A lazy scan of a Parquet, CSV or NDJSON file, chosen by extension.

    ``dtypes`` fixes the dtypes of those of its columns that the file holds, where the
    format keeps none (CSV, NDJSON): a header-only CSV would otherwise read as String.
    """
    p = Path(path)
    kind = _kind(p)
    if not p.exists():
        raise CliError(f"{path}: no such file")
    if kind == "parquet":
        return pl.scan_parquet(p)
    if kind == "csv":
        names = pl.scan_csv(p).collect_schema().names()
        overrides = {n: dtypes[n] for n in names if dtypes and n in dtypes}
        return pl.scan_csv(p, schema_overrides=overrides or None)
    # Keep the columns in the order of the file's first record: the NDJSON reader may
    # reorder keys of wide records.
    with p.open(encoding="utf-8") as f:
        first = f.readline()
    order = list(json.loads(first)) if first.strip() else []
    if not order and dtypes:
        # An empty file names no column: it holds no rows of the columns expected.
        return pl.LazyFrame(schema=dict(dtypes))
    overrides = {n: dtypes[n] for n in order if dtypes and n in dtypes}
    lf = pl.scan_ndjson(p, schema_overrides=overrides or None)
    return lf.select(order) if order else lf


def sink(lf: pl.LazyFrame, path: str) -> None:
    """Stream `lf` into a Parquet, CSV or NDJSON file, chosen by extension."""
    p = Path(path)
    kind = _kind(p)
    if kind == "parquet":
        lf.sink_parquet(p)
    elif kind == "csv":
        nested = [n for n, d in lf.collect_schema().items() if d.is_nested()]
        if nested:
            raise CliError(
                f"{path}: CSV cannot hold the nested column {nested[0]!r}; "
                "use --layout flat or .parquet"
            )
        lf.sink_csv(p)
    else:
        lf.sink_ndjson(p)


@contextmanager
def progress(label: str) -> Iterator[None]:
    """Reports `label` with a running clock on stderr while a long step runs, and its
    time when it succeeds; a failure leaves the error message alone on stderr."""
    start = time.perf_counter()
    stop = threading.Event()
    tty = sys.stderr.isatty()

    def tick() -> None:
        while not stop.wait(1.0 if tty else 10.0):
            elapsed = time.perf_counter() - start
            print(f"{label} … {elapsed:.0f} s", end="\r" if tty else "\n", file=sys.stderr)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
    print(f"{label}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _fit(args: argparse.Namespace) -> None:
    transform = None if args.numeric == "none" else args.numeric
    numeric: Any = transform
    if args.numeric_columns is not None:
        if transform is None:
            raise UsageError(
                "--numeric-columns names columns to normalise, --numeric none normalises "
                "none: choose one (see polars-gumbel fit --help)"
            )
        numeric = dict.fromkeys(args.numeric_columns, transform)
    with progress(f"fitting {args.data}"):
        codec = Codec.fit(
            scan(args.data),
            args.columns,
            max_categories=args.max_categories,
            min_frequency=args.min_frequency,
            order=args.order,
            numeric=numeric,
            max_modes=args.max_modes,
            seed=args.seed,
        )
        codec.save(args.output)
    # A numeric column's first span is its scalar (tanh or linear), never a softmax.
    numeric = {s.column for s in codec.spans if s.activation != "softmax"}
    print(
        f"{args.output}: {len(codec.columns)} columns ({len(codec.columns) - len(numeric)} "
        f"categorical, {len(numeric)} numeric), {codec.width} features",
        file=sys.stderr,
    )


def _numeric_dtypes(codec: Codec) -> dict[str, pl.DataType]:
    """The dtypes of the codec's numeric columns, as it decodes them (from its plan,
    without data): a CSV or NDJSON file keeps none, and a header-only CSV would read
    them as String, a CSV file its dates and times."""
    numeric = {s.column for s in codec.spans if s.activation != "softmax"}
    if not numeric:
        return {}
    empty = pl.LazyFrame(schema=dict.fromkeys(codec.feature_names, pl.Float64()))
    schema = codec.decode(empty).collect_schema()
    return {c: schema[c] for c in codec.columns if c in numeric}


def _encode(args: argparse.Namespace) -> None:
    codec = Codec.load(args.codec)
    lf = codec.encode(
        scan(args.data, _numeric_dtypes(codec)),
        layout=args.layout,
        dtype=_DTYPES[args.dtype],
        matrix=args.matrix,
        method=args.method,
        seed=args.seed,
        key=args.key,
    )
    with progress(f"encoding {args.data} into {args.output}"):
        sink(lf, args.output)


def _decode(args: argparse.Namespace) -> None:
    codec = Codec.load(args.codec)
    # Scores are read as Float64 wherever the file keeps no dtype, so that a file of no
    # rows decodes to no rows, as a Parquet file does; a matrix column as an Array.
    scores: dict[str, pl.DataType] = dict.fromkeys(codec.feature_names, pl.Float64())
    if args.matrix is not None:
        if _kind(Path(args.data)) == "csv":
            raise CliError(
                f"{args.data}: CSV cannot hold the matrix column {args.matrix!r}; "
                "use .parquet or .ndjson"
            )
        scores[args.matrix] = pl.Array(pl.Float64, codec.width)
    lf = codec.decode(
        scan(args.data, scores),
        method=args.method,
        tau=args.tau,
        seed=args.seed,
        key=args.key,
        matrix=args.matrix,
    )
    with progress(f"decoding {args.data} into {args.output}"):
        sink(lf, args.output)


def _demo(args: argparse.Namespace) -> None:
    from polars_gumbel import demo

    demo.run(rows=args.rows, seed=args.seed, noise=args.noise, plot=args.plot)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="polars-gumbel",
        description="Encode the columns of Parquet, CSV or NDJSON files for a generator "
        "(categorical ones one-hot, numeric ones normalised) and decode its scores back "
        "to the table, by argmax or Gumbel sampling, streaming.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    f = sub.add_parser(
        "fit",
        help="learn a codec from a table",
        description="Learn each categorical column's categories and each numeric column's "
        "transform (by default CTGAN's mode-specific normalisation).",
    )
    f.add_argument("data", help="input table (.parquet, .csv, .ndjson)")
    f.add_argument("-o", "--output", required=True, help="codec JSON to write")
    f.add_argument(
        "--columns",
        type=_column_list,
        help="comma-separated categorical columns (default: String, Categorical, Enum, "
        "Boolean); integer columns may be named",
    )
    f.add_argument(
        "--max-categories",
        type=_positive_int,
        help="at most this many fields per column, 'other' included",
    )
    f.add_argument(
        "--min-frequency",
        type=_min_frequency,
        help="group categories rarer than this count (or fraction) into 'other'",
    )
    f.add_argument("--order", choices=("sorted", "frequency"), default="sorted")
    f.add_argument(
        "--numeric",
        choices=_NUMERIC,
        default="mode",
        help="the integer, float, Date, Datetime and Duration columns not in --columns: "
        "mode (default; a Gaussian mixture's mode and the scalar within it, as CTGAN), "
        "standard (z-score), minmax (the fitted range onto -1..1), or none (passed "
        "through unencoded)",
    )
    f.add_argument(
        "--numeric-columns",
        type=_column_list,
        metavar="COLUMNS",
        help="comma-separated numeric columns, each with the --numeric transform (default: "
        "every integer, float, Date, Datetime and Duration column not in --columns); other "
        "number columns, such as a row id, then pass through",
    )
    f.add_argument(
        "--max-modes",
        type=_positive_int,
        metavar="N",
        default=10,
        help="at most this many modes per column with --numeric mode (default 10)",
    )
    f.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the mixture fit with --numeric mode (default 0): a fit is a pure "
        "function of the data, the options and the seed",
    )
    f.set_defaults(run=_fit)

    e = sub.add_parser(
        "encode",
        help="encode a table",
        description="One-hot encode the codec's categorical columns and normalise its "
        "numeric ones, streaming; other columns pass through.",
    )
    e.add_argument("data", help="input table")
    e.add_argument("--codec", required=True, help="codec JSON from 'fit'")
    e.add_argument("-o", "--output", required=True, help="output table")
    e.add_argument(
        "--layout",
        choices=("flat", "struct", "array", "matrix"),
        default="flat",
        help="flat: a column per feature; struct / array: a block column per variable; "
        "matrix: one Array column of every feature (Parquet or NDJSON)",
    )
    e.add_argument(
        "--matrix",
        metavar="COLUMN",
        default="features",
        help="the matrix column's name, with --layout matrix (default: features)",
    )
    e.add_argument(
        "--dtype",
        choices=tuple(_DTYPES),
        default="float32",
        help="the features' dtype (default float32); a codec with numeric columns needs "
        "float32 or float64",
    )
    e.add_argument(
        "--method",
        choices=("sample", "argmax"),
        default="sample",
        help="each value's mode with --numeric mode: drawn from its posterior (default, "
        "as CTGAN) or the most probable one",
    )
    e.add_argument(
        "--seed",
        type=_seed,
        help="seed of the mode draw (default: fresh entropy)",
    )
    e.add_argument(
        "--key",
        metavar="COLUMN",
        help="integer or String column keying the seeded mode draw (default: the row "
        "index), so that files encoded apart agree with one encode of their concatenation",
    )
    e.set_defaults(run=_encode)

    d = sub.add_parser(
        "decode",
        help="decode scores back to the table",
        description="Decode blocks of scores back to the original columns and dtypes, "
        "streaming: labels by argmax or by sampling, numbers from their scalar and mode.",
    )
    d.add_argument(
        "data",
        help="table of scores (flat feature columns, one block column per variable, or "
        "one matrix column)",
    )
    d.add_argument(
        "--matrix",
        metavar="COLUMN",
        help="the Array column holding every feature of the row (a column named "
        "'features' is found without it)",
    )
    d.add_argument("--codec", required=True, help="codec JSON from 'fit'")
    d.add_argument("-o", "--output", required=True, help="output table")
    d.add_argument(
        "--method",
        choices=("argmax", "sample"),
        default="argmax",
        help="each block's label (or numeric mode): its highest score (default) or a draw "
        "from softmax(scores / tau)",
    )
    d.add_argument("--seed", type=_seed, help="seed of the sampling noise (default: fresh entropy)")
    d.add_argument(
        "--tau", type=_positive, default=1.0, help="temperature of the sampling (default 1)"
    )
    d.add_argument(
        "--key",
        metavar="COLUMN",
        help="integer or String column keying the seeded noise (default: the row index), "
        "so that files decoded apart agree with one decode of their concatenation",
    )
    d.set_defaults(run=_decode)

    m = sub.add_parser(
        "demo",
        help="the bundled Adult census demo",
        description="Fit, encode, generate logits and decode the bundled Adult census "
        "table (9 categorical and 6 numeric columns); compare argmax decoding with "
        "Gumbel sampling.",
    )
    m.add_argument(
        "--rows",
        type=_positive_int,
        default=None,
        help="rows to generate (default: as many as the table)",
    )
    m.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the mixture fit, the mode draws, the logits' noise and the sampling "
        "(default 0)",
    )
    m.add_argument(
        "--noise",
        type=_non_negative,
        default=0.5,
        help="standard deviation of the Gaussian noise on the logits (default 0.5; "
        "0.002 times it on the numeric scalars)",
    )
    m.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw every column, real against argmax and sampled, with the quality "
        "report's scores, to this PNG (needs the plot extra: matplotlib)",
    )
    m.set_defaults(run=_demo)
    return p


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # ModuleNotFoundError: an optional extra that is not installed, named in the message.
    expected = (
        CliError,
        ValueError,
        TypeError,
        OSError,
        ModuleNotFoundError,
        pl.exceptions.PolarsError,
    )
    if isinstance(exc, expected):
        return lines[0] if lines else type(exc).__name__
    # Anything else (a panic arrives as pyo3's PanicException, a BaseException) is a bug.
    detail = f": {lines[0]}" if lines else ""
    return f"internal error ({type(exc).__name__}{detail}); please report it"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        args.run(args)
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # --help, or a usage error of a subparser
        return exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:
        print(f"polars-gumbel: error: {_one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
