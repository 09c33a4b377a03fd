//! `softmax` and `log_softmax` over score blocks (`gumbel_softmax` has a module of its
//! own).
//!
//! Row kernels work in place on one block: subtract the row maximum, scale by 1/tau,
//! exponentiate, normalise. A row with NaN or `+inf`, or with no finite score (all
//! `-inf`, or K = 0), is null.
//!
//! An operation and its row kernels: imports [`crate::blocks`] and the leaves.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blocks::{compute_dtype, Blocks};
use crate::dispatch::with_match_real;
use crate::fastmath;
use crate::real::Real;
use crate::tau::check_tau;

/// Options of [`softmax`] and [`log_softmax`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct SoftmaxOptions {
    pub tau: f64,
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
    with_match_real!(compute_dtype(s.dtype(), expr)?, |$T| {
        run::<$T, K>(Blocks::read(s, expr)?, tau)
    })
}

/// `softmax(scores / tau)` per row, in the layout of `s`.
pub fn softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    row_wise::<Softmax>(s, "softmax", options.tau)
}

/// `log_softmax(scores / tau)` per row, in the layout of `s`.
pub fn log_softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    row_wise::<LogSoftmax>(s, "log_softmax", options.tau)
}
