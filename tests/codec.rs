//! The `Codec` through its Rust API, without Python (DESIGN §6 and §8): the document the
//! Python API wrote (`tests/fixtures/adult_codec.json`, from `Codec.fit` on the bundled
//! Adult table) read back here, and small tables whose encoding is written out by hand.

use polars::prelude::*;
use polars_gumbel::blocks::Layout;
use polars_gumbel::codec::Codec;
use polars_gumbel::decode::Method;
use polars_gumbel::dispatch::IndicatorDtype;

/// `Codec.fit(pl.read_parquet("python/polars_gumbel/data/adult.parquet")).save(...)`.
const ADULT_CODEC: &str = include_str!("fixtures/adult_codec.json");

const LAYOUTS: [Layout; 3] = [Layout::Flat, Layout::Struct, Layout::Array];
const DTYPES: [IndicatorDtype; 4] = [
    IndicatorDtype::UInt8,
    IndicatorDtype::Boolean,
    IndicatorDtype::Float32,
    IndicatorDtype::Float64,
];

fn adult_codec() -> Codec {
    Codec::from_json(ADULT_CODEC).expect("the fixture is a codec document")
}

/// Rows 1, 5, 7 and 8 of the Adult table, as published (leading spaces).
fn adult_rows() -> DataFrame {
    df!(
        "age" => [39i64, 28, 49, 52],
        "workclass" => [" State-gov", " Private", " Private", " Self-emp-not-inc"],
        "fnlwgt" => [77516i64, 338409, 160187, 209642],
        "education" => [" Bachelors", " Bachelors", " 9th", " HS-grad"],
        "education-num" => [13i64, 13, 5, 9],
        "marital-status" => [
            " Never-married",
            " Married-civ-spouse",
            " Married-spouse-absent",
            " Married-civ-spouse",
        ],
        "occupation" => [" Adm-clerical", " Prof-specialty", " Other-service", " Exec-managerial"],
        "relationship" => [" Not-in-family", " Wife", " Not-in-family", " Husband"],
        "race" => [" White", " Black", " Black", " White"],
        "sex" => [" Male", " Female", " Female", " Male"],
        "capital-gain" => [2174i64, 0, 0, 0],
        "capital-loss" => [0i64, 0, 0, 0],
        "hours-per-week" => [40i64, 40, 16, 45],
        "native-country" => [" United-States", " Cuba", " Jamaica", " United-States"],
        "income" => [" <=50K", " <=50K", " <=50K", " >50K"],
    )
    .expect("a valid frame")
}

/// A codec with a null field on a String and an integer column, and a Boolean column.
const SMALL_CODEC: &str = r#"{
  "format": "polars-gumbel-codec",
  "version": 1,
  "columns": [
    {"name": "sex", "dtype": "string", "categories": {"string": ["F", "M"]},
     "null_category": true, "infrequent": null},
    {"name": "flag", "dtype": "boolean", "categories": {"boolean": [false, true]},
     "null_category": false, "infrequent": null},
    {"name": "grade", "dtype": "int64", "categories": {"int": [1, 2, 3]},
     "null_category": true, "infrequent": null}
  ]
}"#;

fn small_codec() -> Codec {
    Codec::from_json(SMALL_CODEC).expect("a valid codec document")
}

fn small_rows() -> DataFrame {
    df!(
        "id" => [1i64, 2, 3, 4],
        "sex" => [Some("M"), None, Some("F"), Some("M")],
        "flag" => [true, false, false, true],
        "grade" => [Some(3i64), Some(1), None, Some(2)],
    )
    .expect("a valid frame")
}

/// Same column names, dtypes and values (nulls equal to nulls).
fn assert_same(got: &DataFrame, want: &DataFrame) {
    assert_eq!(got.get_column_names(), want.get_column_names());
    assert_eq!(got.dtypes(), want.dtypes());
    assert!(got.equals_missing(want), "got\n{got}\nwant\n{want}");
}

#[test]
fn fixture_json_round_trips() {
    let codec = adult_codec();
    let again = Codec::from_json(&codec.to_json()).expect("to_json is readable");
    assert_eq!(again, codec);
}

#[test]
fn fixture_blocks_span_feature_names() {
    let codec = adult_codec();
    let names = codec.feature_names();
    let blocks = codec.blocks();
    let columns: Vec<&str> = blocks.iter().map(|b| b.column.as_str()).collect();
    // The nine categorical columns of Adult, in table order (its README lists them).
    assert_eq!(
        columns,
        [
            "workclass",
            "education",
            "marital-status",
            "occupation",
            "relationship",
            "race",
            "sex",
            "native-country",
            "income",
        ]
    );
    let mut start = 0;
    for b in &blocks {
        assert_eq!(b.start, start, "block {} is not contiguous", b.column);
        assert_eq!(b.stop - b.start, b.labels.len());
        let expected: Vec<String> = b
            .labels
            .iter()
            .map(|l| format!("{}_{}", b.column, l))
            .collect();
        assert_eq!(&names[b.start..b.stop], &expected[..]);
        start = b.stop;
    }
    assert_eq!(start, names.len());

    let labels = |column: &str| -> Vec<String> {
        blocks
            .iter()
            .find(|b| b.column == column)
            .map(|b| b.labels.clone())
            .expect("a block of the column")
    };
    assert_eq!(labels("sex"), [" Female", " Male"]);
    assert_eq!(labels("income"), [" <=50K", " >50K"]);
    assert_eq!(
        labels("race"),
        [
            " Amer-Indian-Eskimo",
            " Asian-Pac-Islander",
            " Black",
            " Other",
            " White"
        ]
    );
}

/// `decode(encode(df)) == df` for every layout and indicator dtype.
fn assert_round_trips_in_every_layout_and_dtype(codec: &Codec, df: &DataFrame) {
    for layout in LAYOUTS {
        for dtype in DTYPES {
            let encoded = codec.encode(df, layout, dtype).expect("encode");
            let decoded = codec
                .decode(&encoded, Method::Argmax, 1.0, None, None)
                .expect("decode");
            assert_same(&decoded, df);
        }
    }
}

#[test]
fn adult_rows_round_trip_in_every_layout_and_dtype() {
    let codec = adult_codec();
    let df = adult_rows();
    assert_round_trips_in_every_layout_and_dtype(&codec, &df);
}

#[test]
fn flat_encoding_is_one_column_per_category_in_place() {
    let codec = adult_codec();
    let df = adult_rows();
    let encoded = codec
        .encode(&df, Layout::Flat, IndicatorDtype::UInt8)
        .expect("encode");
    let names: Vec<String> = encoded
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names.len(), 6 + codec.feature_names().len());
    assert_eq!(names[0], "age");
    assert_eq!(names[1], "workclass_ ?");
    let sex_female = encoded.column("sex_ Female").expect("sex_ Female");
    let expected = Series::new("sex_ Female".into(), [0u8, 1, 1, 0]);
    assert!(sex_female
        .as_materialized_series()
        .equals_missing(&expected));
}

#[test]
fn null_fields_encode_and_decode_to_nulls() {
    let codec = small_codec();
    assert_eq!(
        codec.feature_names(),
        [
            "sex_F",
            "sex_M",
            "sex_null",
            "flag_false",
            "flag_true",
            "grade_1",
            "grade_2",
            "grade_3",
            "grade_null",
        ]
    );
    let df = small_rows();
    let encoded = codec
        .encode(&df, Layout::Flat, IndicatorDtype::UInt8)
        .expect("encode");
    // sex: M, null, F, M; flag: true, false, false, true; grade: 3, 1, null, 2.
    let expected = df!(
        "id" => [1i64, 2, 3, 4],
        "sex_F" => [0u8, 0, 1, 0],
        "sex_M" => [1u8, 0, 0, 1],
        "sex_null" => [0u8, 1, 0, 0],
        "flag_false" => [0u8, 1, 1, 0],
        "flag_true" => [1u8, 0, 0, 1],
        "grade_1" => [0u8, 1, 0, 0],
        "grade_2" => [0u8, 0, 0, 1],
        "grade_3" => [1u8, 0, 0, 0],
        "grade_null" => [0u8, 0, 1, 0],
    )
    .expect("a valid frame");
    assert_same(&encoded, &expected);
    assert_round_trips_in_every_layout_and_dtype(&codec, &df);
}

#[test]
fn seeded_sampling_is_reproducible() {
    let codec = small_codec();
    let df = small_rows();
    let encoded = codec
        .encode(&df, Layout::Flat, IndicatorDtype::Float64)
        .expect("encode");
    let first = codec
        .decode(&encoded, Method::Sample, 1.0, Some(7), None)
        .expect("decode");
    let second = codec
        .decode(&encoded, Method::Sample, 1.0, Some(7), None)
        .expect("decode");
    assert_same(&second, &first);
    assert_eq!(first.get_column_names(), df.get_column_names());
    assert_eq!(first.dtypes(), df.dtypes());
}

#[test]
fn unknown_version_is_an_error() {
    let json = ADULT_CODEC.replace("\"version\": 1,", "\"version\": 3,");
    assert_ne!(json, ADULT_CODEC);
    let message = Codec::from_json(&json).unwrap_err().to_string();
    assert!(message.contains("version"), "{message}");
}

#[test]
fn wrong_format_is_an_error() {
    let json = ADULT_CODEC.replace("polars-gumbel-codec", "some-other-codec");
    assert_ne!(json, ADULT_CODEC);
    let message = Codec::from_json(&json).unwrap_err().to_string();
    assert!(message.contains("not a polars-gumbel codec"), "{message}");
}

#[test]
fn malformed_json_is_an_error() {
    let message = Codec::from_json(&ADULT_CODEC[..ADULT_CODEC.len() / 2])
        .unwrap_err()
        .to_string();
    assert!(message.contains("malformed codec JSON"), "{message}");
    assert!(Codec::from_json("").is_err());
    assert!(Codec::from_json("[]").is_err());
}

#[test]
fn decode_without_a_feature_column_names_it() {
    let codec = small_codec();
    let encoded = codec
        .encode(&small_rows(), Layout::Flat, IndicatorDtype::UInt8)
        .expect("encode");
    let without = encoded.drop("sex_M").expect("the column exists");
    let message = codec
        .decode(&without, Method::Argmax, 1.0, None, None)
        .unwrap_err()
        .to_string();
    assert!(message.contains("sex_M"), "{message}");
}

#[test]
fn encode_without_a_codec_column_is_an_error() {
    let codec = small_codec();
    let df = small_rows().drop("flag").expect("the column exists");
    assert!(codec
        .encode(&df, Layout::Flat, IndicatorDtype::UInt8)
        .is_err());
}

/// `SMALL_CODEC` with its first column entry changed by `edit`, as JSON.
fn small_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(SMALL_CODEC).expect("valid JSON");
    edit(&mut doc["columns"][0]);
    doc.to_string()
}

#[test]
fn inconsistent_documents_name_the_field_at_fault() {
    use serde_json::json;
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 9] = [
        (
            |c| c["dtype"] = json!({"enum": ["F", "M", "F"]}),
            "'F' twice",
        ),
        (
            |c| c["categories"] = json!({"int": [1, 2]}),
            "`categories` holds integers",
        ),
        (
            |c| c["infrequent"] = json!({"string": ["M", "X"]}),
            "`infrequent` holds 'M'",
        ),
        (
            |c| c["infrequent"] = json!({"string": []}),
            "`infrequent` is empty",
        ),
        (|c| c["name"] = json!(""), "`name` is empty"),
        (
            |c| c["name"] = json!("flag"),
            "codec names column 'flag' twice",
        ),
        (
            |c| c["categories"] = json!({"string": ["F", "F"]}),
            "duplicate category 'F'",
        ),
        (
            |c| c["dtype"] = json!({"enum": ["F"]}),
            "'M', which is not a category",
        ),
        (|c| c["categories"] = json!({"int": [1e30]}), "`categories`"),
    ];
    for (edit, needle) in cases {
        let json = small_with(edit);
        let message = Codec::from_json(&json).unwrap_err().to_string();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
        assert!(message.contains("columns[0]"), "{message}");
    }
}

#[test]
fn integer_categories_must_fit_the_dtype() {
    let json = small_with(|c| {
        c["name"] = serde_json::json!("small");
        c["dtype"] = serde_json::json!("uint8");
        c["categories"] = serde_json::json!({"int": [0, 255, 256]});
    });
    let message = Codec::from_json(&json).unwrap_err().to_string();
    assert!(
        message.contains("256") && message.contains("uint8"),
        "{message}"
    );
}

#[test]
fn feature_names_are_unique_across_columns() {
    let mut doc: serde_json::Value = serde_json::from_str(SMALL_CODEC).expect("valid JSON");
    doc["columns"] = serde_json::json!([
        {"name": "a", "dtype": "string", "categories": {"string": ["b_c", "x"]},
         "null_category": false, "infrequent": null},
        {"name": "a_b", "dtype": "string", "categories": {"string": ["c", "y"]},
         "null_category": false, "infrequent": null}
    ]);
    let message = Codec::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(message.contains("'a_b_c'"), "{message}");
    let columns: Vec<polars_gumbel::codec::Entry> =
        serde_json::from_value(doc["columns"].clone()).expect("column entries");
    assert!(Codec::new(columns).is_err());
}

#[test]
fn keyed_sampling_of_parts_equals_the_whole() {
    // Each row's draw is a function of the seed, its key and its scores: decoding the
    // rows in two parts, in reverse order, gives the rows of one whole decode.
    let codec = adult_codec();
    let df = adult_rows();
    let mut encoded = codec
        .encode(&df, Layout::Flat, IndicatorDtype::Float64)
        .expect("encode");
    let n = encoded.height() as i64;
    encoded
        .with_column(Column::new(
            "id".into(),
            (100..100 + n).collect::<Vec<i64>>(),
        ))
        .expect("an id column");
    let decode = |part: &DataFrame| {
        codec
            .decode(part, Method::Sample, 0.7, Some(11), Some("id"))
            .expect("decode")
    };
    let whole = decode(&encoded);
    let (head, tail) = (encoded.slice(0, 3), encoded.slice(3, n as usize));
    let mut parts = decode(&tail);
    parts.vstack_mut(&decode(&head)).expect("stack");
    let parts = parts
        .sort(["id"], SortMultipleOptions::default())
        .expect("sort");
    assert_same(&parts, &whole);
    // The key passes through; a key that is a block is refused.
    assert!(whole.column("id").is_ok());
    let message = codec
        .decode(&encoded, Method::Sample, 1.0, Some(1), Some("sex_ Male"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("one of the codec's blocks"), "{message}");
}

#[test]
fn the_separator_comes_from_the_document() {
    let with_separator = |separator: &str| {
        let mut doc: serde_json::Value = serde_json::from_str(SMALL_CODEC).expect("valid JSON");
        doc["separator"] = separator.into();
        doc.to_string()
    };
    let json = with_separator(".");
    let codec = Codec::from_json(&json).expect("a valid codec");
    assert!(codec
        .feature_names()
        .iter()
        .all(|f| f.contains('.') && !f.contains('_')));
    let df = small_rows();
    for layout in [Layout::Flat, Layout::Struct, Layout::Array] {
        let encoded = codec
            .encode(&df, layout, IndicatorDtype::UInt8)
            .expect("encode");
        if layout == Layout::Flat {
            let names: Vec<String> = encoded
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            for f in codec.feature_names() {
                assert!(names.contains(&f), "{f} in {names:?}");
            }
        }
        let decoded = codec
            .decode(&encoded, Method::Argmax, 1.0, None, None)
            .expect("decode");
        assert_same(&decoded, &df);
    }
    let empty = with_separator("");
    let message = Codec::from_json(&empty).unwrap_err().to_string();
    assert!(message.contains("`separator`"), "{message}");
}

/// `df`'s feature columns as one matrix column named `features`, row-major.
fn as_matrix(codec: &Codec, flat: &DataFrame) -> DataFrame {
    let names = codec.feature_names();
    let columns: Vec<Vec<f32>> = names
        .iter()
        .map(|n| {
            let c = flat
                .column(n)
                .expect("a feature column")
                .cast(&DataType::Float32);
            let c = c.expect("numeric");
            c.f32().expect("f32").into_no_null_iter().collect()
        })
        .collect();
    let values: Vec<f32> = (0..flat.height())
        .flat_map(|r| columns.iter().map(move |c| c[r]))
        .collect();
    let values = Series::new("".into(), values);
    let matrix = polars_gumbel::blocks::build::array_from_flat(
        "features".into(),
        values,
        names.len(),
        flat.height(),
        None,
    )
    .expect("an Array column");
    DataFrame::new_infer_height(vec![matrix.into()]).expect("a frame")
}

#[test]
fn matrix_round_trips_in_every_dtype() {
    let codec = small_codec();
    let df = small_rows();
    for dtype in DTYPES {
        let encoded = codec.encode(&df, Layout::Matrix, dtype).expect("encode");
        assert_eq!(encoded.get_column_names(), ["id", "features"]);
        let width = codec.feature_count();
        assert_eq!(
            encoded.column("features").expect("matrix").dtype(),
            &DataType::Array(Box::new(dtype.dtype()), width)
        );
        let decoded = codec
            .decode(&encoded, Method::Argmax, 1.0, None, None)
            .expect("decode");
        assert_same(&decoded, &df);
    }
}

#[test]
fn matrix_holds_the_flat_features_row_by_row() {
    let codec = adult_codec();
    let df = adult_rows();
    let flat = codec
        .encode(&df, Layout::Flat, IndicatorDtype::Float32)
        .expect("flat");
    let matrix = codec
        .encode(&df, Layout::Matrix, IndicatorDtype::Float32)
        .expect("matrix");
    let want = as_matrix(&codec, &flat);
    let got = matrix.column("features").expect("matrix");
    assert!(got.equals_missing(want.column("features").expect("matrix")));
}

#[test]
fn matrix_decode_and_gumbel_softmax_equal_the_flat_layout() {
    let codec = adult_codec();
    let names = codec.feature_names();
    // Deterministic logits, rows x features, from a small linear congruential sequence.
    let rows = 300;
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 6.0 - 3.0
    };
    let columns: Vec<Column> = names
        .iter()
        .map(|n| {
            Column::new(
                n.as_str().into(),
                (0..rows).map(|_| next()).collect::<Vec<f32>>(),
            )
        })
        .collect();
    let flat = DataFrame::new_infer_height(columns).expect("a frame");
    let matrix = as_matrix(&codec, &flat);
    for method in [Method::Argmax, Method::Sample] {
        let want = codec
            .decode(&flat, method, 0.7, Some(3), None)
            .expect("flat");
        let got = codec
            .decode(&matrix, method, 0.7, Some(3), None)
            .expect("matrix");
        assert_same(&got, &want);
    }
    for hard in [false, true] {
        let want = codec
            .gumbel_softmax(&flat, 0.5, hard, Some(5), None)
            .expect("flat");
        let got = codec
            .gumbel_softmax(&matrix, 0.5, hard, Some(5), None)
            .expect("matrix");
        assert_same(&as_matrix(&codec, &want), &got);
    }
}
