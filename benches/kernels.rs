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
    polars_gumbel::blocks::build::array_from_flat("x".into(), flat, k, ROWS, None)
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

criterion_group!(benches, bench_one_hot, bench_scores, bench_stages);
criterion_main!(benches);

/// The stages of the Gumbel kernels, each on its own, over `CELLS` cells of one thread:
/// Philox words alone, then with the uniforms and both logarithms (the noise), the
/// softmax's exponential alone, and one read and one write of the block (a copy).
mod stages {
    use std::hint::black_box;

    use polars_gumbel::real::Real;
    use polars_gumbel::rng::philox;
    use polars_gumbel::simd::{with_isa, IntV, Isa, IsaFn, Lane, Vector, LANES};

    pub const CELLS: usize = 1 << 22;

    /// Philox words of `CELLS / 4` counters (one `f32` cell a word), XOR-folded.
    pub struct Words;
    impl IsaFn<u32> for Words {
        #[inline(always)]
        fn call<S: Isa>(self, _: S) -> u32 {
            let mut acc = S::U32::splat(0);
            let rows = S::U32::from_array(std::array::from_fn(|l| l as u32));
            for b in 0..(CELLS / 4 / LANES) as u32 {
                let w = philox::<S>(
                    [rows, S::U32::splat(b), S::U32::splat(0), S::U32::splat(0)],
                    [7, 9],
                );
                acc = acc.xor(w[0]).xor(w[1]).xor(w[2]).xor(w[3]);
            }
            acc.to_array().iter().fold(0, |a, &w| a ^ w)
        }
    }
    /// The Gumbel noise of `CELLS` cells of `T`, summed.
    pub struct Noise<T>(pub std::marker::PhantomData<T>);
    impl<T: Real> IsaFn<f64> for Noise<T> {
        #[inline(always)]
        fn call<S: Isa>(self, _: S) -> f64 {
            let mut acc = T::V::<S>::splat(T::ZERO);
            let rows = S::U32::from_array(std::array::from_fn(|l| l as u32));
            let mut g = [T::V::<S>::splat(T::ZERO); 8];
            // Two counters at a time, their logarithms together, as the kernels draw them.
            for b in 0..(CELLS / T::CELLS_PER_COUNTER / LANES / 2) as u32 {
                let counter = |group: u32| {
                    [
                        rows,
                        S::U32::splat(group),
                        S::U32::splat(0),
                        S::U32::splat(0),
                    ]
                };
                let w = [
                    philox::<S>(counter(2 * b), [7, 9]),
                    philox::<S>(counter(2 * b + 1), [7, 9]),
                ];
                T::gumbel_pair::<S>(&w, &mut g);
                for g in &g[..2 * T::CELLS_PER_COUNTER] {
                    acc = acc + *g;
                }
            }
            acc.to_array().iter().map(|v| v.widen()).sum()
        }
    }

    /// `exp` of `CELLS` cells of `T` (the softmax's exponent), summed.
    pub struct Exp<T>(pub std::marker::PhantomData<T>);
    impl<T: Real> IsaFn<f64> for Exp<T> {
        #[inline(always)]
        fn call<S: Isa>(self, _: S) -> f64 {
            let mut acc = T::V::<S>::splat(T::ZERO);
            let mut x = T::V::<S>::splat(T::narrow(-0.001));
            let step = T::V::<S>::splat(T::narrow(-0.000_01));
            for _ in 0..CELLS / LANES {
                acc = acc + T::exp_lanes::<S>(x);
                x = x + step;
            }
            acc.to_array().iter().map(|v| v.widen()).sum()
        }
    }

    pub fn words() -> u32 {
        black_box(with_isa(Words))
    }
    pub fn noise<T: Real>() -> f64 {
        black_box(with_isa(Noise::<T>(std::marker::PhantomData)))
    }
    pub fn exp<T: Real>() -> f64 {
        black_box(with_isa(Exp::<T>(std::marker::PhantomData)))
    }
    pub fn copy<T: Real>(from: &[T], to: &mut [T]) {
        to.copy_from_slice(black_box(from));
    }
}

fn bench_stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("gumbel_stages");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(stages::CELLS as u64));
    group.bench_function("philox_words_f32_cells", |b| b.iter(stages::words));
    group.bench_function("noise_f32", |b| b.iter(stages::noise::<f32>));
    group.bench_function("noise_f64", |b| b.iter(stages::noise::<f64>));
    group.bench_function("exp_f32", |b| b.iter(stages::exp::<f32>));
    group.bench_function("exp_f64", |b| b.iter(stages::exp::<f64>));
    // The memory stage: blocks of 8M cells, far larger than the caches.
    let n = 8 << 20;
    let (a32, mut b32) = (vec![1.0f32; n], vec![0.0f32; n]);
    let (a64, mut b64) = (vec![1.0f64; n], vec![0.0f64; n]);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("copy_f32_8M", |b| b.iter(|| stages::copy(&a32, &mut b32)));
    group.bench_function("copy_f64_8M", |b| b.iter(|| stages::copy(&a64, &mut b64)));
    group.finish();
}
