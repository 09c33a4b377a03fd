//! Criterion benches of the kernels, grouped by (rows, K, dtype).
//! The side-by-side comparison with numpy, PyTorch and Polars is `benches/compare.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use polars::prelude::*;
use polars_gumbel::decode::{argmax, decode, DecodeOptions};
use polars_gumbel::gumbel::{gumbel_softmax, GumbelOptions};
use polars_gumbel::onehot::{one_hot, Categories, OneHotOptions};
use polars_gumbel::rng::Noise;
use polars_gumbel::softmax::{softmax, SoftmaxOptions};

const ROWS: usize = 1_000_000;

fn labels(k: usize) -> Vec<String> {
    (0..k).map(|j| format!("category-{j}")).collect()
}

/// `ROWS` labels drawn from `k` categories by a fixed counter-based stream.
fn string_column(k: usize) -> Series {
    let labels = labels(k);
    let noise = Noise::new(1);
    let values: Vec<&str> = (0..ROWS)
        .map(|r| labels[(noise.words(r as u64, 0)[0] % k as u32) as usize].as_str())
        .collect();
    Series::new("x".into(), values)
}

/// `ROWS × k` standard-Gumbel scores as an `Array(f64, k)` column, cast to `dtype`.
fn score_column(k: usize, dtype: &DataType) -> Series {
    let noise = Noise::new(2);
    let mut values = vec![0.0f64; ROWS * k];
    for (r, row) in values.chunks_exact_mut(k).enumerate() {
        noise.fill_row(r as u64, row);
    }
    let flat = Series::new("".into(), values);
    polars_gumbel::layout::array_from_flat("x".into(), flat, k, ROWS, None)
        .and_then(|s| s.cast(&DataType::Array(Box::new(dtype.clone()), k)))
        .unwrap_or_else(|e| panic!("bench input: {e}"))
}

fn bench_one_hot(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_hot");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(ROWS as u64));
    for k in [8, 64] {
        let strings = string_column(k);
        let options = OneHotOptions {
            categories: Some(Categories::String(labels(k))),
            ..Default::default()
        };
        group.bench_with_input(
            BenchmarkId::new("string_to_uint8_struct", k),
            &strings,
            |b, s| b.iter(|| one_hot(s, &options)),
        );
    }
    group.finish();
}

fn bench_scores(c: &mut Criterion) {
    let mut group = c.benchmark_group("scores");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(ROWS as u64));
    for k in [8, 64] {
        for dtype in [DataType::Float32, DataType::Float64] {
            let scores = score_column(k, &dtype);
            let id = |name: &str| BenchmarkId::new(format!("{name}_{dtype}"), k);
            group.bench_with_input(id("softmax"), &scores, |b, s| {
                b.iter(|| softmax(s, &SoftmaxOptions { tau: 1.0 }))
            });
            for hard in [false, true] {
                let options = GumbelOptions {
                    tau: 0.5,
                    hard,
                    seed: Some(7),
                };
                let name = if hard { "gumbel_hard" } else { "gumbel_soft" };
                group.bench_with_input(id(name), &scores, |b, s| {
                    b.iter(|| gumbel_softmax(s, None, &options))
                });
            }
            group.bench_with_input(id("argmax"), &scores, |b, s| b.iter(|| argmax(s)));
            let options = DecodeOptions {
                labels: Some(labels(k)),
                ..Default::default()
            };
            group.bench_with_input(id("decode_string"), &scores, |b, s| {
                b.iter(|| decode(s, None, &options))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_one_hot, bench_scores);
criterion_main!(benches);
