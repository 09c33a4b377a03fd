"""A CTGAN-style round trip with a stand-in generator: numpy in, a table out.

Fit a codec on the whole bundled Adult table (9 categorical columns one-hot, 6 integer
columns in CTGAN's mode-specific normalisation), encode it to the N x D matrix a
generator consumes (one Array column, handed to numpy without a copy), apply the
generator's output activations span by span from ``codec.spans`` (CTGAN's
``output_info``: tanh on a scalar, Gumbel-Softmax on a categorical or mode block) as a
PyTorch or JAX training loop does, and decode the result back to a synthetic table with
the original columns and dtypes.

    python examples/ctgan_style.py
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from polars_gumbel import Codec
from polars_gumbel.codec import Span
from polars_gumbel.data import ADULT

Matrix = npt.NDArray[np.float32]


def activate(
    raw: Matrix, spans: Sequence[Span], tau: float, rng: np.random.Generator | None
) -> Matrix:
    """CTGAN's ``_apply_activate`` in numpy, one span at a time. In PyTorch the same loop
    reads ``torch.tanh(x[:, a:b])`` and ``F.gumbel_softmax(x[:, a:b], tau=tau)``.

    With ``rng=None`` the softmax spans are left as they are (logits): what
    ``codec.decode(method="sample")`` draws from.
    """
    out = np.empty_like(raw)
    for span in spans:
        x = raw[:, span.start : span.stop]
        if span.activation == "tanh":
            y = np.tanh(x)
        elif span.activation == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-x))
        elif span.activation == "linear" or rng is None:
            y = x
        else:  # softmax: a Gumbel-Softmax of temperature tau over the block
            gumbel = -np.log(-np.log(rng.uniform(np.finfo(np.float32).tiny, 1.0, x.shape)))
            z = (x + gumbel) / tau
            z = np.exp(z - z.max(axis=1, keepdims=True))
            y = z / z.sum(axis=1, keepdims=True)
        out[:, span.start : span.stop] = y
    return out


def stand_in_generator(matrix: Matrix, spans: Sequence[Span], rng: np.random.Generator) -> Matrix:
    """Raw output (before the activations) near the real encoded rows: noisy log
    one-hots for the blocks, nearly exact pre-activation scalars."""
    raw = np.empty_like(matrix)
    for span in spans:
        m = matrix[:, span.start : span.stop]
        if span.activation == "softmax":
            x = np.log(m + 1e-3) + rng.normal(0.0, 0.3, m.shape)
        elif span.activation == "tanh":  # encoded scalars lie within [-0.99, 0.99]
            x = np.arctanh(np.clip(m, -0.999, 0.999)) + rng.normal(0.0, 1e-3, m.shape)
        elif span.activation == "sigmoid":
            x = np.log((m + 1e-3) / (1.0 + 1e-3 - m)) + rng.normal(0.0, 0.3, m.shape)
        else:
            x = m + rng.normal(0.0, 1e-3, m.shape)
        raw[:, span.start : span.stop] = x
    return raw


def main() -> None:
    real = pl.read_parquet(ADULT)
    codec = Codec.fit(real)
    # One Array column holding every feature of the row; `.to_numpy()` is a view of it.
    # Each numeric value's mode is drawn from its posterior, as CTGAN does.
    matrix = codec.encode(real, layout="matrix", seed=0)["features"].to_numpy()
    spans = codec.spans
    scalars = [s for s in spans if s.activation != "softmax"]
    print(
        f"generator input: {matrix.shape[0]:,} rows x {matrix.shape[1]} features: "
        f"{len(codec.columns)} columns, {len(spans)} spans ({len(scalars)} scalars)"
    )
    for span in spans[:4]:
        print(
            f"  {span.column}: columns {span.start}..{span.stop} of the matrix, {span.activation}"
        )

    # Stand-in for a trained generator: its float32 raw output, near the real rows.
    rng = np.random.default_rng(0)
    raw = stand_in_generator(matrix, spans, rng).astype(np.float32)

    # The activations a training loop applies, span by span, from `codec.spans`.
    activated = activate(raw, spans, tau=0.2, rng=rng)
    # `codec.gumbel_softmax` is the same activation in one call (its own noise): the
    # same tanh on the scalars, and a distribution over each block.
    relaxed = codec.gumbel_softmax(raw, tau=0.2, seed=0)
    assert relaxed.shape == raw.shape
    for span in spans:
        a, b = span.start, span.stop
        if span.activation == "softmax":
            np.testing.assert_allclose(relaxed[:, a:b].sum(axis=1), 1.0, rtol=1e-5)
        else:
            np.testing.assert_allclose(relaxed[:, a:b], activated[:, a:b], rtol=1e-6, atol=1e-7)

    # Back to a table: the matrix is read in place, span by span (argmax of each block).
    synthetic = codec.decode(activated)
    print(synthetic.head())
    print("dtypes kept:", synthetic.schema == real.select(codec.columns).schema)
    numbers = [c for c in codec.columns if any(s.column == c for s in scalars)]
    means: dict[str, Any] = {
        "column": numbers,
        "real": [real[c].mean() for c in numbers],
        "synthetic": [synthetic[c].mean() for c in numbers],
    }
    print("numeric means:", pl.DataFrame(means))
    # Sampling straight from the logits (scalars activated, blocks as they are) draws
    # each label and each mode from softmax(logits): the hard Gumbel-Softmax's draw.
    sampled = codec.decode(activate(raw, spans, tau=1.0, rng=None), method="sample", seed=1)
    print("sampled sex frequencies:", sampled["sex"].value_counts(normalize=True).sort("sex"))


if __name__ == "__main__":
    main()
