"""``polars-gumbel decode --key``: DESIGN §7 with §4's keyed noise.

A file split into parts and decoded part by part with ``--key`` must give, concatenated,
the file decoded whole by the same command; without the key the parts' row positions
restart and the results differ, which shows the comparison can fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from polars_gumbel import Codec
from polars_gumbel.demo import generator_logits

ROWS = 9_000
PARTS = ((0, 2_000), (2_000, 2_001), (2_001, ROWS))


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polars_gumbel.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def decode(data: Path, codec: Path, out: Path, *extra: str) -> pl.DataFrame:
    done = cli(
        "decode", data, "--codec", codec, "-o", out, "--method", "sample", "--seed", "7", *extra
    )
    assert done.returncode == 0, done.stderr
    return pl.read_parquet(out)


def test_split_files_agree_with_one_whole_file_run(tmp_path: Path, adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult)
    codec.save(tmp_path / "codec.json")
    rng = np.random.default_rng(5)
    logits = generator_logits(codec, adult, ROWS, 0.5, seed=6).insert_column(
        0, pl.Series("id", rng.choice(10**15, ROWS, replace=False))
    )
    logits.write_parquet(tmp_path / "whole.parquet")
    for i, (a, b) in enumerate(PARTS):
        logits[a:b].write_parquet(tmp_path / f"part{i}.parquet")

    def run(name: str, *extra: str) -> pl.DataFrame:
        return decode(
            tmp_path / f"{name}.parquet",
            tmp_path / "codec.json",
            tmp_path / f"{name}.out.parquet",
            *extra,
        )

    whole = run("whole", "--key", "id")
    assert whole.columns == ["id", *codec.columns]
    assert_frame_equal(whole.select("id"), logits.select("id"))
    parts = pl.concat(run(f"part{i}", "--key", "id") for i in range(len(PARTS)))
    assert_frame_equal(parts, whole)

    positional = pl.concat(run(f"part{i}") for i in range(len(PARTS)))
    assert not positional.equals(run("whole"))


def test_unknown_key_is_one_line_error(tmp_path: Path) -> None:
    codec = Codec.fit(pl.DataFrame({"sex": ["F", "M"]}))
    codec.save(tmp_path / "codec.json")
    pl.DataFrame({"sex_F": [0.1], "sex_M": [0.2]}).write_parquet(tmp_path / "in.parquet")
    done = cli(
        "decode",
        tmp_path / "in.parquet",
        "--codec",
        tmp_path / "codec.json",
        "-o",
        tmp_path / "out.parquet",
        *("--method", "sample", "--seed", "1", "--key", "row_id"),
    )
    assert done.returncode != 0
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("polars-gumbel: error:")
    assert "'row_id'" in line
