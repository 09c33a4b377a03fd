"""A CTGAN-style round trip with a stand-in generator.

Fit a codec on the bundled Adult table, encode it to the flat matrix a generator
consumes, apply a per-block Gumbel-Softmax to the generator's logits inside one lazy
plan, and decode the result back to a synthetic table with the original dtypes.

    python examples/ctgan_style.py
"""

from __future__ import annotations

import numpy as np
import polars as pl

from polars_gumbel import Codec
from polars_gumbel.data import ADULT


def main() -> None:
    real = pl.read_parquet(ADULT)
    codec = Codec.fit(real)
    matrix = codec.encode(real).select(codec.feature_names).to_numpy()
    print(f"generator input: {matrix.shape[0]:,} rows x {matrix.shape[1]} one-hot features")

    # Stand-in for a trained generator: logits near the real one-hot rows.
    rng = np.random.default_rng(0)
    logits = np.log(matrix + 1e-3) + rng.normal(0.0, 0.3, matrix.shape)
    frame = pl.DataFrame(logits.astype(np.float32), schema=codec.feature_names)

    # One Gumbel-Softmax per block, each column with its own noise stream derived from
    # one seed, then decode: one lazy plan.
    relaxed = codec.gumbel_softmax(frame.lazy(), tau=0.5, hard=True, seed=0)
    synthetic = codec.decode(relaxed).collect()
    print(synthetic.head())
    print("dtypes kept:", synthetic.schema == real.select(codec.columns).schema)


if __name__ == "__main__":
    main()
