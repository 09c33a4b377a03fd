//! `softmax`, `log_softmax` and `gumbel_softmax` over score blocks.
//!
//! Row kernels work in place on one block: subtract the row maximum, scale by 1/tau,
//! exponentiate, normalise. A row with NaN or `+inf`, or with no finite score (all
//! `-inf`, or K = 0), is null.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::argmax::argmax_row;
use crate::blocks::{compute_dtype, Blocks, Real};
use crate::fastmath;
use crate::rng::{hash_str, Noise};

/// Options of [`softmax`] and [`log_softmax`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct SoftmaxOptions {
    pub tau: f64,
}

/// Options of [`gumbel_softmax`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct GumbelOptions {
    pub tau: f64,
    pub hard: bool,
    /// `None`: fresh operating-system entropy at every call.
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
}

/// Errors unless `tau` is finite and positive.
pub fn check_tau(tau: f64) -> PolarsResult<()> {
    polars_ensure!(
        tau.is_finite() && tau > 0.0,
        ComputeError: "tau must be finite and > 0, got {}", tau
    );
    Ok(())
}

/// The largest score of a row, or `None` when the row is to be null.
#[inline(always)]
fn row_max<T: Real>(x: &[T]) -> Option<T> {
    let mut max = T::NEG_INFINITY;
    for &v in x {
        if v.is_nan() || v.widen() == f64::INFINITY {
            return None;
        }
        if v > max {
            max = v;
        }
    }
    (max > T::NEG_INFINITY).then_some(max)
}

/// `buf ← exp((buf - max) / tau)` in `f64`, returning the sum; each step is a plain
/// loop over the row, which the compiler vectorises.
#[inline(always)]
fn exponentiate<T: Real>(buf: &mut [T], max: f64, tau: f64) -> f64 {
    for v in buf.iter_mut() {
        *v = T::narrow(fastmath::exp_nonpositive((v.widen() - max) / tau));
    }
    buf.iter().map(|v| v.widen()).sum()
}

/// `buf ← softmax(buf / tau)`, in place. Exponents `(x - max) / tau` and the sum are
/// formed in `f64`, so Float32 blocks take any finite tau and scores without overflow.
#[inline(always)]
pub fn softmax_in_place<T: Real>(buf: &mut [T], tau: f64) -> bool {
    let Some(max) = row_max(buf) else {
        return false;
    };
    let inv = 1.0 / exponentiate(buf, max.widen(), tau);
    for v in buf.iter_mut() {
        *v = T::narrow(v.widen() * inv);
    }
    true
}

/// `buf ← log_softmax(buf / tau)`, in place, formed as in [`softmax_in_place`].
#[inline(always)]
pub fn log_softmax_in_place<T: Real>(buf: &mut [T], tau: f64) -> bool {
    let Some(max) = row_max(buf) else {
        return false;
    };
    let max = max.widen();
    let mut sum = 0.0;
    for v in buf.iter() {
        sum += fastmath::exp_nonpositive((v.widen() - max) / tau);
    }
    let log_sum = fastmath::ln(sum);
    for v in buf.iter_mut() {
        *v = T::narrow((v.widen() - max) / tau - log_sum);
    }
    true
}

/// `buf ← one_hot(argmax(buf))`, in place.
#[inline(always)]
pub fn hard_in_place<T: Real>(buf: &mut [T]) -> bool {
    let Some(winner) = argmax_row(buf) else {
        return false;
    };
    buf.fill(T::ZERO);
    buf[winner] = T::ONE;
    true
}

/// `out ← scores + g`, the Gumbel-perturbed scores of `row`; `false` for a null row.
#[inline(always)]
pub fn perturb<T: Real>(noise: &Noise, row: u64, scores: &[T], out: &mut [T]) -> bool {
    if row_max(scores).is_none() {
        return false;
    }
    noise.fill_gumbel(row, out);
    for (o, &x) in out.iter_mut().zip(scores) {
        *o += x;
    }
    true
}

fn map_real<F32, F64>(s: &Series, expr: &str, f32_path: F32, f64_path: F64) -> PolarsResult<Series>
where
    F32: FnOnce(Blocks<'_, f32>) -> PolarsResult<Series>,
    F64: FnOnce(Blocks<'_, f64>) -> PolarsResult<Series>,
{
    if compute_dtype(s.dtype(), expr)? == DataType::Float32 {
        f32_path(Blocks::read(s, expr)?)
    } else {
        f64_path(Blocks::read(s, expr)?)
    }
}

/// A transformation of one row in place, at temperature `tau`.
trait InPlace {
    fn apply<T: Real>(buf: &mut [T], tau: f64) -> bool;
}

struct Softmax;
impl InPlace for Softmax {
    #[inline(always)]
    fn apply<T: Real>(buf: &mut [T], tau: f64) -> bool {
        softmax_in_place(buf, tau)
    }
}

struct LogSoftmax;
impl InPlace for LogSoftmax {
    #[inline(always)]
    fn apply<T: Real>(buf: &mut [T], tau: f64) -> bool {
        log_softmax_in_place(buf, tau)
    }
}

/// Every row of `s` through `K`, in the layout of `s`.
fn row_wise<K: InPlace>(s: &Series, expr: &str, tau: f64) -> PolarsResult<Series> {
    check_tau(tau)?;
    fn run<T: Real, K: InPlace>(b: Blocks<'_, T>, tau: f64) -> PolarsResult<Series> {
        b.map_blocks(
            #[inline(always)]
            |_, x, out| {
                out.copy_from_slice(x);
                K::apply(out, tau)
            },
        )
    }
    map_real(s, expr, |b| run::<_, K>(b, tau), |b| run::<_, K>(b, tau))
}

/// `softmax(scores / tau)` per row, in the layout of `s`.
pub fn softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    row_wise::<Softmax>(s, "softmax", options.tau)
}

/// `log_softmax(scores / tau)` per row, in the layout of `s`.
pub fn log_softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    row_wise::<LogSoftmax>(s, "log_softmax", options.tau)
}

/// The noise counter of every row: its position, or its `key`.
pub enum RowIds {
    Position,
    Keys(Vec<u64>),
}

impl RowIds {
    /// Reads a key column: integers as their two's-complement bits, strings by
    /// [`hash_str`]; a null key or a length mismatch is an error.
    pub fn from_key(key: Option<&Series>, len: usize) -> PolarsResult<Self> {
        let Some(key) = key else {
            return Ok(Self::Position);
        };
        polars_ensure!(
            key.len() == len,
            ShapeMismatch: "key column '{}' has {} rows, the scores have {}", key.name(), key.len(), len
        );
        polars_ensure!(
            key.null_count() == 0,
            ComputeError: "key column '{}' has {} null values; every row needs a key",
            key.name(), key.null_count()
        );
        let ids = match key.dtype() {
            DataType::String => key.str()?.iter().map(|v| v.map_or(0, hash_str)).collect(),
            DataType::UInt64 => key.u64()?.into_no_null_iter().collect(),
            d if d.is_integer() => key
                .cast(&DataType::Int64)?
                .i64()?
                .into_no_null_iter()
                .map(|v| v as u64)
                .collect(),
            d => polars_bail!(
                InvalidOperation: "key must be an integer or String column, got {} for '{}'", d, key.name()
            ),
        };
        Ok(Self::Keys(ids))
    }

    #[inline(always)]
    pub fn get(&self, row: usize) -> u64 {
        match self {
            Self::Position => row as u64,
            Self::Keys(ids) => ids[row],
        }
    }
}

/// The noise source of one evaluation: seeded, or fresh entropy.
pub fn noise_for(seed: Option<u64>) -> Noise {
    seed.map_or_else(Noise::from_entropy, Noise::new)
}

/// Gumbel-Softmax per row: `softmax((scores + g) / tau)`, or its one-hot argmax when
/// `hard`, with `g` from [`Noise`] keyed by row position or `key`.
pub fn gumbel_softmax(
    s: &Series,
    key: Option<&Series>,
    options: &GumbelOptions,
) -> PolarsResult<Series> {
    check_tau(options.tau)?;
    let ids = RowIds::from_key(key, s.len())?;
    let noise = noise_for(options.seed);
    fn run<T: Real>(
        b: Blocks<'_, T>,
        ids: &RowIds,
        noise: &Noise,
        o: &GumbelOptions,
    ) -> PolarsResult<Series> {
        b.map_blocks(
            #[inline(always)]
            |row, x, out| {
                perturb(noise, ids.get(row), x, out)
                    && if o.hard {
                        hard_in_place(out)
                    } else {
                        softmax_in_place(out, o.tau)
                    }
            },
        )
    }
    map_real(
        s,
        "gumbel_softmax",
        |b| run(b, &ids, &noise, options),
        |b| run(b, &ids, &noise, options),
    )
}
