"""The ``gumbel`` expression namespace mirrors the functions."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

import polars_gumbel as pg
from polars_gumbel.namespace import GumbelNamespace


def gumbel(name: str) -> GumbelNamespace:
    """`pl.col(name).gumbel`: registered at import, so unknown to type checkers."""
    namespace: GumbelNamespace = pl.col(name).gumbel  # type: ignore[attr-defined]
    return namespace


def test_namespace_methods_equal_the_functions() -> None:
    df = pl.DataFrame({"sex": ["F", "M", None, "M"]})
    scores = pl.DataFrame(
        {"x": [[0.5, 2.0, -1.0], [3.0, 0.0, 0.0]]}, schema={"x": pl.Array(pl.Float64, 3)}
    )
    pairs = [
        (df, gumbel("sex").one_hot(["F", "M"]), pg.one_hot("sex", ["F", "M"])),
        (scores, gumbel("x").softmax(tau=0.5), pg.softmax("x", tau=0.5)),
        (scores, gumbel("x").log_softmax(), pg.log_softmax("x")),
        (
            scores,
            gumbel("x").gumbel_softmax(seed=3, hard=True),
            pg.gumbel_softmax("x", seed=3, hard=True),
        ),
        (scores, gumbel("x").argmax(), pg.argmax("x")),
        (
            scores,
            gumbel("x").decode(["a", "b", "c"], method="sample", seed=1),
            pg.decode("x", ["a", "b", "c"], method="sample", seed=1),
        ),
    ]
    for frame, method, function in pairs:
        assert_frame_equal(frame.select(method), frame.select(function))
