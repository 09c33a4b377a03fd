"""`Codec`: DESIGN §6 (whole tables), with §4's randomness for sampled decoding.

Every expected value comes from an independent reference (scikit-learn's
``OneHotEncoder`` for feature names, indicator values and infrequent categories; numpy's
softmax and argmax; the table itself) or from a property the design states
(``decode(encode(df)) == df``, lazy equals eager, streaming equals in-memory, independent
noise per column), never from the codec's own earlier output.

Grouping infrequent categories into ``other`` is lossy by design: every grouped value
decodes to the one label ``other`` (a String), so ``decode(encode(df)) == df`` holds only
for codecs fitted without ``min_frequency`` / ``max_categories``. The tests below state
exactly which rows change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats
from sklearn.preprocessing import OneHotEncoder

from polars_gumbel import Codec
from polars_gumbel.codec import EncodeLayout

DType = Union[pl.DataType, type[pl.DataType]]

FIXTURE = Path(__file__).parent / "fixtures" / "adult_codec.json"
LAYOUTS: tuple[EncodeLayout, ...] = ("flat", "struct", "array")
DTYPES: tuple[DType, ...] = (pl.Float32, pl.Float64, pl.UInt8, pl.Boolean)
ALPHA = 0.001

# Errors raised inside the plugin (while a plan runs) reach Python as this class.
PluginError = pl.exceptions.ComputeError

COLORS = pl.Enum(["red", "green", "blue", "unused"])


# --------------------------------------------------------------------------- helpers


def mixed_frame() -> pl.DataFrame:
    """Every dtype a codec holds, nulls in all but the Enum, between pass-through columns."""
    return pl.DataFrame(
        {
            "id": pl.Series([1, 2, 3, 4, 5, 6, 7, 8], dtype=pl.Int64),
            "color": pl.Series(
                ["red", "blue", "green", "red", "blue", "blue", "red", "green"], dtype=COLORS
            ),
            "city": pl.Series(
                ["Oslo", "Lima", None, "Oslo", "Pune", "Lima", None, "Pune"],
                dtype=pl.Categorical,
            ),
            "flag": pl.Series([True, False, None, True, True, False, None, False]),
            "grade": pl.Series([3, 1, 2, None, 3, 1, 2, 2], dtype=pl.Int16),
            "x": pl.Series([0.5, 1.5, 2.5, None, 4.5, 5.5, 6.5, 7.5], dtype=pl.Float64),
            "code": pl.Series([7, 7, 9, 8, None, 9, 2**40, 8], dtype=pl.UInt64),
            "word": pl.Series(["a", None, "b", "a", "b", None, "a", "a"], dtype=pl.String),
        }
    )


MIXED_ENCODED = ("color", "city", "flag", "grade", "code", "word")


def frame_layout_columns(df: pl.DataFrame, codec: Codec) -> list[str]:
    """The flat encoding's columns, built from the table: each codec column replaced in
    place by ``{column}_{label}`` for its labels."""
    labels = {c: lab for c, _, _, lab in codec.blocks}
    out: list[str] = []
    for col in df.columns:
        out.extend([f"{col}_{lab}" for lab in labels[col]] if col in labels else [col])
    return out


def softmax(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(x - x.max())
    out: npt.NDArray[np.float64] = e / e.sum()
    return out


def constant_logits(codec: Codec, logits: dict[str, list[float]], rows: int) -> pl.DataFrame:
    """Flat feature columns holding the same logits on every row, per codec column."""
    data: dict[str, npt.NDArray[np.float64]] = {}
    for col, _, _, labels in codec.blocks:
        assert len(labels) == len(logits[col])
        for label, value in zip(labels, logits[col]):
            data[f"{col}_{label}"] = np.full(rows, value)
    return pl.DataFrame(data)


def counts_of(column: pl.Series, labels: list[str | None]) -> npt.NDArray[np.int64]:
    """How often each of `labels` (None for null) occurs in `column`, in that order."""
    found: dict[str | None, int] = {
        v: n for v, n in column.cast(pl.String).value_counts().iter_rows()
    }
    assert set(found) <= set(labels), f"unexpected values {set(found) - set(labels)}"
    return np.array([found.get(label, 0) for label in labels], dtype=np.int64)


def sklearn_infrequent(
    column: pl.Series, min_frequency: float | None, max_categories: int | None
) -> list[str]:
    encoder = OneHotEncoder(
        min_frequency=min_frequency,
        max_categories=max_categories,
        handle_unknown="infrequent_if_exist",
    ).fit(column.to_frame().to_numpy())
    infrequent = encoder.infrequent_categories_[0]
    return [] if infrequent is None else sorted(str(v) for v in infrequent)


def codec_infrequent(codec: Codec, column: str) -> list[str]:
    entry = next(c for c in json.loads(codec.to_json())["columns"] if c["name"] == column)
    if entry["infrequent"] is None:
        return []
    return sorted(str(v) for v in next(iter(entry["infrequent"].values())))


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_adult_round_trip_eager(adult: pl.DataFrame, layout: EncodeLayout, dtype: DType) -> None:
    codec = Codec.fit(adult, numeric=None)
    encoded = codec.encode(adult, layout=layout, dtype=dtype)
    assert isinstance(encoded, pl.DataFrame)
    assert_frame_equal(codec.decode(encoded), adult)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_adult_round_trip_streaming(
    adult: pl.DataFrame, layout: EncodeLayout, dtype: DType
) -> None:
    codec = Codec.fit(adult, numeric=None)
    # Several chunks, the last one sliced, so the streaming engine sees more than one morsel.
    chunked = pl.concat(
        [adult.slice(0, 10_000), adult.slice(10_000, 10_000), adult.slice(20_000)],
        rechunk=False,
    )
    plan = codec.decode(codec.encode(chunked.lazy(), layout=layout, dtype=dtype))
    assert isinstance(plan, pl.LazyFrame)
    assert_frame_equal(plan.collect(engine="streaming"), adult)


def test_adult_round_trip_keeps_raw_values(adult: pl.DataFrame) -> None:
    """The published table's leading spaces and ``?`` are categories like any other."""
    codec = Codec.fit(adult, numeric=None)
    labels = {c: lab for c, _, _, lab in codec.blocks}
    assert " ?" in labels["workclass"]
    assert labels["sex"] == [" Female", " Male"]
    decoded = codec.decode(codec.encode(adult))
    assert decoded["workclass"].to_list() == adult["workclass"].to_list()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_mixed_dtypes_round_trip(layout: EncodeLayout, dtype: DType) -> None:
    df = mixed_frame()
    codec = Codec.fit(df, columns=MIXED_ENCODED, numeric=None)
    assert codec.columns == list(MIXED_ENCODED)
    assert_frame_equal(codec.decode(codec.encode(df, layout=layout, dtype=dtype)), df)
    lazy = codec.decode(codec.encode(df.lazy(), layout=layout, dtype=dtype))
    assert_frame_equal(lazy.collect(engine="streaming"), df)


def test_default_columns_are_string_categorical_enum_boolean() -> None:
    df = mixed_frame()
    expected = [
        n
        for n, d in df.schema.items()
        if d in (pl.String, pl.Categorical, pl.Boolean) or isinstance(d, pl.Enum)
    ]
    assert Codec.fit(df, numeric=None).columns == expected == ["color", "city", "flag", "word"]


def test_nulls_become_a_null_field() -> None:
    df = mixed_frame()
    codec = Codec.fit(df, columns=MIXED_ENCODED, numeric=None)
    encoded = codec.encode(df, dtype=pl.UInt8)
    for col, _, _, labels in codec.blocks:
        has_nulls = df[col].null_count() > 0
        assert ("null" in labels) == has_nulls, col
        if not has_nulls:
            continue
        assert labels[-1] == "null"
        features = [f"{col}_{lab}" for lab in labels]
        is_null = df[col].is_null().cast(pl.UInt8).to_list()
        assert encoded[f"{col}_null"].to_list() == is_null
        # A null row has its one indicator in the null field and nowhere else.
        assert encoded.select(pl.sum_horizontal(features)).to_series().to_list() == [1] * len(df)
    decoded = codec.decode(encoded)
    for col in MIXED_ENCODED:
        assert decoded[col].is_null().to_list() == df[col].is_null().to_list(), col


@pytest.mark.parametrize("layout", LAYOUTS)
def test_nullable_enum_round_trip(layout: EncodeLayout) -> None:
    """An Enum column with nulls: the nulls get a ``color_null`` field and decode to null."""
    df = pl.DataFrame(
        {"color": pl.Series(["red", None, "blue", "red", None, "green"], dtype=COLORS)}
    )
    codec = Codec.fit(df, numeric=None)
    assert codec.feature_names == [
        "color_red",
        "color_green",
        "color_blue",
        "color_unused",
        "color_null",
    ]
    assert_frame_equal(codec.decode(codec.encode(df, layout=layout)), df)


def test_uint64_beyond_int64_is_a_clear_fit_error() -> None:
    """Integer categories are held as Int64 (``one_hot`` says "integer categories must fit
    in Int64"); a UInt64 column with larger values is refused at fit time by a message
    that names the column and the limit, not by a JSON parser's position report."""
    df = pl.DataFrame({"code": pl.Series([1, 2**63, 1], dtype=pl.UInt64)})
    with pytest.raises(ValueError, match=r"'code'.*Int64") as info:
        Codec.fit(df, ["code"], numeric=None)
    assert "line 1 column" not in str(info.value)
    small = pl.DataFrame({"code": pl.Series([1, 2**63 - 1, 1], dtype=pl.UInt64)})
    codec = Codec.fit(small, ["code"], numeric=None)
    assert_frame_equal(codec.decode(codec.encode(small)), small)


def test_enum_keeps_its_order_and_unused_categories() -> None:
    df = mixed_frame()
    codec = Codec.fit(df, columns=["color"], numeric=None)
    assert codec.feature_names == [f"color_{c}" for c in COLORS.categories.to_list()]


# --------------------------------------------------------------------------- feature layout


def test_feature_names_match_sklearn(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    codec = Codec.fit(adult, numeric=None)
    assert codec.columns == list(adult_categorical)
    encoder = OneHotEncoder().fit(adult.select(adult_categorical).to_numpy())
    assert codec.feature_names == list(encoder.get_feature_names_out(adult_categorical))


def test_encoded_values_match_sklearn(
    adult: pl.DataFrame, adult_categorical: tuple[str, ...]
) -> None:
    codec = Codec.fit(adult, numeric=None)
    encoder = OneHotEncoder(sparse_output=False, dtype=np.uint8)
    expected = encoder.fit_transform(adult.select(adult_categorical).to_numpy())
    encoded = codec.encode(adult, dtype=pl.UInt8).select(codec.feature_names)
    assert encoded.schema == pl.Schema({n: pl.UInt8 for n in codec.feature_names})
    np.testing.assert_array_equal(encoded.to_numpy(), expected)


def test_blocks_are_contiguous_spans(adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, numeric=None)
    names = codec.feature_names
    blocks = codec.blocks
    assert [b[0] for b in blocks] == codec.columns
    assert blocks[0][1] == 0
    assert blocks[-1][2] == len(names)
    for (_, _, stop, _), (_, start, _, _) in zip(blocks, blocks[1:]):
        assert start == stop
    for col, start, stop, labels in blocks:
        assert stop - start == len(labels) >= 1
        assert names[start:stop] == [f"{col}_{lab}" for lab in labels]
        # Labels are the column's distinct values, sorted (Adult has no nulls).
        assert labels == adult[col].unique().sort().to_list()


def test_blocks_with_null_and_other_fields() -> None:
    df = pl.DataFrame({"w": ["a", "a", "a", "b", "b", "b", "c", None, None, "d"]})
    codec = Codec.fit(df, min_frequency=2, numeric=None)
    # c and d are rarer than 2: grouped; nulls get their own field, before `other`.
    assert codec.blocks == [("w", 0, 4, ["a", "b", "null", "other"])]
    assert codec.feature_names == ["w_a", "w_b", "w_null", "w_other"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_encode_column_order(adult: pl.DataFrame, layout: EncodeLayout) -> None:
    codec = Codec.fit(adult, numeric=None)
    encoded = codec.encode(adult, layout=layout)
    if layout == "flat":
        assert encoded.columns == frame_layout_columns(adult, codec)
        # The categorical columns' features, read in table order, are feature_names.
        assert [c for c in encoded.columns if c not in adult.columns] == codec.feature_names
        return
    assert encoded.columns == adult.columns
    for col, start, stop, _ in codec.blocks:
        dtype = encoded.schema[col]
        if layout == "struct":
            assert isinstance(dtype, pl.Struct)
            assert [f.name for f in dtype.fields] == codec.feature_names[start:stop]
        else:
            assert dtype == pl.Array(pl.Float32, stop - start)


def test_encode_mixed_column_order() -> None:
    df = mixed_frame()
    codec = Codec.fit(df, columns=MIXED_ENCODED, numeric=None)
    assert codec.encode(df).columns == frame_layout_columns(df, codec)
    assert codec.encode(df, layout="struct").columns == df.columns


# --------------------------------------------------------------------------- JSON document


def test_json_round_trip(adult: pl.DataFrame) -> None:
    for codec in (
        Codec.fit(adult, numeric=None),
        Codec.fit(adult, min_frequency=50, order="frequency", numeric=None),
        Codec.fit(mixed_frame(), columns=MIXED_ENCODED, numeric=None),
    ):
        document = codec.to_json()
        again = Codec.from_json(document)
        assert again == codec
        assert again.to_json() == document
        assert again.feature_names == codec.feature_names
        assert again.blocks == codec.blocks
        parsed = json.loads(document)
        assert parsed["format"] == "polars-gumbel-codec"
        assert parsed["version"] == 2


def test_codecs_differ_when_categories_differ(adult: pl.DataFrame) -> None:
    assert Codec.fit(adult, numeric=None) != Codec.fit(adult, min_frequency=50, numeric=None)
    assert Codec.fit(adult, numeric=None) != Codec.fit(adult, columns=["sex"], numeric=None)


def test_save_load(tmp_path: Path, adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, max_categories=8, numeric=None)
    path = tmp_path / "codec.json"
    codec.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "polars-gumbel-codec"
    loaded = Codec.load(path)
    assert loaded == codec
    assert loaded.feature_names == codec.feature_names
    codec.save(str(tmp_path / "as_str.json"))
    assert Codec.load(str(tmp_path / "as_str.json")) == codec


def test_committed_fixture_is_readable(adult: pl.DataFrame) -> None:
    """Value stability of the document: a codec saved by an earlier build still loads."""
    codec = Codec.load(FIXTURE)
    # A fit now also keeps the table's column order, which the earlier document lacks.
    fresh = json.loads(Codec.fit(adult, numeric=None).to_json())
    assert fresh.pop("table") == adult.columns
    assert codec == Codec.from_json(json.dumps(fresh))
    for col, _, _, labels in codec.blocks:
        assert labels == adult[col].unique().sort().to_list()
    assert_frame_equal(codec.decode(codec.encode(adult)), adult)


def _document() -> dict[str, Any]:
    codec = Codec.fit(pl.DataFrame({"s": ["a", "b"], "t": ["x", "y"]}), numeric=None)
    document: dict[str, Any] = json.loads(codec.to_json())
    return document


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__delitem__(key)


def _column(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["columns"][0].__setitem__(key, value)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (
            _set("version", 3),
            r"codec version .*3.* is not supported: this build reads versions \[1, 2\]",
        ),
        (_set("version", "1"), r"codec version .* is not supported"),
        (_drop("version"), r"codec version .* is not supported"),
        (_set("format", "sklearn-encoder"), r"not a polars-gumbel codec.*sklearn-encoder"),
        (_drop("format"), r"not a polars-gumbel codec"),
        (_drop("columns"), r"malformed codec JSON: missing field `columns`"),
        (_set("extra", 1), r"malformed codec JSON: unknown field `extra`"),
        (
            _column("dtype", "float64"),
            r"malformed codec JSON: columns\[0\] .*`dtype`: unknown variant `float64`",
        ),
        (_column("categories", {"string": ["a", "a"]}), r"duplicate category 'a'"),
        (_column("name", "t"), r"codec names column 't' twice"),
    ],
    ids=[
        "version-3",
        "version-string",
        "no-version",
        "wrong-format",
        "no-format",
        "no-columns",
        "unknown-field",
        "bad-dtype",
        "duplicate-category",
        "duplicate-column",
    ],
)
def test_from_json_rejects(mutate: Callable[[dict[str, Any]], None], match: str) -> None:
    doc = _document()
    mutate(doc)
    with pytest.raises(ValueError, match=match):
        Codec.from_json(json.dumps(doc))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"malformed codec JSON"),
        ("{", r"malformed codec JSON"),
        ("not json at all", r"malformed codec JSON"),
        ("[]", r"not a polars-gumbel codec"),
    ],
)
def test_from_json_rejects_malformed_text(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Codec.from_json(text)


def test_from_json_rejects_truncated_document(tmp_path: Path) -> None:
    document = Codec.fit(pl.DataFrame({"s": ["a", "b"]}), numeric=None).to_json()
    with pytest.raises(ValueError, match=r"malformed codec JSON: EOF while parsing"):
        Codec.from_json(document[: len(document) // 2])
    path = tmp_path / "bad.json"
    path.write_text(document[:-3], encoding="utf-8")
    with pytest.raises(ValueError, match=r"malformed codec JSON"):
        Codec.load(path)


def test_from_json_messages_show_values_not_rust_debug() -> None:
    """The message names the version and format found as a user wrote them, not as
    Rust's ``Debug`` prints an ``Option<serde_json::Value>`` (``Some(Number(2))``)."""
    doc = _document()
    doc["version"] = 3
    with pytest.raises(ValueError, match=r"codec version 3 is not supported") as version:
        Codec.from_json(json.dumps(doc))
    doc = _document()
    doc["format"] = "other"
    with pytest.raises(ValueError, match=r"not a polars-gumbel codec") as fmt:
        Codec.from_json(json.dumps(doc))
    for info in (version, fmt):
        assert "Some(" not in str(info.value), str(info.value)


# --------------------------------------------------------------------------- infrequent


INFREQUENT_SETTINGS: list[tuple[float | None, int | None]] = [
    (20, None),
    (100, None),
    (13, None),  # two countries have exactly 13 rows: not below 13
    (14, None),
    (0.001, None),
    (0.01, None),
    (None, 1),
    (None, 2),
    (None, 10),
    (None, 29),  # the cut falls inside a tie (two countries with 29 rows)
    (None, 34),  # inside a tie of 19
    (None, 40),  # inside a tie of 13
    (None, 42),  # as many as there are categories: `other` counts, so one is grouped
    (50, 10),
    (0.005, 3),
]


@pytest.mark.parametrize(("min_frequency", "max_categories"), INFREQUENT_SETTINGS, ids=str)
def test_infrequent_matches_sklearn(
    adult: pl.DataFrame, min_frequency: float | None, max_categories: int | None
) -> None:
    col = "native-country"
    expected = sklearn_infrequent(adult[col], min_frequency, max_categories)
    assert expected  # every setting above groups something
    codec = Codec.fit(
        adult, [col], min_frequency=min_frequency, max_categories=max_categories, numeric=None
    )
    assert codec_infrequent(codec, col) == expected
    frequent = sorted(set(adult[col].unique().to_list()) - set(expected))
    assert codec.feature_names == [f"{col}_{v}" for v in frequent] + [f"{col}_other"]
    by_frequency = Codec.fit(
        adult.lazy(),
        [col],
        min_frequency=min_frequency,
        max_categories=max_categories,
        order="frequency",
        numeric=None,
    )
    assert codec_infrequent(by_frequency, col) == expected


def test_no_grouping_without_options(adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, numeric=None)
    assert all(codec_infrequent(codec, c) == [] for c in codec.columns)
    assert not any(name.endswith("_other") for name in codec.feature_names)


@pytest.mark.parametrize(("min_frequency", "max_categories"), [(100, None), (None, 5), (0.01, 8)])
def test_infrequent_values_decode_to_other(
    adult: pl.DataFrame, min_frequency: float | None, max_categories: int | None
) -> None:
    """Lossy by design: each grouped value comes back as the String ``other``."""
    col = "native-country"
    infrequent = sklearn_infrequent(adult[col], min_frequency, max_categories)
    codec = Codec.fit(
        adult, min_frequency=min_frequency, max_categories=max_categories, numeric=None
    )
    expected = adult.with_columns(
        pl.when(pl.col(c).is_in(sklearn_infrequent(adult[c], min_frequency, max_categories)))
        .then(pl.lit("other"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in codec.columns
    )
    decoded = codec.decode(codec.encode(adult))
    assert_frame_equal(decoded, expected)
    assert decoded.schema[col] == pl.String
    n_grouped = int(adult[col].is_in(infrequent).sum())
    assert n_grouped > 0
    assert int((decoded[col] == "other").sum()) == n_grouped


def test_unseen_value_joins_other() -> None:
    train = pl.DataFrame({"w": ["a"] * 5 + ["b"] * 5 + ["c"]})
    codec = Codec.fit(train, min_frequency=2, numeric=None)
    new = pl.DataFrame({"w": ["a", "never-seen", "c", "b"]})
    encoded = codec.encode(new, dtype=pl.UInt8)
    assert encoded["w_other"].to_list() == [0, 1, 1, 0]
    assert codec.decode(encoded)["w"].to_list() == ["a", "other", "other", "b"]


@pytest.mark.parametrize("column", ["color", "grade"])
def test_grouping_on_enum_and_integer_columns_decodes(column: str) -> None:
    """A codec that `fit` accepts must decode: frequent rows keep value and dtype.

    ``other`` is neither an Enum category nor an integer, so the grouped rows cannot
    come back as the label; what they become is not checked here, only that decoding
    runs and leaves the frequent rows alone.
    """
    df = mixed_frame().select("color", pl.col("grade").fill_null(5))
    counts = df[column].value_counts()
    rare = counts.filter(pl.col("count") < 3)[column].to_list()
    assert rare
    codec = Codec.fit(df, [column], min_frequency=3, numeric=None)
    decoded = codec.decode(codec.encode(df))
    assert decoded.schema == df.schema
    keep = ~df[column].is_in(rare)
    assert_frame_equal(decoded.filter(keep), df.filter(keep))


# --------------------------------------------------------------------------- errors


def test_unknown_value_raises_without_other() -> None:
    codec = Codec.fit(pl.DataFrame({"w": ["a", "b"], "n": [1, 2]}), numeric=None)
    new = pl.DataFrame({"w": ["a", "zebra"], "n": [1, 2]})
    with pytest.raises(PluginError, match=r"'zebra' in column 'w'"):
        codec.encode(new)
    with pytest.raises(PluginError, match=r"'zebra' in column 'w'"):
        codec.encode(new.lazy()).collect(engine="streaming")


def test_unknown_integer_raises() -> None:
    codec = Codec.fit(pl.DataFrame({"g": [1, 2, 3]}), ["g"], numeric=None)
    with pytest.raises(PluginError, match=r"\b7\b.*'g'"):
        codec.encode(pl.DataFrame({"g": [1, 7]}))


def test_decode_missing_feature_column_raises(adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, numeric=None)
    encoded = codec.encode(adult.head(10))
    with pytest.raises(ValueError, match=r"feature column 'sex_ Male' of 'sex' is missing"):
        codec.decode(encoded.drop("sex_ Male"))
    with pytest.raises(ValueError, match=r"feature column 'sex_ Male' of 'sex' is missing"):
        codec.decode(encoded.lazy().drop("sex_ Male"))
    with pytest.raises(ValueError, match=r"no block of column 'sex'"):
        codec.decode(encoded.drop("sex_ Male", "sex_ Female"))


def test_encode_missing_column_raises(adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, numeric=None)
    with pytest.raises(ValueError, match=r"no column 'income'"):
        codec.encode(adult.drop("income"))


def test_fit_rejects_bad_options(adult: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"no column 'nope'"):
        Codec.fit(adult, ["nope"], numeric=None)
    with pytest.raises(ValueError, match=r"min_frequency"):
        Codec.fit(adult, min_frequency=1.5, numeric=None)
    with pytest.raises(ValueError, match=r"max_categories"):
        Codec.fit(adult, max_categories=0, numeric=None)
    with pytest.raises(TypeError, match=r"'age' has dtype Float64"):
        Codec.fit(adult.with_columns(pl.col("age").cast(pl.Float64)), ["age"], numeric=None)


# --------------------------------------------------------------------------- fit


def test_fit_lazy_equals_eager(adult: pl.DataFrame) -> None:
    assert Codec.fit(adult.lazy(), numeric=None) == Codec.fit(adult, numeric=None)
    assert Codec.fit(adult.lazy(), min_frequency=0.01, numeric=None) == Codec.fit(
        adult, min_frequency=0.01, numeric=None
    )
    assert Codec.fit(adult.lazy(), max_categories=6, order="frequency", numeric=None) == Codec.fit(
        adult, max_categories=6, order="frequency", numeric=None
    )
    df = mixed_frame()
    assert Codec.fit(df.lazy(), MIXED_ENCODED, numeric=None) == Codec.fit(
        df, MIXED_ENCODED, numeric=None
    )


def test_fit_frequency_order(adult: pl.DataFrame) -> None:
    codec = Codec.fit(adult, ["race"], order="frequency", numeric=None)
    expected = adult["race"].value_counts(sort=True)["race"].to_list()
    assert codec.blocks[0][3] == expected


# --------------------------------------------------------------------------- decoding scores


def test_argmax_decode_matches_numpy() -> None:
    labels = ["x", "y", "z"]
    codec = Codec.fit(pl.DataFrame({"a": labels}), numeric=None)
    rng = np.random.default_rng(7)
    scores = rng.normal(size=(500, 3))
    frame = pl.DataFrame({f"a_{lab}": scores[:, j] for j, lab in enumerate(labels)})
    expected = [labels[j] for j in np.argmax(scores, axis=1)]
    assert codec.decode(frame)["a"].to_list() == expected
    assert codec.decode(frame.select(pl.struct(pl.all()).alias("a")))["a"].to_list() == expected
    array = frame.select(pl.concat_arr(pl.all()).alias("a"))
    assert codec.decode(array)["a"].to_list() == expected


def test_decode_struct_block_matches_fields_by_name() -> None:
    """A struct block's field names carry its labels (DESIGN §2): a block whose fields
    come in another order (as JSON readers return them) decodes by name, not position."""
    df = pl.DataFrame({"s": ["a", "b", "c", "a"]})
    codec = Codec.fit(df, numeric=None)
    permuted = codec.encode(df, layout="struct").unnest("s")
    permuted = permuted.select(pl.struct("s_c", "s_a", "s_b").alias("s"))
    assert codec.decode(permuted)["s"].to_list() == ["a", "b", "c", "a"]


def test_decode_struct_block_with_foreign_fields_raises() -> None:
    df = pl.DataFrame({"s": ["a", "b", "c", "a"]})
    codec = Codec.fit(df, numeric=None)
    renamed = codec.encode(df, layout="struct").select(
        pl.col("s").struct.rename_fields(["p", "q", "r"])
    )
    with pytest.raises((ValueError, pl.exceptions.PolarsError), match=r"s_a"):
        codec.decode(renamed)


N_SAMPLED = 30_000
LABELS = ["w", "x", "y", "z"]  # sorted: the codec's field order
LOGITS = [0.7, 0.0, -0.4, 1.2]


def two_column_codec() -> Codec:
    return Codec.fit(pl.DataFrame({"a": LABELS, "b": LABELS}), numeric=None)


def test_sampled_columns_are_independent() -> None:
    """Two columns with identical logits under one seed draw from distinct streams."""
    codec = two_column_codec()
    logits = constant_logits(codec, {"a": LOGITS, "b": LOGITS}, N_SAMPLED)
    out = codec.decode(logits, method="sample", seed=20240601)
    table = (
        out.group_by("a", "b")
        .len()
        .pivot(on="b", index="a", values="len")
        .fill_null(0)
        .sort("a")
        .select(LABELS)
        .to_numpy()
    )
    assert table.sum() == N_SAMPLED
    assert stats.chi2_contingency(table).pvalue > ALPHA
    # Shared noise would make the columns equal on every row; independence gives sum p^2.
    p = softmax(np.array(LOGITS))
    agree = float((out["a"] == out["b"]).mean())  # type: ignore[arg-type]
    assert abs(agree - float((p**2).sum())) < 0.02


@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_sampled_frequencies_match_softmax(tau: float) -> None:
    codec = two_column_codec()
    logits = constant_logits(codec, {"a": LOGITS, "b": [3.0, -1.0, 0.0, 0.5]}, N_SAMPLED)
    out = codec.decode(logits, method="sample", tau=tau, seed=99)
    for col, values in (("a", LOGITS), ("b", [3.0, -1.0, 0.0, 0.5])):
        p = softmax(np.array(values) / tau)
        observed = counts_of(out[col], list(LABELS))
        assert stats.chisquare(observed, p * N_SAMPLED).pvalue > ALPHA, col


def test_sampled_null_field_gives_real_nulls() -> None:
    """Sampling the ``null`` field gives a null, as often as softmax says."""
    codec = Codec.fit(pl.DataFrame({"w": ["a", "b", None]}), numeric=None)
    assert codec.feature_names == ["w_a", "w_b", "w_null"]
    values = [0.5, 0.0, -0.3]
    out = codec.decode(constant_logits(codec, {"w": values}, N_SAMPLED), method="sample", seed=3)
    observed = counts_of(out["w"], ["a", "b", None])
    assert stats.chisquare(observed, softmax(np.array(values)) * N_SAMPLED).pvalue > ALPHA


def test_sampled_decode_is_reproducible_and_streams() -> None:
    codec = two_column_codec()
    rng = np.random.default_rng(11)
    scores = rng.normal(size=(N_SAMPLED, 8))
    frame = pl.DataFrame({name: scores[:, j] for j, name in enumerate(codec.feature_names)})
    chunked = pl.concat([frame.slice(0, 7_000), frame.slice(7_000)], rechunk=False)
    eager = codec.decode(frame, method="sample", seed=42)
    assert_frame_equal(codec.decode(frame, method="sample", seed=42), eager)
    assert_frame_equal(codec.decode(chunked, method="sample", seed=42), eager)
    streamed = codec.decode(chunked.lazy(), method="sample", seed=42).collect(engine="streaming")
    assert_frame_equal(streamed, eager)
    # The noise is F(seed, row, category): the block's layout does not change the draw.
    structs = frame.select(
        pl.struct(codec.feature_names[:4]).alias("a"), pl.struct(codec.feature_names[4:]).alias("b")
    )
    assert_frame_equal(codec.decode(structs, method="sample", seed=42), eager)
    other = codec.decode(frame, method="sample", seed=43)
    assert (other["a"] != eager["a"]).sum() > N_SAMPLED // 4


def test_unseeded_sampling_varies() -> None:
    codec = two_column_codec()
    logits = constant_logits(codec, {"a": [0.0] * 4, "b": [0.0] * 4}, 2_000)
    first = codec.decode(logits, method="sample")
    second = codec.decode(logits, method="sample")
    # Fresh entropy each time: 2,000 uniform draws over 4 labels agree on ~1/4 of rows.
    assert (first["a"] == second["a"]).sum() < 1_000


def test_separator_comes_from_the_document() -> None:
    df = pl.DataFrame({"sex": ["F", "M", None], "race_x": ["a", "b", "a"]})
    codec = Codec.fit(df, separator=".", numeric=None)
    assert codec.feature_names == ["sex.F", "sex.M", "sex.null", "race_x.a", "race_x.b"]
    assert json.loads(codec.to_json())["separator"] == "."
    for layout in ("flat", "struct", "array"):
        encoded = codec.encode(df, layout=layout)
        assert codec.decode(encoded).equals(df)
    # Read back, the document keeps its separator; the default one is not written.
    assert Codec.from_json(codec.to_json()).feature_names == codec.feature_names
    assert "separator" not in json.loads(Codec.fit(df, numeric=None).to_json())
    logits = codec.encode(df, dtype=pl.Float64)
    relaxed = codec.gumbel_softmax(logits, seed=1)
    assert relaxed.columns == logits.columns


@pytest.mark.parametrize("separator", ["", "a\x00b"])
def test_unusable_separators_are_refused(separator: str) -> None:
    document = json.loads(Codec.fit(pl.DataFrame({"s": ["x", "y"]}), numeric=None).to_json())
    document["separator"] = separator
    with pytest.raises(ValueError, match="separator"):
        Codec.from_json(json.dumps(document))


def test_separator_of_the_wrong_type_is_named() -> None:
    df = pl.DataFrame({"s": ["x", "y"]})
    with pytest.raises(TypeError, match="separator must be a str"):
        Codec.fit(df, separator=None, numeric=None)  # type: ignore[arg-type]
    document = json.loads(Codec.fit(df, numeric=None).to_json())
    document["separator"] = 5
    with pytest.raises(ValueError, match="`separator` is 5"):
        Codec.from_json(json.dumps(document))
