"""The one place that registers plugin calls."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import polars as pl
from polars.plugins import register_plugin_function

LIB = Path(__file__).parent

_ACCEPTS_DETERMINISM = "is_deterministic" in inspect.signature(register_plugin_function).parameters


def _plugin(
    name: str,
    args: list[pl.Expr],
    kwargs: dict[str, Any] | str,
    *,
    elementwise: bool = True,
    deterministic: bool = True,
    changes_length: bool = False,
) -> pl.Expr:
    """Call the Rust function `name` on `args` with keyword arguments `kwargs`: a dict,
    or the JSON text of one (as a codec plan gives them), sent as JSON.

    `elementwise=False` makes Polars hand over the whole column at once (positional
    seeding needs row positions); `deterministic=False` keeps the optimizer from
    merging two draws of fresh noise into one (Polars 2.0 and later);
    `changes_length=True` lets the result have another length than the input.
    """
    extra: dict[str, Any] = {}
    if _ACCEPTS_DETERMINISM:
        extra["is_deterministic"] = deterministic
    return register_plugin_function(
        plugin_path=LIB,
        function_name=name,
        args=args,
        # One JSON string: the plugin reads it in one piece, however many labels it holds.
        kwargs={"json": kwargs if isinstance(kwargs, str) else json.dumps(kwargs)},
        is_elementwise=elementwise,
        changes_length=changes_length,
        **extra,
    )
