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
    ok("fit", data, "-o", codec)
    assert json.loads(codec.read_text(encoding="utf-8"))["format"] == "polars-gumbel-codec"
    ok("encode", data, "--codec", codec, "-o", encoded, "--layout", layout)
    ok("decode", encoded, "--codec", codec, "-o", decoded)
    assert_frame_equal(READERS[fmt](decoded), table)


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_matrix_round_trip(tmp_path: Path, table: pl.DataFrame, fmt: str) -> None:
    """encode --layout matrix writes one Array column in the first codec column's place;
    decode reads it back (found by its name, or named with --matrix), and argmax and
    keyed sampling give what the same decode gives in one process."""
    data = tmp_path / "in.parquet"
    original = table.with_row_index("id").with_columns(pl.col("id").cast(pl.Int64))
    original.write_parquet(data)
    codec_path = tmp_path / "codec.json"
    encoded = tmp_path / f"matrix.{fmt}"
    ok("fit", data, "-o", codec_path)
    codec = Codec.load(codec_path)
    named = ["--matrix", "g"] if fmt == "ndjson" else []
    ok("encode", data, "--codec", codec_path, "-o", encoded, "--layout", "matrix", *named)
    if fmt == "parquet":
        matrix = pl.read_parquet(encoded)
        assert matrix.schema["features"] == pl.Array(pl.Float32, codec.width)
        np.testing.assert_array_equal(
            matrix["features"].to_numpy(),
            codec.encode(table).select(codec.feature_names).to_numpy(),
        )
    decoded = tmp_path / "decoded.parquet"
    ok("decode", encoded, "--codec", codec_path, "-o", decoded, *named)
    assert_frame_equal(pl.read_parquet(decoded).select(original.columns), original)
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
    data = tmp_path / "in.parquet"
    table.write_parquet(data)
    ok("fit", data, "-o", tmp_path / "codec.json")
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
    ok("fit", data, "-o", codec, "--columns", col, "--min-frequency", "0.005")
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


def test_demo(adult_categorical: tuple[str, ...]) -> None:
    done = ok("demo", "--rows", "2000")
    out = done.stdout
    assert "generator-like logits for 2,000 rows" in out
    table = out[out.index("total variation distance") :]
    rows = {
        m.group(1): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^\s+(\S+)\s+\d+\s+([0-9.]+)\s+([0-9.]+)$", table, re.M)
    }
    assert set(rows) == set(adult_categorical)
    for argmax_tvd, sampled_tvd in rows.values():
        assert 0.0 <= argmax_tvd <= 1.0
        assert 0.0 <= sampled_tvd <= 1.0
    mean = re.search(r"^\s+mean\s+([0-9.]+)\s+([0-9.]+)$", table, re.M)
    assert mean is not None, table
    mean_argmax, mean_sampled = float(mean.group(1)), float(mean.group(2))
    assert abs(mean_argmax - sum(a for a, _ in rows.values()) / len(rows)) < 2e-3
    assert abs(mean_sampled - sum(s for _, s in rows.values()) / len(rows)) < 2e-3
    assert mean_sampled < mean_argmax
