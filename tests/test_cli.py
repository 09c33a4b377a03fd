"""The ``polars-gumbel`` command: DESIGN §7.

Each test runs the installed command in a subprocess on temporary files, as a user
would, and checks the files it writes against the table it was given (the round trip
is the §6 invariant), and its failures against §7's promise: exit code ≠ 0, one line on
stderr starting ``polars-gumbel: error:``, no traceback.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats
from sklearn.preprocessing import OneHotEncoder

from polars_gumbel import Codec
from polars_gumbel.demo import generator_logits

ERROR_PREFIX = "polars-gumbel: error:"
COMMANDS = ("fit", "encode", "decode", "demo")
ROWS = 4_000  # the first rows of Adult: every format and layout stays fast
ALPHA = 0.001
#: The integer columns of the bundled Adult table, numeric in a codec by default.
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
#: A mode's encoded scalar is clipped to +-0.99 (CTGAN's): such a value does not come back.
CLIP = 0.99

READERS: dict[str, Callable[[Path], pl.DataFrame]] = {
    "parquet": pl.read_parquet,
    "csv": pl.read_csv,
    "ndjson": pl.read_ndjson,
}
WRITERS: dict[str, Callable[[pl.DataFrame, Path], None]] = {
    "parquet": lambda df, p: df.write_parquet(p),
    "csv": lambda df, p: df.write_csv(p),
    "ndjson": lambda df, p: df.write_ndjson(p),
}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polars_gumbel.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = run(*args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(ERROR_PREFIX), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def table(adult: pl.DataFrame) -> pl.DataFrame:
    return adult.head(ROWS)


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [
        ("parquet", "flat"),
        ("parquet", "struct"),
        ("parquet", "array"),
        ("csv", "flat"),
        ("ndjson", "flat"),
        ("ndjson", "struct"),
        ("ndjson", "array"),
    ],
)
def test_round_trip(tmp_path: Path, table: pl.DataFrame, fmt: str, layout: str) -> None:
    """fit, encode, decode: the decoded file holds the input table (DESIGN §6's invariant).

    The integer columns are numeric, ``minmax``: every value of the fitted range comes
    back (``mode`` clips a value far from its mode: `test_numeric_round_trip`).

    NDJSON: Polars' reader does not keep the key order of objects with 33 or more keys
    (pola-rs/polars#23023); the flat encoding has 110 columns and native-country's struct
    block 42 fields, so the command must not take column or field order from the reader.
    """
    data = tmp_path / f"in.{fmt}"
    WRITERS[fmt](table, data)
    assert_frame_equal(READERS[fmt](data), table)  # the format itself is lossless here
    codec = tmp_path / "codec.json"
    encoded = tmp_path / f"encoded.{fmt}"
    decoded = tmp_path / f"decoded.{fmt}"
    ok("fit", data, "-o", codec, "--numeric", "minmax")
    assert json.loads(codec.read_text(encoding="utf-8"))["format"] == "polars-gumbel-codec"
    assert set(ADULT_NUMERIC) <= set(Codec.load(codec).columns)
    ok("encode", data, "--codec", codec, "-o", encoded, "--layout", layout)
    ok("decode", encoded, "--codec", codec, "-o", decoded)
    assert_frame_equal(READERS[fmt](decoded), table)


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_matrix_round_trip(tmp_path: Path, table: pl.DataFrame, fmt: str) -> None:
    """encode --layout matrix writes one Array column in the first codec column's place,
    each numeric value's mode drawn keyed on ``id`` as the flat layout draws it; decode
    reads it back (found by its name, or named with --matrix), and argmax and keyed
    sampling give what the same decode gives in one process."""
    data = tmp_path / "in.parquet"
    original = table.with_row_index("id").with_columns(pl.col("id").cast(pl.Int64))
    original.write_parquet(data)
    codec_path = tmp_path / "codec.json"
    encoded = tmp_path / f"matrix.{fmt}"
    ok("fit", data, "-o", codec_path, "--numeric-columns", ",".join(ADULT_NUMERIC))
    codec = Codec.load(codec_path)
    assert "id" not in codec.columns  # the key passes through
    named = ["--matrix", "g"] if fmt == "ndjson" else []
    drawn = ["--seed", "3", "--key", "id"]
    ok("encode", data, "--codec", codec_path, "-o", encoded, "--layout", "matrix", *named, *drawn)
    flat = codec.encode(original, seed=3, key="id")
    if fmt == "parquet":
        matrix = pl.read_parquet(encoded)
        assert matrix.schema["features"] == pl.Array(pl.Float32, codec.width)
        np.testing.assert_array_equal(
            matrix["features"].to_numpy(), flat.select(codec.feature_names).to_numpy()
        )
    decoded = tmp_path / "decoded.parquet"
    ok("decode", encoded, "--codec", codec_path, "-o", decoded, *named)
    back = pl.read_parquet(decoded).select(original.columns)
    assert_frame_equal(back, codec.decode(flat).select(original.columns))
    assert_frame_equal(back.drop(ADULT_NUMERIC), original.drop(ADULT_NUMERIC))
    sampled = tmp_path / "sampled.parquet"
    keyed = ["--method", "sample", "--seed", "5", "--key", "id"]
    ok("decode", encoded, "--codec", codec_path, "-o", sampled, *named, *keyed)
    scores = pl.read_parquet(encoded) if fmt == "parquet" else pl.read_ndjson(encoded)
    if fmt == "ndjson":  # NDJSON keeps no dtype: the command reads an Array of Float64
        scores = scores.with_columns(pl.col("g").cast(pl.Array(pl.Float64, codec.width)))
    want = codec.decode(
        scores, method="sample", seed=5, key="id", matrix=named[1] if named else None
    )
    assert_frame_equal(pl.read_parquet(sampled), want)


def test_matrix_from_csv_is_one_line_error(tmp_path: Path, table: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    ok("fit", data, "-o", tmp_path / "codec.json")
    scores = tmp_path / "m.csv"
    pl.DataFrame({"features": [1.0]}).write_csv(scores)
    done = run(
        "decode",
        scores,
        "--codec",
        tmp_path / "codec.json",
        "-o",
        tmp_path / "o.parquet",
        "--matrix",
        "features",
    )
    assert_one_line_error(done, "CSV", "'features'", ".parquet")


def test_encode_writes_sklearn_indicators(
    tmp_path: Path, table: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    """``fit --numeric none``: the behaviour before numeric columns, scikit-learn's
    one-hot encoding of the categorical columns, numbers passed through as they are
    (so that an integer dtype such as uint8 can hold the indicators)."""
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    ok("fit", data, "-o", tmp_path / "codec.json", "--numeric", "none")
    ok("encode", data, "--codec", tmp_path / "codec.json", "-o", tmp_path / "enc.parquet")
    ok(
        "encode",
        data,
        "--codec",
        tmp_path / "codec.json",
        "-o",
        tmp_path / "u8.parquet",
        "--dtype",
        "uint8",
    )
    encoder = OneHotEncoder(sparse_output=False).fit(table.select(adult_categorical).to_numpy())
    names = list(encoder.get_feature_names_out(adult_categorical))
    expected = encoder.transform(table.select(adult_categorical).to_numpy())
    encoded = pl.read_parquet(tmp_path / "enc.parquet")
    passthrough = [c for c in table.columns if c not in adult_categorical]
    assert passthrough == list(ADULT_NUMERIC)
    assert_frame_equal(encoded.select(passthrough), table.select(passthrough))
    assert [c for c in encoded.columns if c not in passthrough] == names
    assert encoded.select(names).schema == pl.Schema({n: pl.Float32 for n in names})
    assert (encoded.select(names).to_numpy() == expected).all()
    u8 = pl.read_parquet(tmp_path / "u8.parquet").select(names)
    assert u8.schema == pl.Schema({n: pl.UInt8 for n in names})
    assert (u8.to_numpy() == expected).all()


def test_fit_options_match_sklearn(tmp_path: Path, adult: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    adult.write_parquet(data)
    codec = tmp_path / "codec.json"
    col = "native-country"
    numbers = ("--numeric", "none")  # the codec of `col` alone
    ok("fit", data, "-o", codec, "--columns", col, "--min-frequency", "0.005", *numbers)
    ok(
        "fit",
        data,
        "-o",
        tmp_path / "count.json",
        "--columns",
        col,
        "--min-frequency",
        "100",
        "--max-categories",
        "6",
        *numbers,
    )
    for path, encoder in (
        (codec, OneHotEncoder(min_frequency=0.005, handle_unknown="infrequent_if_exist")),
        (
            tmp_path / "count.json",
            OneHotEncoder(
                min_frequency=100, max_categories=6, handle_unknown="infrequent_if_exist"
            ),
        ),
    ):
        encoder.fit(adult.select(col).to_numpy())
        expected = sorted(str(v) for v in encoder.infrequent_categories_[0])
        (entry,) = json.loads(path.read_text(encoding="utf-8"))["columns"]
        assert entry["name"] == col
        assert sorted(entry["infrequent"]["string"]) == expected


ACTIVATIONS = {
    "mode": ["tanh", "softmax"],  # the scalar within the mode, then the mode's one-hot
    "standard": ["linear"],
    "minmax": ["tanh"],
}


@pytest.mark.parametrize("numeric", ["mode", "standard", "minmax", "none"])
def test_fit_numeric(
    tmp_path: Path, table: pl.DataFrame, numeric: str, kept_modes: Callable[..., int]
) -> None:
    """``fit --numeric``: the codec the Python API fits with the same options, each
    integer column with its transform's spans (none: the integers pass through)."""
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    path = tmp_path / "codec.json"
    done = ok("fit", data, "-o", path, "--numeric", numeric)
    codec = Codec.load(path)
    transform: Any = None if numeric == "none" else numeric
    assert codec == Codec.fit(table, numeric=transform)
    numbers = [] if numeric == "none" else list(ADULT_NUMERIC)
    assert f"(9 categorical, {len(numbers)} numeric)" in done.stderr
    assert codec.columns == [
        c for c in table.columns if c in numbers or table[c].dtype == pl.String
    ]
    for column in numbers:
        spans = [s for s in codec.spans if s.column == column]
        assert [s.activation for s in spans] == ACTIVATIONS[numeric]
        assert codec.feature_names[spans[0].start] == f"{column}_normalized"
        if numeric == "mode":
            modes = spans[1].stop - spans[1].start
            assert modes == kept_modes(table[column])
            assert codec.feature_names[spans[1].start : spans[1].stop] == [
                f"{column}_mode_{i}" for i in range(modes)
            ]
    encoded = tmp_path / "encoded.parquet"
    ok("encode", data, "--codec", path, "-o", encoded, "--method", "argmax")
    assert_frame_equal(pl.read_parquet(encoded), codec.encode(table, method="argmax"))


def test_fit_max_modes_and_seed(
    tmp_path: Path, table: pl.DataFrame, kept_modes: Callable[..., int]
) -> None:
    """``--max-modes`` bounds every column's modes and ``--seed`` seeds the mixture fit,
    as ``max_modes`` and ``seed`` do in the Python API."""
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    for seed in ("0", "5"):
        path = tmp_path / f"codec{seed}.json"
        ok("fit", data, "-o", path, "--max-modes", "3", "--seed", seed)
        codec = Codec.load(path)
        assert codec == Codec.fit(table, max_modes=3, seed=int(seed))
        for span in codec.spans:
            if span.column in ADULT_NUMERIC and span.activation == "softmax":
                width = span.stop - span.start
                assert width == kept_modes(table[span.column], 3, int(seed))
    ok("fit", data, "-o", tmp_path / "again.json", "--max-modes", "3", "--seed", "5")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "codec5.json").read_text()


@pytest.mark.parametrize(
    ("fmt", "layout", "numeric"),
    [
        ("parquet", "flat", "mode"),
        ("csv", "flat", "mode"),
        ("ndjson", "struct", "mode"),
        ("parquet", "array", "standard"),
    ],
)
def test_numeric_round_trip(
    tmp_path: Path, adult: pl.DataFrame, fmt: str, layout: str, numeric: str
) -> None:
    """The whole Adult table, streamed through fit, ``encode --method argmax`` and
    decode: every categorical value comes back, and every integer but those a mode's
    scalar clipped (|scalar| = 0.99: a value more than 3.96 standard deviations from
    its most probable mode; a z-score is never clipped), in its dtype. The decoded file
    is what the Python API decodes from the encoded file."""
    data = tmp_path / f"in.{fmt}"
    WRITERS[fmt](adult, data)
    path = tmp_path / "codec.json"
    encoded = tmp_path / f"encoded.{fmt}"
    decoded = tmp_path / f"decoded.{fmt}"
    ok("fit", data, "-o", path, "--numeric", numeric)
    codec = Codec.load(path)
    ok("encode", data, "--codec", path, "-o", encoded, "--layout", layout, "--method", "argmax")
    ok("decode", encoded, "--codec", path, "-o", decoded)
    back = READERS[fmt](decoded)
    assert back.schema == adult.schema
    assert_frame_equal(back, codec.decode(READERS[fmt](encoded)))
    scalars = codec.encode(adult, method="argmax").select(f"{c}_normalized" for c in ADULT_NUMERIC)
    if fmt == "parquet" and layout == "flat":
        assert_frame_equal(pl.read_parquet(encoded), codec.encode(adult, method="argmax"))
    clipped = 0
    for column in ADULT_NUMERIC:
        kept = (scalars[f"{column}_normalized"].abs() < CLIP - 1e-6).to_numpy()
        if numeric == "standard":  # a z-score is not clipped: every value comes back
            kept[:] = True
        clipped += int((~kept).sum())
        assert (back[column].to_numpy()[kept] == adult[column].to_numpy()[kept]).all(), column
    assert_frame_equal(back.drop(ADULT_NUMERIC), adult.drop(ADULT_NUMERIC))
    if numeric == "standard":
        assert clipped == 0
        assert_frame_equal(back, adult)
    else:
        assert clipped < 0.01 * adult.height * len(ADULT_NUMERIC)


def test_fit_numeric_columns(tmp_path: Path, table: pl.DataFrame) -> None:
    """``--numeric-columns``: those columns with the ``--numeric`` transform, as the
    Python API's mapping; the other integer columns pass through."""
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    path = tmp_path / "codec.json"
    ok("fit", data, "-o", path, "--numeric", "minmax", "--numeric-columns", "age,hours-per-week")
    codec = Codec.load(path)
    assert codec == Codec.fit(table, numeric={"age": "minmax", "hours-per-week": "minmax"})
    assert [c for c in codec.columns if table[c].dtype != pl.String] == ["age", "hours-per-week"]
    encoded = tmp_path / "encoded.parquet"
    ok("encode", data, "--codec", path, "-o", encoded)
    passed = ["fnlwgt", "education-num", "capital-gain", "capital-loss"]
    assert_frame_equal(pl.read_parquet(encoded).select(passed), table.select(passed))
    done = run("fit", data, "-o", tmp_path / "c.json", "--numeric-columns", "workclass")
    assert_one_line_error(done, "'workclass'")
    done = run("fit", data, "-o", tmp_path / "c.json", "--numeric-columns", "nowhere")
    assert_one_line_error(done, "'nowhere'")
    done = run(
        "fit", data, "-o", tmp_path / "c.json", "--numeric", "none", "--numeric-columns", "age"
    )
    assert_one_line_error(done, "--numeric-columns", "--numeric none")
    assert done.returncode == 2


def test_encode_reads_numeric_columns_of_csv_as_fitted(tmp_path: Path) -> None:
    """A CSV file keeps no dtypes: encode reads the codec's numeric columns in the dtypes
    it fitted, so that a header-only file encodes to no rows (not a String column the
    codec cannot normalise) and a Date column is parsed."""
    dates = pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 1, 30), eager=True)
    table = pl.DataFrame({"c": ["a", "b"] * 15, "n": range(30), "d": dates})
    table.write_parquet(tmp_path / "in.parquet")
    table.write_csv(tmp_path / "in.csv")
    codec = tmp_path / "codec.json"
    ok("fit", tmp_path / "in.parquet", "-o", codec, "--numeric", "minmax")
    head = tmp_path / "head.csv"
    head.write_text("c,n,d\n", encoding="utf-8")
    ok("encode", head, "--codec", codec, "-o", tmp_path / "head.out.csv")
    empty = pl.read_csv(tmp_path / "head.out.csv")
    assert empty.columns == Codec.load(codec).feature_names
    assert empty.height == 0
    ok("encode", tmp_path / "in.csv", "--codec", codec, "-o", tmp_path / "enc.parquet")
    ok("decode", tmp_path / "enc.parquet", "--codec", codec, "-o", tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), table)


def test_encode_seed_and_key(tmp_path: Path, table: pl.DataFrame) -> None:
    """``encode --seed``: each value's mode is drawn from its posterior as the Python API
    draws it, keyed by the row index or by ``--key``; with a key, a file encoded in parts
    gives, concatenated, the whole file's encoding. Without the key the parts' row
    positions restart and the results differ, which shows the comparison can fail."""
    ids = np.random.default_rng(5).choice(10**15, table.height, replace=False)
    original = table.select(pl.Series("id", ids), pl.all())
    data = tmp_path / "whole.parquet"
    original.write_parquet(data)
    path = tmp_path / "codec.json"
    ok("fit", data, "-o", path, "--numeric-columns", ",".join(ADULT_NUMERIC))
    codec = Codec.load(path)
    parts = ((0, 1_000), (1_000, 1_001), (1_001, table.height))
    for i, (a, b) in enumerate(parts):
        original[a:b].write_parquet(tmp_path / f"{i}.parquet")

    def encode(name: str, *options: str) -> pl.DataFrame:
        out = tmp_path / f"{name}.{'-'.join(options)}.out.parquet"
        ok("encode", tmp_path / f"{name}.parquet", "--codec", path, "-o", out, *options)
        return pl.read_parquet(out)

    keyed = ("--seed", "3", "--key", "id")
    whole = encode("whole", *keyed)
    assert_frame_equal(whole, codec.encode(original, seed=3, key="id"))
    assert_frame_equal(pl.concat(encode(str(i), *keyed) for i in range(3)), whole)
    positional = encode("whole", "--seed", "3")
    assert_frame_equal(positional, codec.encode(original, seed=3))
    assert_frame_equal(encode("whole", "--seed", "3"), positional)  # a seed repeats
    assert not pl.concat(encode(str(i), "--seed", "3") for i in range(3)).equals(positional)
    # The draw is a draw: some values take another mode than their most probable one.
    argmax = encode("whole", "--method", "argmax", "--seed", "3")
    assert_frame_equal(argmax, codec.encode(original, method="argmax"))
    assert not whole.equals(argmax)


def test_integer_dtype_for_numeric_codec_is_one_line_error(
    tmp_path: Path, table: pl.DataFrame
) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    ok("fit", data, "-o", tmp_path / "codec.json")
    out = tmp_path / "out.parquet"
    done = run("encode", data, "--codec", tmp_path / "codec.json", "-o", out, "--dtype", "uint8")
    assert_one_line_error(done, "'age'", "Float32")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--numeric", "log"), ("--numeric", "'log'")),
        (("--max-modes", "0"), ("--max-modes", "'0'")),
        (("--seed", "-1"), ("--seed", "'-1'")),
    ],
    ids=["numeric", "max-modes", "seed"],
)
def test_bad_fit_option_is_one_line_error(
    tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    pl.DataFrame({"w": ["a", "b"], "x": [1, 2]}).write_parquet(tmp_path / "in.parquet")
    done = run("fit", tmp_path / "in.parquet", "-o", tmp_path / "c.json", *args)
    assert_one_line_error(done, *needles)
    assert done.returncode == 2
    assert not (tmp_path / "c.json").exists()


def test_encode_bad_key_is_one_line_error(tmp_path: Path, table: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    ok("fit", data, "-o", tmp_path / "codec.json")
    out = tmp_path / "out.parquet"
    keyed = ("--seed", "1", "--key", "row_id")
    done = run("encode", data, "--codec", tmp_path / "codec.json", "-o", out, *keyed)
    assert_one_line_error(done, "'row_id'")
    done = run("encode", data, "--codec", tmp_path / "codec.json", "-o", out, "--method", "mode")
    assert_one_line_error(done, "--method", "'mode'")


def test_sampled_decode_is_reproducible(tmp_path: Path, table: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    codec = tmp_path / "codec.json"
    ok("fit", data, "-o", codec)
    ok("encode", data, "--codec", codec, "-o", tmp_path / "enc.parquet")
    for name in ("a", "b"):
        ok(
            "decode",
            tmp_path / "enc.parquet",
            "--codec",
            codec,
            "-o",
            tmp_path / f"{name}.parquet",
            "--method",
            "sample",
            "--seed",
            "7",
            "--tau",
            "0.5",
        )
    first = pl.read_parquet(tmp_path / "a.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "b.parquet"), first)
    # One-hot scores at tau = 0.5: the row's own category has logit 2 and the other of
    # the two has 0, so it comes back with probability e^2 / (e^2 + 1) = 0.881.
    assert first.columns == table.columns
    kept = math.exp(2.0) / (math.exp(2.0) + 1.0)
    for col in ("sex", "income"):
        assert set(first[col].unique()) <= set(table[col].unique())
        same = int((first[col] == table[col]).sum())
        assert stats.binomtest(same, ROWS, kept).pvalue > ALPHA, (col, same)


def test_decode_key_makes_split_files_agree(tmp_path: Path, adult: pl.DataFrame) -> None:
    """``decode --key``: a file split into parts and decoded part by part gives,
    concatenated, the whole file decoded by the same command. Without the key the parts'
    row positions restart and the results differ, which shows the comparison can fail."""
    rows, parts = 9_000, ((0, 2_000), (2_000, 2_001), (2_001, 9_000))
    codec = Codec.fit(adult)
    codec.save(tmp_path / "codec.json")
    ids = np.random.default_rng(5).choice(10**15, rows, replace=False)
    logits = generator_logits(codec, adult, rows, 0.5, seed=6)
    logits.insert_column(0, pl.Series("id", ids)).write_parquet(tmp_path / "whole.parquet")
    for i, (a, b) in enumerate(parts):
        pl.read_parquet(tmp_path / "whole.parquet")[a:b].write_parquet(tmp_path / f"{i}.parquet")

    def decode(name: str, *key: str) -> pl.DataFrame:
        out = tmp_path / f"{name}.{'-'.join(key)}.out.parquet"
        sampled = ("--method", "sample", "--seed", "7", *key)
        ok(
            "decode",
            tmp_path / f"{name}.parquet",
            "--codec",
            tmp_path / "codec.json",
            "-o",
            out,
            *sampled,
        )
        return pl.read_parquet(out)

    whole = decode("whole", "--key", "id")
    assert whole.columns == ["id", *codec.columns]
    assert (whole["id"].to_numpy() == ids).all()
    assert_frame_equal(pl.concat(decode(str(i), "--key", "id") for i in range(3)), whole)
    assert not pl.concat(decode(str(i)) for i in range(3)).equals(decode("whole"))


def test_unknown_key_is_one_line_error(tmp_path: Path) -> None:
    Codec.fit(pl.DataFrame({"sex": ["F", "M"]})).save(tmp_path / "codec.json")
    pl.DataFrame({"sex_F": [0.1], "sex_M": [0.2]}).write_parquet(tmp_path / "in.parquet")
    done = run(
        "decode",
        tmp_path / "in.parquet",
        *("--codec", tmp_path / "codec.json", "-o", tmp_path / "out.parquet"),
        *("--method", "sample", "--seed", "1", "--key", "row_id"),
    )
    assert_one_line_error(done, "'row_id'")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command: str | None) -> None:
    done = ok(*([command] if command else []), "--help")
    assert done.stdout.startswith("usage: polars-gumbel")
    if command is None:
        for name in COMMANDS:
            assert name in done.stdout
    else:
        assert f"polars-gumbel {command}" in done.stdout


def test_installed_script_runs() -> None:
    script = Path(sys.executable).with_name("polars-gumbel")
    assert script.exists()
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: polars-gumbel")


@pytest.mark.parametrize("command", ["fit", "encode", "decode"])
def test_missing_file_is_one_line_error(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nowhere.parquet"
    codec = tmp_path / "codec.json"
    out = tmp_path / ("c.json" if command == "fit" else "out.parquet")
    pl.DataFrame({"w": ["a", "b"]}).write_parquet(tmp_path / "train.parquet")
    ok("fit", tmp_path / "train.parquet", "-o", codec)
    extra = [] if command == "fit" else ["--codec", str(codec)]
    assert_one_line_error(run(command, missing, *extra, "-o", out), "nowhere.parquet")
    assert not out.exists()


def test_missing_codec_file_is_one_line_error(tmp_path: Path, table: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    done = run("encode", data, "--codec", tmp_path / "none.json", "-o", tmp_path / "out.parquet")
    assert_one_line_error(done, "none.json")


def test_codec_of_other_columns_is_one_line_error(tmp_path: Path, table: pl.DataFrame) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    other = tmp_path / "other.parquet"
    pl.DataFrame({"colour": ["red", "blue"]}).write_parquet(other)
    codec = tmp_path / "codec.json"
    ok("fit", other, "-o", codec)
    done = run("encode", data, "--codec", codec, "-o", tmp_path / "out.parquet")
    assert_one_line_error(done, "'colour'")
    done = run("decode", data, "--codec", codec, "-o", tmp_path / "out.parquet")
    assert_one_line_error(done, "'colour'")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "malformed codec JSON"),
        ('{"format": "polars-gumbel-codec", "version": 99, "columns": []}', "version"),
        ('{"format": "something-else", "version": 1, "columns": []}', "not a polars-gumbel codec"),
    ],
    ids=["malformed", "version", "format"],
)
def test_bad_codec_is_one_line_error(
    tmp_path: Path, table: pl.DataFrame, text: str, needle: str
) -> None:
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    codec = tmp_path / "codec.json"
    codec.write_text(text, encoding="utf-8")
    for command in ("encode", "decode"):
        done = run(command, data, "--codec", codec, "-o", tmp_path / "out.parquet")
        assert_one_line_error(done, needle)


def test_unknown_extension_is_one_line_error(tmp_path: Path) -> None:
    data = tmp_path / "in.xlsx"
    data.write_text("", encoding="utf-8")
    assert_one_line_error(run("fit", data, "-o", tmp_path / "c.json"), "'.xlsx'")


@pytest.mark.parametrize("layout", ["struct", "array", "matrix"])
def test_nested_layout_to_csv_is_one_line_error(
    tmp_path: Path, table: pl.DataFrame, layout: str
) -> None:
    data = tmp_path / "in.csv"
    table.write_csv(data)
    ok("fit", data, "-o", tmp_path / "codec.json")
    done = run(
        "encode",
        data,
        "--codec",
        tmp_path / "codec.json",
        "-o",
        tmp_path / "out.csv",
        "--layout",
        layout,
    )
    assert_one_line_error(done, "CSV", "--layout flat")


def test_error_while_streaming_is_reported_once(tmp_path: Path) -> None:
    """A value the codec never saw fails mid-stream: the progress lines may precede the
    error, but none claims the step was done, and the error is the last line."""
    train = tmp_path / "train.parquet"
    pl.DataFrame({"w": ["a", "b"]}).write_parquet(train)
    new = tmp_path / "new.parquet"
    pl.DataFrame({"w": ["a", "zebra"]}).write_parquet(new)
    ok("fit", train, "-o", tmp_path / "codec.json")
    done = run("encode", new, "--codec", tmp_path / "codec.json", "-o", tmp_path / "out.parquet")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith(ERROR_PREFIX)] == [lines[-1]]
    assert "zebra" in lines[-1]
    assert not any("done" in line for line in lines), done.stderr


def _distances(out: str, title: str) -> tuple[dict[str, tuple[int, float, float]], float, float]:
    """The demo's table of distances under `title`: each column's count (categories or
    modes) and its argmax and sampled distances, and the mean line."""
    start = out.index(title)
    table = out[start : out.index("\n", out.index("\n  mean", start) + 1)]
    rows = {
        m.group(1): (int(m.group(2)), float(m.group(3)), float(m.group(4)))
        for m in re.finditer(r"^ {2}(\S+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)$", table, re.M)
    }
    mean = re.search(r"^ {2}mean\s+([0-9.]+)\s+([0-9.]+)$", table, re.M)
    assert mean is not None, table
    return rows, float(mean.group(1)), float(mean.group(2))


def test_demo(
    adult: pl.DataFrame,
    adult_categorical: tuple[str, ...],
    kept_modes: Callable[..., int],
    tmp_path: Path,
) -> None:
    """The demo on all 15 Adult columns: the TVD of the categorical frequencies and the
    KS distance of the numeric values, by argmax and by sampling.

    The stand-in generator's logits of a categorical or mode block are the log of the
    real frequencies plus noise, whatever the row. Sampling draws each category and each
    mode with about its real frequency: the sampled labels and values stay close to the
    real ones (each numeric column's KS distance below a loose 0.15: the scalar comes
    from another real row than the mode, which blurs values within their modes, and the
    noise biases the frequencies). Argmax gives nearly every row one of the few most
    frequent categories or modes and drops the others' share: on average further away.
    Not column by column: where one mode holds nearly every value (capital-loss, 95%
    zeros) argmax's collapse onto it is close in KS as well.
    """
    picture = tmp_path / "demo.png"
    done = ok("demo", "--rows", "2000", "--plot", picture)
    out = done.stdout
    assert picture.stat().st_size > 10_000
    prose = " ".join(out.split())  # the prose lines are wrapped
    assert "generator-like logits for 2,000 rows" in prose
    assert "pick the labels and modes of the sampled decode: True" in prose
    for title in ("total variation distance", "Kolmogorov-Smirnov distance"):
        rows, mean_argmax, mean_sampled = _distances(out, title)
        wanted = adult_categorical if title.startswith("total") else ADULT_NUMERIC
        assert set(rows) == set(wanted), out
        for count, argmax, sampled in rows.values():
            assert count >= 1
            assert 0.0 <= argmax <= 1.0
            assert 0.0 <= sampled <= 1.0
        assert abs(mean_argmax - sum(a for _, a, _ in rows.values()) / len(rows)) < 2e-3
        assert abs(mean_sampled - sum(s for _, _, s in rows.values()) / len(rows)) < 2e-3
        assert mean_sampled < mean_argmax
    ks, _, _ = _distances(out, "Kolmogorov-Smirnov distance")
    for column, (modes, argmax, sampled) in ks.items():
        assert modes == kept_modes(adult[column])
        assert sampled < 0.15, (column, sampled)
        # Each numeric column's own section: its mean, quantiles and the same distances.
        section = out[out.index(f"\n{column} ({modes} modes)") :]
        line = re.search(r"^ {2}KS distance to real\s+([0-9.]+)\s+([0-9.]+)$", section, re.M)
        assert line is not None, section
        assert (float(line.group(1)), float(line.group(2))) == (argmax, sampled)
        for label in ("mean", "5% quantile", "50% quantile", "95% quantile"):
            assert f"\n  {label} " in section[: section.index("KS distance")]
    assert "timings" in out
    assert "Overall score" in out
    assert f"picture of every column, real against argmax and sampled: {picture}" in prose
