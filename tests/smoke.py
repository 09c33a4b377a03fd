"""The smoke test of an installed polars-gumbel, for a fresh virtualenv that holds the
wheel and its declared dependencies only (no pytest, no development packages):

    python tests/smoke.py README.md

It imports the installed package (not the source tree), runs the README's Python blocks
in order, runs ``polars-gumbel demo``, and makes a round trip of the command line through
Parquet files (``fit``, ``encode``, ``decode``, each a lazy scan and a streaming sink).
``make smoke`` runs it in a fresh virtualenv per Python version.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def step(label: str, started: float) -> None:
    print(f"smoke: {label} ({time.perf_counter() - started:.1f} s)", flush=True)


def run_readme(readme: Path) -> int:
    """Run the README's Python blocks in order in one namespace; return their number."""
    text = readme.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "readme"}
    blocks = list(FENCE.finditer(text))
    for block in blocks:
        line = text.count("\n", 0, block.start()) + 1
        exec(compile("\n" * line + block[1], str(readme), "exec"), namespace)
    return len(blocks)


def command_line(script: Path, *args: str) -> None:
    subprocess.run([str(script), *args], check=True)


def round_trip(script: Path) -> None:
    """fit, encode and decode the bundled Adult table through Parquet files."""
    import polars as pl

    from polars_gumbel import Codec
    from polars_gumbel.data import ADULT

    real = pl.read_parquet(ADULT)
    real.write_parquet("adult.parquet")
    command_line(script, "fit", "adult.parquet", "-o", "codec.json")
    codec = Codec.load("codec.json")
    command_line(
        script, "encode", "adult.parquet", "--codec", "codec.json", "-o", "features.parquet",
        "--method", "argmax",
    )  # fmt: skip
    assert pl.read_parquet_schema("features.parquet") == dict.fromkeys(
        codec.feature_names, pl.Float32
    )
    command_line(
        script, "decode", "features.parquet", "--codec", "codec.json", "-o", "decoded.parquet"
    )
    decoded = pl.read_parquet("decoded.parquet")
    assert decoded.schema == real.schema, decoded.schema
    categorical = [name for name, dtype in real.schema.items() if dtype == pl.String]
    assert decoded.select(categorical).equals(real.select(categorical))
    # Numbers: exact but for the few far out in their mode's tail, clipped at 0.99.
    agree = decoded.select(pl.col(n).eq(real[n]).mean() for n in real.columns).row(0)
    assert min(agree) > 0.99, dict(zip(real.columns, agree))
    command_line(
        script, "decode", "features.parquet", "--codec", "codec.json", "-o", "sampled.parquet",
        "--method", "sample", "--seed", "7",
    )  # fmt: skip
    sampled = pl.read_parquet("sampled.parquet")
    assert sampled.schema == real.schema
    assert sampled.height == real.height


def main(argv: list[str]) -> int:
    readme = Path(argv[1]).resolve()
    started = time.perf_counter()
    import polars as pl

    import polars_gumbel

    package = Path(polars_gumbel.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert site in package.parents, f"{package} is not the installed package"
    print(
        f"smoke: polars-gumbel {polars_gumbel.__version__} with polars {pl.__version__}"
        f" on Python {sys.version.split()[0]}, from {package.parent}"
    )
    script = Path(sys.executable).parent / "polars-gumbel"
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        blocks = run_readme(readme)
        step(f"the README's {blocks} Python block(s) ran", started)
        command_line(script, "demo")
        step("polars-gumbel demo ran", started)
        round_trip(script)
        step("fit, encode and decode through Parquet agree", started)
    print("smoke: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
