from typing import Any

import numpy as np

__version__: str

def gumbel_noise(
    seed: int, rows: list[int], k: int, float32: bool = False
) -> list[list[float]]: ...
def philox_words(seed: int, row: int, group: int) -> list[int]: ...
def simd_build() -> str: ...
def uniforms(seed: int, row: int, n: int) -> np.ndarray[Any, np.dtype[np.float64]]: ...
def derive_seed(seed: int, stream: str) -> int: ...
def fit_mixture(
    values: list[float],
    counts: list[float],
    max_components: int = 10,
    concentration: float = 0.001,
    seed: int = 0,
    n_init: int | None = None,
) -> tuple[list[tuple[float, float, float]], int, bool, float]: ...
def fit_numeric(
    name: str,
    dtype: str,
    values: list[float],
    counts: list[float],
    nulls: int,
    transform: str = "mode",
    max_modes: int = 10,
    seed: int = 0,
) -> tuple[str, tuple[int, bool, float] | None]: ...
def codec_from_columns(
    columns: str, separator: str = "_", table: list[str] | None = None
) -> str: ...

class CodecDocument:
    def __init__(self, json: str) -> None: ...
    def to_json(self) -> str: ...
    def blocks(self) -> list[tuple[str, int, int, list[str]]]: ...
    def spans(self) -> list[tuple[str, int, int, str]]: ...
    def feature_names(self) -> list[str]: ...
    def encode_plan(
        self,
        columns: str,
        layout: str,
        dtype: str,
        matrix: str = ...,
        method: str = "sample",
        seed: int | None = None,
        key: str | None = None,
    ) -> str: ...
    def decode_plan(
        self,
        columns: str,
        method: str,
        tau: float,
        seed: int | None = None,
        key: str | None = None,
        matrix: str | None = None,
    ) -> str: ...
    def gumbel_plan(
        self,
        columns: str,
        tau: float,
        hard: bool,
        seed: int | None = None,
        key: str | None = None,
        matrix: str | None = None,
    ) -> str: ...
