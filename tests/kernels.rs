//! The Rust API without Python: each result checked against a reference computed
//! independently here, or a stated property.

use polars::prelude::*;
use polars_gumbel::blocks::build::array_from_flat;
use polars_gumbel::decode::{
    argmax, decode, decode_matrix, DecodeOptions, LabelDtype, MatrixDecodeOptions, Method,
};
use polars_gumbel::gumbel::{
    gumbel_softmax, gumbel_softmax_spans, GumbelOptions, SpanNoise, SpansOptions,
};
use polars_gumbel::onehot::{one_hot, Categories, IndicatorDtype, Nulls, OneHotOptions, Unknown};
use polars_gumbel::rng::Noise;
use polars_gumbel::softmax::{log_softmax, softmax, SoftmaxOptions};

fn strings(values: &[Option<&str>]) -> Series {
    Series::new("sex".into(), values)
}

fn field_values(s: &Series, field: &str) -> Vec<Option<u8>> {
    let ca = s.struct_().expect("a struct");
    let f = ca.field_by_name(field).expect("the field");
    f.u8().expect("u8 field").iter().collect()
}

fn array_f64(rows: &[Vec<f64>]) -> Series {
    let k = rows.first().map_or(0, Vec::len);
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    array_from_flat(
        "x".into(),
        Series::new("".into(), flat),
        k,
        rows.len(),
        None,
    )
    .expect("array")
}

/// Row `r`'s Float64 noise for its `k` categories.
fn noise_f64(noise: &Noise, r: u64, k: usize) -> Vec<f64> {
    let mut g = vec![0.0; k];
    noise.fill_row(r, &mut g);
    g
}

/// `(x − max(x)) + g`: the documented perturbed score at `tau = 1`.
fn perturbed(x: &[f64], g: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    x.iter().zip(g).map(|(x, g)| (x - max) + g).collect()
}

fn rows_f64(s: &Series) -> Vec<Option<Vec<f64>>> {
    s.array()
        .expect("array")
        .amortized_iter()
        .map(|row| row.map(|r| r.as_ref().f64().expect("f64").into_no_null_iter().collect()))
        .collect()
}

#[test]
fn one_hot_sets_exactly_the_matching_field() {
    let input = [
        Some("Male"),
        Some("Female"),
        None,
        Some("Male"),
        Some("Other"),
    ];
    let cats = ["Female", "Male"];
    let options = OneHotOptions {
        categories: Some(Categories::String(
            cats.iter().map(|c| c.to_string()).collect(),
        )),
        unknown: Unknown::Zeros,
        nulls: Nulls::Category,
        ..Default::default()
    };
    let out = one_hot(&strings(&input), &options).expect("one_hot");
    for cat in cats {
        let expected: Vec<Option<u8>> = input
            .iter()
            .map(|v| Some(u8::from(*v == Some(cat))))
            .collect();
        assert_eq!(field_values(&out, &format!("sex_{cat}")), expected, "{cat}");
    }
    let nulls: Vec<Option<u8>> = input.iter().map(|v| Some(u8::from(v.is_none()))).collect();
    assert_eq!(field_values(&out, "sex_null"), nulls);
}

#[test]
fn one_hot_is_the_same_on_chunked_and_sliced_input() {
    let cats: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let values: Vec<String> = (0..1000).map(|i| format!("c{}", (i * 7) % 5)).collect();
    let whole = Series::new("x".into(), &values);
    let mut chunked = whole.slice(0, 300);
    chunked.append(&whole.slice(300, 700)).expect("append");
    assert_eq!(chunked.n_chunks(), 2);
    let options = OneHotOptions {
        categories: Some(Categories::String(cats)),
        dtype: IndicatorDtype::Float32,
        ..Default::default()
    };
    let a = one_hot(&whole, &options).expect("whole");
    let b = one_hot(&chunked, &options).expect("chunked");
    assert!(a.equals_missing(&b));
    let sliced = one_hot(&whole.slice(7, 500), &options).expect("sliced");
    assert!(sliced.equals_missing(&a.slice(7, 500)));
}

#[test]
fn one_hot_errors_name_the_value_and_the_column() {
    let options = OneHotOptions {
        categories: Some(Categories::String(vec!["Female".into()])),
        ..Default::default()
    };
    let err = one_hot(&strings(&[Some("Male")]), &options).expect_err("unknown value");
    let msg = err.to_string();
    assert!(msg.contains("'Male'") && msg.contains("'sex'"), "{msg}");
    let floats = Series::new("f".into(), [1.0f64]);
    let msg = one_hot(&floats, &options)
        .expect_err("float input")
        .to_string();
    assert!(msg.contains("f64") && msg.contains("'f'"), "{msg}");
}

/// softmax(x / tau) in the textbook form, for comparison.
fn reference_softmax(x: &[f64], tau: f64) -> Vec<f64> {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| ((v - m) / tau).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn softmax_and_log_softmax_match_the_textbook_formula() {
    let rows = vec![
        vec![0.5, -1.0, 2.0, 0.0],
        vec![1e300, -1e300, 0.0, 1e300],
        vec![f64::NEG_INFINITY, 1.0, 2.0, 3.0],
    ];
    for tau in [1.0, 0.3, 1e-8] {
        let out = rows_f64(&softmax(&array_f64(&rows), &SoftmaxOptions { tau }).expect("softmax"));
        let logs = rows_f64(&log_softmax(&array_f64(&rows), &SoftmaxOptions { tau }).expect("log"));
        for ((row, got), log) in rows.iter().zip(&out).zip(&logs) {
            let want = reference_softmax(row, tau);
            let got = got.as_ref().expect("valid row");
            let log = log.as_ref().expect("valid row");
            for j in 0..row.len() {
                assert!(
                    (got[j] - want[j]).abs() <= 1e-12,
                    "tau {tau}: {got:?} vs {want:?}"
                );
                assert!(
                    (log[j].exp() - want[j]).abs() <= 1e-12,
                    "tau {tau}: {log:?}"
                );
            }
        }
    }
}

/// The rows of `rows` as a Struct of one Float64 field per category.
fn struct_f64(rows: &[Vec<f64>]) -> Series {
    let k = rows.first().map_or(0, Vec::len);
    let fields: Vec<Series> = (0..k)
        .map(|j| {
            Series::new(
                format!("c{j}").into(),
                rows.iter().map(|r| r[j]).collect::<Vec<_>>(),
            )
        })
        .collect();
    StructChunked::from_series("x".into(), rows.len(), fields.iter())
        .expect("struct")
        .into_series()
}

/// Row `r` of a Struct block of Float64 fields, or `None` for a null row.
fn struct_row(s: &Series, r: usize) -> Option<Vec<f64>> {
    if s.is_null().get(r) == Some(true) {
        return None;
    }
    let fields = s.struct_().expect("a struct").fields_as_series();
    Some(
        fields
            .iter()
            .map(|f| f.f64().expect("f64").get(r).expect("a value"))
            .collect(),
    )
}

/// Outputs written straight into fresh memory (every value once, no zeroing first):
/// Struct and Array blocks of more rows than one task takes, with a partial last group
/// and special rows, give the textbook softmax in every valid row, null elsewhere, and
/// a Gumbel-Softmax of one-hot rows; debug builds also check that no value was left
/// unwritten.
#[test]
fn struct_and_array_outputs_cover_every_row_across_tasks() {
    let len = polars_gumbel::par::ROWS_PER_TASK + 13;
    let mut rows = scattered_rows(len, 5, 7, 4.0);
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for (i, r) in [3, len / 2, len - 1].into_iter().enumerate() {
        rows[r] = vec![special[i]; 5];
    }
    let null_rows = [3, len / 2, len - 1];
    let tau = 0.7;
    for block in [struct_f64(&rows), array_f64(&rows)] {
        let out = softmax(&block, &SoftmaxOptions { tau }).expect("softmax");
        let hard = gumbel_softmax(
            &block,
            None,
            &GumbelOptions {
                tau,
                hard: true,
                seed: Some(3),
            },
        )
        .expect("hard");
        let (out, hard): (Vec<_>, Vec<_>) = if block.dtype().is_struct() {
            (
                (0..len).map(|r| struct_row(&out, r)).collect(),
                (0..len).map(|r| struct_row(&hard, r)).collect(),
            )
        } else {
            (rows_f64(&out), rows_f64(&hard))
        };
        for (r, row) in rows.iter().enumerate() {
            if null_rows.contains(&r) {
                assert!(
                    out[r].is_none() && hard[r].is_none(),
                    "row {r} should be null"
                );
                continue;
            }
            let got = out[r].as_ref().expect("a valid row");
            for (g, w) in got.iter().zip(reference_softmax(row, tau)) {
                assert!((g - w).abs() <= 1e-12, "row {r}: {got:?}");
            }
            let h = hard[r].as_ref().expect("a valid row");
            assert_eq!(h.iter().filter(|&&v| v == 1.0).count(), 1, "row {r}: {h:?}");
            assert_eq!(h.iter().filter(|&&v| v == 0.0).count(), 4, "row {r}: {h:?}");
        }
    }
}

#[test]
fn special_rows_are_null() {
    let rows = vec![
        vec![f64::NAN, 1.0],
        vec![f64::INFINITY, 1.0],
        vec![f64::NEG_INFINITY, f64::NEG_INFINITY],
        vec![3.0, 1.0],
    ];
    let out = rows_f64(&softmax(&array_f64(&rows), &SoftmaxOptions { tau: 1.0 }).expect("softmax"));
    assert_eq!(
        out.iter().map(Option::is_some).collect::<Vec<_>>(),
        [false, false, false, true]
    );
    let idx: Vec<Option<u32>> = argmax(&array_f64(&rows))
        .expect("argmax")
        .u32()
        .expect("u32")
        .iter()
        .collect();
    assert_eq!(idx, [None, None, None, Some(0)]);
    let err = softmax(&array_f64(&rows), &SoftmaxOptions { tau: 0.0 }).expect_err("tau 0");
    assert!(err.to_string().contains("tau"));
}

#[test]
fn gumbel_softmax_is_softmax_of_logits_plus_the_documented_noise() {
    let rows: Vec<Vec<f64>> = (0..50)
        .map(|r| (0..6).map(|j| ((r * 6 + j) as f64).sin()).collect())
        .collect();
    let tau = 0.7;
    let options = GumbelOptions {
        tau,
        hard: false,
        seed: Some(42),
    };
    let soft = rows_f64(&gumbel_softmax(&array_f64(&rows), None, &options).expect("soft"));
    let hard = rows_f64(
        &gumbel_softmax(
            &array_f64(&rows),
            None,
            &GumbelOptions {
                hard: true,
                ..options
            },
        )
        .expect("hard"),
    );
    let noise = Noise::new(42);
    for (r, row) in rows.iter().enumerate() {
        let z = perturbed(row, &noise_f64(&noise, r as u64, row.len()));
        let want = reference_softmax(&z, tau);
        let got = soft[r].as_ref().expect("valid");
        for j in 0..row.len() {
            assert!((got[j] - want[j]).abs() <= 1e-12);
        }
        let winner = (0..z.len()).fold(0, |best, j| if z[j] > z[best] { j } else { best });
        let one_hot: Vec<f64> = (0..z.len())
            .map(|j| f64::from(u8::from(j == winner)))
            .collect();
        assert_eq!(hard[r].as_ref().expect("valid"), &one_hot);
    }
}

#[test]
fn keyed_noise_follows_the_key_not_the_position() {
    let rows: Vec<Vec<f64>> = (0..20).map(|r| vec![r as f64 * 0.1, 0.0, -0.5]).collect();
    let keys: Vec<i64> = (0..20).map(|r| 1000 - 3 * r).collect();
    let options = GumbelOptions {
        tau: 1.0,
        hard: false,
        seed: Some(9),
    };
    let keyed = rows_f64(
        &gumbel_softmax(
            &array_f64(&rows),
            Some(&Series::new("k".into(), &keys)),
            &options,
        )
        .expect("keyed"),
    );
    let noise = Noise::new(9);
    for (r, row) in rows.iter().enumerate() {
        let z = perturbed(row, &noise_f64(&noise, keys[r] as u64, row.len()));
        let want = reference_softmax(&z, 1.0);
        let got = keyed[r].as_ref().expect("valid");
        assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-12));
    }
}

#[test]
fn noise_values_are_stable() {
    // (seed, row, category, Philox words of the cell's counter, Float64 noise, Float32
    // noise): computed with an independent implementation of the function documented in
    // `rng`, the logarithms in double precision.
    #[allow(clippy::type_complexity)]
    let cases: [(u64, u64, usize, [u32; 4], f64, f64); 5] = [
        (
            0,
            0,
            0,
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
            0.084_820_251_353_062_55,
            0.084_820_278_103_853_6,
        ),
        (
            0,
            0,
            1,
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
            1.181_182_895_396_333,
            2.061_660_960_591_242_4,
        ),
        (
            0,
            1,
            0,
            [0xf8e4_cca4, 0x5cb2_00db, 0xb1a5_74eb, 0x097e_ff67],
            3.570_159_769_554_866,
            3.570_160_549_101_566,
        ),
        (
            42,
            7,
            3,
            [0x4c78_c45f, 0x5281_c34e, 0x1a41_a83b, 0xaed2_0ef5],
            -0.822_975_110_816_426_2,
            -0.535_002_401_371_756,
        ),
        (
            u64::MAX,
            123_456_789,
            63,
            [0xa1bc_229b, 0xe6b9_6a1a, 0x4939_f0b6, 0x8d1f_b084],
            -0.224_440_629_033_135_55,
            0.065_830_060_356_866_16,
        ),
    ];
    for (seed, row, j, words, g64, g32) in cases {
        let noise = Noise::new(seed);
        assert_eq!(
            noise.words(row, (j / 2) as u32),
            words,
            "words({seed}, {row}, {j})"
        );
        let got = noise_f64(&noise, row, j + 1)[j];
        assert!(
            (got - g64).abs() <= 1e-15 * g64.abs().max(1.0),
            "g64({seed}, {row}, {j}) = {got}"
        );
        let mut g = vec![0f32; j + 1];
        noise.fill_row(row, &mut g);
        let got = f64::from(g[j]);
        assert!(
            (got - g32).abs() <= 4.0 * f64::from(f32::EPSILON) * g32.abs().max(1.0),
            "g32({seed}, {row}, {j}) = {got}"
        );
    }
}

/// One-sample Kolmogorov-Smirnov test of `draws` against F(x) = exp(-exp(-x)),
/// alpha = 0.001.
fn assert_gumbel_law(mut draws: Vec<f64>) {
    draws.sort_by(f64::total_cmp);
    let n = draws.len() as f64;
    let d = draws.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
        let f = (-(-x).exp()).exp();
        d.max((f - i as f64 / n).abs())
            .max(((i + 1) as f64 / n - f).abs())
    });
    assert!(d < 1.949 / n.sqrt(), "KS statistic {d}");
}

#[test]
fn gumbel_noise_follows_the_gumbel_law() {
    let noise = Noise::new(2024);
    assert_gumbel_law(
        (0..20_000u64)
            .flat_map(|r| noise_f64(&noise, r, 5))
            .collect(),
    );
    let noise = Noise::new(2025);
    assert_gumbel_law(
        (0..20_000u64)
            .flat_map(|r| {
                let mut g = vec![0f32; 5];
                noise.fill_row(r, &mut g);
                g.into_iter().map(f64::from)
            })
            .collect(),
    );
}

#[test]
fn decode_inverts_one_hot_with_nulls() {
    let input = [Some("b"), None, Some("a"), Some("c"), Some("a")];
    let cats = vec!["a".to_string(), "b".into(), "c".into()];
    let options = OneHotOptions {
        categories: Some(Categories::String(cats.clone())),
        dtype: IndicatorDtype::Float64,
        ..Default::default()
    };
    let encoded = one_hot(&Series::new("v".into(), input), &options).expect("encode");
    let decoded = decode(&encoded, None, &DecodeOptions::default()).expect("decode");
    assert!(decoded.equals_missing(&Series::new("v".into(), input)));
    let enum_options = DecodeOptions {
        dtype: LabelDtype::Enum,
        ..Default::default()
    };
    let as_enum = decode(&encoded, None, &enum_options).expect("enum");
    assert!(matches!(as_enum.dtype(), DataType::Enum(_, _)));
    assert!(as_enum
        .cast(&DataType::String)
        .expect("cast")
        .equals_missing(&Series::new("v".into(), input)));
}

#[test]
fn sampled_decode_picks_the_hard_gumbel_sample() {
    let rows: Vec<Vec<f64>> = (0..200)
        .map(|r| (0..4).map(|j| ((r + j) as f64).cos()).collect())
        .collect();
    let labels: Vec<String> = ["w", "x", "y", "z"].iter().map(|s| s.to_string()).collect();
    let options = DecodeOptions {
        labels: Some(labels.clone()),
        method: Method::Sample,
        seed: Some(5),
        ..Default::default()
    };
    let sampled = decode(&array_f64(&rows), None, &options).expect("sample");
    let hard = gumbel_softmax(
        &array_f64(&rows),
        None,
        &GumbelOptions {
            tau: 1.0,
            hard: true,
            seed: Some(5),
        },
    )
    .expect("hard");
    let via_hard = decode(
        &hard,
        None,
        &DecodeOptions {
            labels: Some(labels),
            ..Default::default()
        },
    )
    .expect("decode");
    assert!(sampled.equals_missing(&via_hard));
}

#[test]
fn blocks_of_no_category_give_null_rows() {
    let empty = array_from_flat(
        "x".into(),
        Series::new("".into(), Vec::<f64>::new()),
        0,
        3,
        None,
    )
    .expect("a width-0 array");
    let options = GumbelOptions {
        tau: 1.0,
        hard: false,
        seed: Some(1),
    };
    let relaxed = gumbel_softmax(&empty, None, &options).expect("gumbel_softmax");
    assert_eq!(relaxed.null_count(), 3);
    let idx = argmax(&empty).expect("argmax");
    assert_eq!(idx.null_count(), 3);
    let sampled = decode(
        &empty,
        None,
        &DecodeOptions {
            labels: Some(Vec::new()),
            method: Method::Sample,
            seed: Some(2),
            ..Default::default()
        },
    )
    .expect("decode");
    assert_eq!(sampled.null_count(), 3);
}

/// `len` rows of `width` scores spread over `(-scale, scale)`, from a linear
/// congruential sequence started at `seed`.
fn scattered_rows(len: usize, width: usize, seed: u64, scale: f64) -> Vec<Vec<f64>> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 * scale - scale
    };
    (0..len)
        .map(|_| (0..width).map(|_| next()).collect())
        .collect()
}

/// The columns `start..stop` of every row of `rows`, as an Array column of their own.
fn span_column(rows: &[Vec<f64>], start: usize, stop: usize) -> Series {
    let cut: Vec<Vec<f64>> = rows.iter().map(|r| r[start..stop].to_vec()).collect();
    array_f64(&cut)
}

/// Decoding every span of a matrix in one pass (strided, unchecked loads) gives what
/// decoding each span cut out as its own Array column gives: spans of every width from
/// 1 to 40 at every offset, whole, sliced and in two chunks, argmax and sampled, with
/// special values in some rows.
#[test]
fn matrix_spans_decode_as_their_own_blocks() {
    let widths: Vec<usize> = (1..=40).collect();
    let stride: usize = widths.iter().sum();
    let len = 203; // whole groups of eight and a remainder
    let mut rows = scattered_rows(len, stride, 99, 4.0);
    rows[3][0] = f64::NAN;
    rows[17][5] = f64::INFINITY;
    rows[40][1..3].fill(f64::NEG_INFINITY);
    rows[41][10..15].fill(0.0);
    let matrix = array_f64(&rows);
    let mut spans = Vec::new();
    let mut start = 0;
    for w in &widths {
        spans.push(start..start + w);
        start += w;
    }
    for method in [Method::Argmax, Method::Sample] {
        let blocks: Vec<DecodeOptions> = spans
            .iter()
            .enumerate()
            .map(|(i, span)| DecodeOptions {
                labels: Some((0..span.len()).map(|j| format!("l{j}")).collect()),
                method,
                tau: 0.9,
                seed: Some(1000 + i as u64),
                span: Some(span.clone()),
                ..Default::default()
            })
            .collect();
        let options = MatrixDecodeOptions {
            names: (0..spans.len()).map(|i| format!("c{i}")).collect(),
            blocks: blocks.clone(),
        };
        let two_chunks = {
            let mut head = matrix.slice(0, 100);
            head.append(&matrix.slice(100, len - 100)).expect("append");
            head
        };
        for (input, first) in [
            (matrix.clone(), 0),
            (two_chunks, 0),
            (matrix.slice(9, 150), 9),
        ] {
            assert!(first + input.len() <= len);
            let decoded = decode_matrix(&input, None, &options).expect("decode_matrix");
            let fields = decoded.struct_().expect("a struct").fields_as_series();
            for ((span, block), got) in spans.iter().zip(&blocks).zip(&fields) {
                let own = span_column(&rows[first..first + input.len()], span.start, span.end);
                let alone = DecodeOptions {
                    span: None,
                    ..block.clone()
                };
                let want = decode(&own, None, &alone).expect("decode");
                assert!(
                    got.equals_missing(&want),
                    "{method:?}, span {span:?}, from row {first}: {got} != {want}"
                );
            }
        }
    }
}

/// The Gumbel-Softmax of every span of a matrix, in place, equals the Gumbel-Softmax of
/// each span cut out as its own Array column, soft and hard, at every width from 1 to
/// 24 (whole tiles of eight among them); a span a row makes null is null in that span
/// only.
#[test]
fn matrix_spans_relax_as_their_own_blocks() {
    let widths: Vec<usize> = (1..=24).collect();
    let stride: usize = widths.iter().sum();
    let mut rows = scattered_rows(77, stride, 7, 3.0);
    rows[5][2] = f64::NAN; // the span of width 2 (columns 1..3) of row 5
    let matrix = array_f64(&rows);
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, w) in widths.iter().enumerate() {
        spans.push(SpanNoise {
            start,
            stop: start + w,
            seed: Some(50 + i as u64),
            activation: Default::default(),
        });
        start += w;
    }
    for hard in [false, true] {
        let options = SpansOptions {
            tau: 0.6,
            hard,
            spans: spans.clone(),
        };
        let relaxed = gumbel_softmax_spans(&matrix, None, &options).expect("spans");
        let got: Vec<Vec<Option<f64>>> = relaxed
            .array()
            .expect("array")
            .amortized_iter()
            .map(|row| {
                let row = row.expect("matrix rows are never null as a whole");
                row.as_ref().f64().expect("f64").iter().collect()
            })
            .collect();
        for span in &spans {
            let own = span_column(&rows, span.start, span.stop);
            let alone = GumbelOptions {
                tau: 0.6,
                hard,
                seed: span.seed,
            };
            let want = rows_f64(&gumbel_softmax(&own, None, &alone).expect("gumbel"));
            for (r, want) in want.iter().enumerate() {
                let got = &got[r][span.start..span.stop];
                match want {
                    Some(w) => assert!(got.iter().zip(w).all(|(g, w)| *g == Some(*w)), "row {r}"),
                    None => assert!(got.iter().all(Option::is_none), "row {r}: {got:?}"),
                }
            }
        }
    }
}
