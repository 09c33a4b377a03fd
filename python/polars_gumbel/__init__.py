"""One-hot encoding, Gumbel-Softmax relaxation and decoding as Polars expressions."""

from __future__ import annotations

from polars_gumbel import namespace  # registers pl.Expr.gumbel
from polars_gumbel._internal import __version__
from polars_gumbel.codec import Codec
from polars_gumbel.expressions import (
    argmax,
    decode,
    gumbel_softmax,
    log_softmax,
    one_hot,
    softmax,
)
from polars_gumbel.sampling import Sampler

__all__ = [
    "Codec",
    "Sampler",
    "__version__",
    "argmax",
    "decode",
    "gumbel_softmax",
    "log_softmax",
    "namespace",
    "one_hot",
    "softmax",
]
