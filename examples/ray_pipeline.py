"""Encoding and sampled decoding on Ray Data, checked against one process: the Adult
table (categorical and numeric columns) encoded batch by batch on a Ray cluster, each
numeric value's mode drawn keyed on a row id; and generator logits in Parquet files,
decoded batch by batch, written back as Parquet.

    pip install 'polars-gumbel[ray]'
    python examples/ray_pipeline.py                      # starts a local Ray cluster
    python examples/ray_pipeline.py --address auto --root /shared/dir   # a running cluster

On a cluster of several nodes, ``--root`` must be storage every node sees (NFS; or
give Ray ``s3://`` / ``gs://`` paths in your own pipeline).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl
import ray
import ray.data

from polars_gumbel import Codec
from polars_gumbel import ray as pgr
from polars_gumbel.data import ADULT
from polars_gumbel.demo import generator_logits


def run(root: Path, rows: int, files: int) -> None:
    real = pl.read_parquet(ADULT)
    codec = Codec.fit(real)  # 9 categorical columns, 6 numeric ones ("mode")

    # Encoding: the mode each number is encoded in is a keyed draw, as on one process.
    table = real.with_row_index("id").with_columns(pl.col("id").cast(pl.Int64))
    encoded = pgr.encode(ray.data.from_arrow(table.to_arrow()), codec, seed=3, key="id")
    frames = [pl.from_arrow(t) for t in ray.get(encoded.to_arrow_refs())]
    on_ray = pl.concat(f for f in frames if isinstance(f, pl.DataFrame)).sort("id")
    same = on_ray.equals(codec.encode(table, seed=3, key="id"))
    print(f"{on_ray.height:,} rows encoded on Ray ({codec.width} features); equal: {same}")

    # Stand-in for a trained generator: logits near the real frequencies, with a row id.
    logits = generator_logits(codec, real, rows, noise=0.5, seed=0)
    logits = logits.insert_column(0, pl.int_range(rows, dtype=pl.Int64, eager=True).alias("id"))
    (root / "logits").mkdir(parents=True, exist_ok=True)
    step = -(-rows // files)
    for i, part in enumerate(logits.iter_slices(step)):
        part.write_parquet(root / "logits" / f"part-{i:03}.parquet")

    # The pipeline: read the logits, decode by sampling keyed on `id`, write the table.
    dataset = ray.data.read_parquet(str(root / "logits"))
    synthetic = pgr.decode(dataset, codec, method="sample", seed=7, key="id")
    synthetic.write_parquet(str(root / "synthetic"))

    out = pl.read_parquet(root / "synthetic" / "*.parquet").sort("id")
    print(out.head())
    same = out.equals(codec.decode(logits, method="sample", seed=7, key="id"))
    print(f"{out.height:,} rows decoded on Ray; equal to one process's decode: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    parser.add_argument("--root", type=Path, help="working directory (default: a temporary one)")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(include_dashboard=False)
    try:
        if args.root:
            run(args.root, args.rows, args.files)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run(Path(tmp), args.rows, args.files)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
