//! Numeric columns of the `Codec` through its Rust API, without Python (DESIGN §6b):
//! the fit on value counts, the encoded features against the formulas written out
//! here, round trips in every layout, seeded and keyed draws, the activations and the
//! version-2 document.

use polars::prelude::*;
use polars_gumbel::blocks::Layout;
use polars_gumbel::codec::{Activation, Codec, Draw, Entry};
use polars_gumbel::decode::Method;
use polars_gumbel::dispatch::IndicatorDtype;
use polars_gumbel::numeric::{self, FitOptions, NumericColumn, NumericDtype, Transform};

/// Two clusters of integers around 20 and 60, and a few nulls.
fn ages() -> Vec<Option<i64>> {
    (0..400)
        .map(|i| match i % 41 {
            0 => None,
            r if i % 2 == 0 => Some(18 + r % 5),
            r => Some(58 + r % 7),
        })
        .collect()
}

fn incomes() -> Vec<f64> {
    (0..400)
        .map(|i| 1000.0 + 37.5 * f64::from(i % 50))
        .collect()
}

/// A column fitted from its value counts, counted here.
fn fitted(
    name: &str,
    values: &[Option<f64>],
    dtype: NumericDtype,
    transform: Transform,
) -> NumericColumn {
    let mut counts: Vec<(f64, f64)> = Vec::new();
    for v in values.iter().flatten() {
        match counts.iter_mut().find(|(x, _)| x == v) {
            Some((_, c)) => *c += 1.0,
            None => counts.push((*v, 1.0)),
        }
    }
    let (xs, cs): (Vec<f64>, Vec<f64>) = counts.into_iter().unzip();
    let nulls = values.iter().filter(|v| v.is_none()).count();
    let options = FitOptions {
        transform,
        ..FitOptions::default()
    };
    numeric::fit(name, dtype, &xs, &cs, nulls, &options)
        .expect("a fit")
        .0
}

fn table() -> DataFrame {
    df!(
        "age" => ages(),
        "income" => incomes(),
        "id" => (0..400i64).collect::<Vec<_>>(),
    )
    .expect("a frame")
}

fn codec(transform: Transform) -> Codec {
    let ages: Vec<Option<f64>> = ages().iter().map(|v| v.map(|x| x as f64)).collect();
    let incomes: Vec<Option<f64>> = incomes().into_iter().map(Some).collect();
    Codec::new(vec![
        Entry::Numeric(fitted("age", &ages, NumericDtype::Int64, transform)),
        Entry::Numeric(fitted("income", &incomes, NumericDtype::Float64, transform)),
    ])
    .expect("a codec")
}

fn numeric_column<'c>(codec: &'c Codec, name: &str) -> &'c NumericColumn {
    match codec.column(name) {
        Some(Entry::Numeric(c)) => c,
        other => panic!("no numeric column {name}: {other:?}"),
    }
}

#[test]
fn the_mixture_finds_the_two_clusters() {
    let codec = codec(Transform::Mode);
    let age = numeric_column(&codec, "age");
    assert!(age.null_indicator);
    assert_eq!(age.range, [18.0, 64.0]);
    let heavy: Vec<f64> = age
        .modes
        .iter()
        .filter(|m| m.weight > 0.2)
        .map(|m| m.mean)
        .collect();
    assert_eq!(heavy.len(), 2, "{:?}", age.modes);
    assert!(heavy.iter().any(|m| (m - 20.0).abs() < 1.0), "{heavy:?}");
    assert!(heavy.iter().any(|m| (m - 61.0).abs() < 1.0), "{heavy:?}");
    let total: f64 = age.modes.iter().map(|m| m.weight).sum();
    assert!((total - 1.0).abs() < 1e-12);
}

#[test]
fn features_follow_the_formulas() {
    let codec = codec(Transform::Mode);
    let df = table();
    let draw = Draw {
        method: Method::Argmax,
        ..Draw::default()
    };
    let encoded = codec
        .encode_with(&df, Layout::Flat, IndicatorDtype::Float64, &draw)
        .expect("encode");
    let age = numeric_column(&codec, "age");
    let k = age.modes.len();
    let scalar = encoded.column("age_normalized").expect("scalar");
    let null = encoded.column("age_null").expect("null indicator");
    for (r, x) in ages().into_iter().enumerate() {
        let x = x.map_or_else(
            || age.modes.iter().map(|m| m.weight * m.mean).sum(),
            |v| v as f64,
        );
        // The argmax of w_c N(x | μ_c, σ_c²), written out.
        let density = |m: &polars_gumbel::mixture::Mode| {
            m.weight / m.std * (-0.5 * ((x - m.mean) / m.std).powi(2)).exp()
        };
        let c = (0..k)
            .max_by(|&a, &b| density(&age.modes[a]).total_cmp(&density(&age.modes[b])))
            .expect("a mode");
        let m = &age.modes[c];
        let expected = ((x - m.mean) / (4.0 * m.std)).clamp(-0.99, 0.99);
        let got = scalar.f64().expect("f64").get(r).expect("a value");
        assert!(
            (got - expected).abs() < 1e-12,
            "row {r}: {got} != {expected}"
        );
        for j in 0..k {
            let flag = encoded
                .column(&format!("age_mode_{j}"))
                .expect("mode")
                .f64()
                .expect("f64")
                .get(r);
            assert_eq!(
                flag,
                Some(if j == c { 1.0 } else { 0.0 }),
                "row {r} mode {j}"
            );
        }
        let is_null = ages()[r].is_none();
        assert_eq!(
            null.f64().expect("f64").get(r),
            Some(f64::from(u8::from(is_null)))
        );
    }
}

#[test]
fn every_transform_and_layout_round_trips() {
    let df = table();
    for transform in [Transform::Mode, Transform::Standard, Transform::Minmax] {
        let codec = codec(transform);
        for layout in [Layout::Flat, Layout::Struct, Layout::Array, Layout::Matrix] {
            for method in [Method::Argmax, Method::Sample] {
                let draw = Draw {
                    method,
                    seed: Some(5),
                    key: None,
                };
                let encoded = codec
                    .encode_with(&df, layout, IndicatorDtype::Float64, &draw)
                    .expect("encode");
                let decoded = codec
                    .decode(&encoded, Method::Argmax, 1.0, None, None)
                    .expect("decode");
                // Nothing here is far enough from a mode to be clipped: the integers
                // come back exactly, the floats up to the rounding of α · 4σ + μ.
                let case = format!("{transform:?} {layout:?} {method:?}");
                assert!(
                    decoded
                        .select(["age", "id"])
                        .expect("columns")
                        .equals_missing(&df.select(["age", "id"]).expect("columns")),
                    "{case}:\n{decoded}\n{df}"
                );
                let got = decoded
                    .column("income")
                    .expect("income")
                    .f64()
                    .expect("f64")
                    .clone();
                for (r, want) in incomes().into_iter().enumerate() {
                    let got = got.get(r).expect("a value");
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs(),
                        "{case}: row {r}: {got} != {want}"
                    );
                }
                assert_eq!(decoded.get_column_names(), df.get_column_names(), "{case}");
            }
        }
    }
}

#[test]
fn keyed_draws_do_not_depend_on_the_batches() {
    let codec = codec(Transform::Mode);
    let df = table();
    let draw = Draw {
        method: Method::Sample,
        seed: Some(11),
        key: Some("id".into()),
    };
    let encode = |part: &DataFrame| {
        codec
            .encode_with(part, Layout::Flat, IndicatorDtype::Float32, &draw)
            .expect("encode")
    };
    let whole = encode(&df);
    let mut parts = encode(&df.slice(0, 150));
    parts
        .vstack_mut(&encode(&df.slice(150, 250)))
        .expect("stack");
    assert!(parts.equals_missing(&whole));
    let decode = |part: &DataFrame| {
        codec
            .decode(part, Method::Sample, 0.5, Some(3), Some("id"))
            .expect("decode")
    };
    let mut again = decode(&whole.slice(0, 99));
    again
        .vstack_mut(&decode(&whole.slice(99, 301)))
        .expect("stack");
    assert!(again.equals_missing(&decode(&whole)));
    // Another seed draws other modes somewhere.
    let other = codec
        .encode_with(
            &df,
            Layout::Flat,
            IndicatorDtype::Float32,
            &Draw {
                seed: Some(12),
                ..draw.clone()
            },
        )
        .expect("encode");
    assert!(!other.equals_missing(&whole));
}

#[test]
fn activations_are_tanh_softmax_and_sigmoid() {
    let codec = codec(Transform::Mode);
    let spans = codec.spans();
    let age = numeric_column(&codec, "age");
    assert_eq!(spans[0].activation, Activation::Tanh);
    assert_eq!(spans[1].activation, Activation::Softmax);
    assert_eq!(spans[1].stop - spans[1].start, age.modes.len());
    assert_eq!(spans[2].activation, Activation::Sigmoid);
    let raw = DataFrame::new_infer_height(
        codec
            .feature_names()
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let values: Vec<f64> = (0..50)
                    .map(|r| ((r * 7 + j * 3) % 11) as f64 - 5.0)
                    .collect();
                Column::new(f.as_str().into(), values)
            })
            .collect(),
    )
    .expect("a frame");
    let out = codec
        .gumbel_softmax(&raw, 1.0, false, Some(9), None)
        .expect("activate");
    let column = |frame: &DataFrame, name: &str| -> Vec<f64> {
        frame
            .column(name)
            .expect("a column")
            .f64()
            .expect("f64")
            .into_no_null_iter()
            .collect()
    };
    for (x, y) in column(&raw, "age_normalized")
        .iter()
        .zip(column(&out, "age_normalized"))
    {
        assert_eq!(y, x.tanh());
    }
    for (x, y) in column(&raw, "age_null")
        .iter()
        .zip(column(&out, "age_null"))
    {
        assert!((y - 1.0 / (1.0 + (-x).exp())).abs() < 1e-15);
    }
    let modes: Vec<Vec<f64>> = (0..age.modes.len())
        .map(|j| column(&out, &format!("age_mode_{j}")))
        .collect();
    for r in 0..50 {
        let total: f64 = modes.iter().map(|m| m[r]).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}

#[test]
fn the_document_round_trips_and_checks_its_numeric_fields() {
    let codec = codec(Transform::Mode);
    let json = codec.to_json();
    assert_eq!(Codec::from_json(&json).expect("readable"), codec);
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(doc["version"], 2);
    doc["columns"][0]["modes"][0]["std"] = serde_json::json!(-1.0);
    let message = Codec::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(
        message.contains("modes[0]") && message.contains("'age'"),
        "{message}"
    );
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    doc["version"] = serde_json::json!(1);
    let message = Codec::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(message.contains("version-1"), "{message}");
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    doc["columns"][1]["round"] = serde_json::json!(true);
    doc["columns"][0]["round"] = serde_json::json!(false);
    let message = Codec::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(message.contains("`round`"), "{message}");
}

#[test]
fn degenerate_columns_have_documented_outcomes() {
    let options = FitOptions::default();
    let message = numeric::fit("n", NumericDtype::Int64, &[], &[], 4, &options)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("'n'") && message.contains("all null"),
        "{message}"
    );
    let message = numeric::fit(
        "n",
        NumericDtype::Float64,
        &[1.0, f64::NAN],
        &[1.0, 1.0],
        0,
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("'n'") && message.contains("NaN"),
        "{message}"
    );
    let (constant, _) =
        numeric::fit("n", NumericDtype::Int64, &[7.0], &[30.0], 0, &options).expect("a fit");
    assert_eq!(constant.modes.len(), 1);
    assert_eq!(constant.modes[0].std, 0.0);
    assert_eq!(constant.scalar(7.0, 0), 0.0);
    assert_eq!(constant.value(0.3, 0), 7.0);
}

/// The sampled modes are `gumbel::sample` of the log posteriors, written out here as an
/// Array of `T` scores: the encoder computes them as the kernel reads them, with the
/// same bits. Rows spread over the range, some near two modes, in a partial last group.
#[test]
fn sampled_modes_are_the_gumbel_max_of_the_log_posteriors() {
    use polars_gumbel::blocks::build::array_from_flat;
    use polars_gumbel::dispatch::RealDtype;
    use polars_gumbel::gumbel;
    use polars_gumbel::rng::{Noise, RowIds};

    let codec = codec(Transform::Mode);
    let column = numeric_column(&codec, "income");
    let modes = &column.modes;
    assert!(modes.len() >= 2, "{modes:?}");
    let (lo, hi) = (column.range[0], column.range[1]);
    let x: Vec<f64> = (0..1_003)
        .map(|i| lo + (hi - lo) * f64::from(i) / 1_002.0)
        .collect();
    let s = Series::new("income".into(), &x);
    let log_posterior = |v: f64| -> Vec<f64> {
        modes
            .iter()
            .map(|m| {
                let z = (v - m.mean) * m.std.recip();
                (m.weight.ln() - m.std.ln()) - 0.5 * z * z
            })
            .collect()
    };
    let flat: Vec<f64> = x.iter().flat_map(|&v| log_posterior(v)).collect();
    let k = modes.len();
    for (real, seed) in [(RealDtype::Float32, 5), (RealDtype::Float64, 6)] {
        let encoded =
            numeric::encoded(&s, None, column, Method::Sample, Some(seed), real).expect("encode");
        let values = Series::new("".into(), &flat);
        let values = match real {
            RealDtype::Float32 => values.cast(&DataType::Float32).expect("cast"),
            RealDtype::Float64 => values,
        };
        let scores = array_from_flat("".into(), values, k, x.len(), None).expect("array");
        let noise = Noise::new(seed);
        let (expected, _) = match real {
            RealDtype::Float32 => gumbel::sample::<f32>(&scores, 1.0, &noise, &RowIds::Position),
            RealDtype::Float64 => gumbel::sample::<f64>(&scores, 1.0, &noise, &RowIds::Position),
        }
        .expect("sample");
        assert_eq!(encoded.mode, expected, "{real:?}");
        // Not every row takes its most probable mode.
        let argmax = numeric::encoded(&s, None, column, Method::Argmax, None, real)
            .expect("encode")
            .mode;
        assert!(argmax.iter().zip(&expected).any(|(a, b)| a != b));
    }
}
