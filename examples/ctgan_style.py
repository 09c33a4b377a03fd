"""A CTGAN-style round trip with a stand-in generator: numpy in, a table out.

Fit a codec on the bundled Adult table, encode it to the N x D matrix a generator
consumes (one Array column, handed to numpy without a copy), apply the per-block
Gumbel-Softmax to the generator's logits (a numpy array in, a numpy array out), and
decode the result back to a synthetic table with the original dtypes.

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
    # One Array column holding every feature of the row; `.to_numpy()` is a view of it.
    matrix = codec.encode(real, layout="matrix")["features"].to_numpy()
    print(f"generator input: {matrix.shape[0]:,} rows x {matrix.shape[1]} one-hot features")
    for column, start, stop, _ in codec.blocks[:3]:
        print(f"  {column}: columns {start}..{stop} of the matrix")

    # Stand-in for a trained generator: float32 logits near the real one-hot rows.
    rng = np.random.default_rng(0)
    logits = (np.log(matrix + 1e-3) + rng.normal(0.0, 0.3, matrix.shape)).astype(np.float32)

    # One Gumbel-Softmax per block, each column with its own noise stream derived from
    # one seed: the activation a training loop applies, here without PyTorch.
    hard = codec.gumbel_softmax(logits, tau=0.5, hard=True, seed=0)
    assert hard.shape == logits.shape

    # Back to a table: the matrix is read in place, span by span.
    synthetic = codec.decode(hard)
    print(synthetic.head())
    print("dtypes kept:", synthetic.schema == real.select(codec.columns).schema)
    # Sampling straight from the logits draws the same labels (tau = 1, same seed).
    sampled = codec.decode(logits, method="sample", seed=1)
    print("sampled sex frequencies:", sampled["sex"].value_counts(normalize=True).sort("sex"))


if __name__ == "__main__":
    main()
