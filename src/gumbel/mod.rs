//! Gumbel-Softmax and Gumbel-max sampling over score blocks.
//!
//! Every Gumbel path goes through one perturbation, [`perturbed`]: the score of (row,
//! category) is `(x − max) · s + g`, where `max` is the row's largest score, `g` its
//! noise ([`Noise`]), and `s` is 1 for `gumbel_softmax` (whose `tau` applies in the
//! softmax that follows) and `1 / tau` for `decode(method="sample")`. The row maximum
//! comes off first, so adding a constant to a row changes nothing, however large, and
//! no `tau` overflows. A row is kept when [`row_is_valid`] says so. At `tau = 1` the two
//! are the same numbers, so `decode(x, method="sample", seed=s)` is
//! `decode(gumbel_softmax(x, hard=True, seed=s))` by construction.
//!
//! Struct and Array blocks run eight rows side by side in vectors ([`crate::simd`]),
//! category after category: Struct fields are read and written in place, field by
//! field; Array rows as 8 × 8 tiles transposed in registers when K is a multiple of
//! eight, with a stride otherwise. A group of rows keeps its
//! perturbed scores in a scratch of `K` vectors, and draws the noise of eight rows
//! two vectorised Philox counters at a time, their logarithms together. List blocks, whose rows vary in width,
//! go row by row, the noise of eight counters of the row at a time; every step is
//! the same IEEE operation in the same order, so every layout gives the same bits.
//!
//! An operation: `lanes.rs` holds the kernels and drivers of eight rows at a time,
//! `rows.rs` those of one row; this file the options, the perturbation and the Series
//! functions. Imports [`crate::blocks`] and the leaves
//! ([`crate::real`], [`crate::rng`], [`crate::simd`], [`crate::par`], [`crate::tau`]).

use std::ops::{Add, Mul, Range, Sub};

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

use self::lanes::{for_groups, relax_fixed, relax_spans, validity, with_fixed, SampleGroup};
use self::rows::{RelaxList, SampleList};
use crate::blocks::read::{and_validity, Strided};
use crate::blocks::{compute_dtype, Blocks};
use crate::dispatch::with_match_real;
use crate::par::ROWS_PER_TASK;
use crate::real::Real;
use crate::rng::{Noise, RowIds};
use crate::simd::{with_isa, Isa};
use crate::tau::{check_tau, inv_tau};

mod lanes;
mod rows;

/// Options of [`gumbel_softmax`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct GumbelOptions {
    pub tau: f64,
    pub hard: bool,
    /// `None`: fresh operating-system entropy at every call.
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
}

/// What a span of a generator's output goes through: CTGAN's activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// A categorical block or a mode block: (Gumbel-)softmax.
    #[default]
    Softmax,
    /// A scalar in [−1, 1].
    Tanh,
    /// An unbounded scalar (a z-score), as it is.
    Linear,
    /// A null indicator, in (0, 1): `1 / (1 + e^−x)`.
    Sigmoid,
}

impl Activation {
    /// The activation of one scalar (`Softmax`: the softmax of a block of one, 1).
    #[inline]
    pub fn apply<T: Real>(self, x: T) -> T {
        match self {
            Self::Softmax => T::ONE,
            Self::Tanh => x.tanh(),
            Self::Linear => x,
            Self::Sigmoid => T::ONE / (T::ONE + (T::ZERO - x).exp()),
        }
    }
}

/// One scalar column's activation, value by value: Float32 stays Float32, other
/// numbers become Float64; nulls stay null.
pub fn activate(s: &Series, activation: Activation) -> PolarsResult<Series> {
    polars_ensure!(
        s.dtype().is_primitive_numeric(),
        InvalidOperation: "activate expects a numeric column, got {} (column '{}')", s.dtype(), s.name()
    );
    Ok(if s.dtype() == &DataType::Float32 {
        s.f32()?.apply_values(|x| activation.apply(x)).into_series()
    } else {
        let s = s.cast(&DataType::Float64)?;
        s.f64()?.apply_values(|x| activation.apply(x)).into_series()
    })
}

/// One span of a row of scores, the seed of its noise stream, and its activation.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SpanNoise {
    pub start: usize,
    pub stop: usize,
    /// `None`: fresh operating-system entropy at every call.
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
    /// A span of one scalar is activated alone ([`Activation::apply`]); a softmax span
    /// is relaxed.
    #[serde(default)]
    pub activation: Activation,
}

/// Options of [`gumbel_softmax_spans`]: `tau` and `hard` as in [`GumbelOptions`], and
/// the spans that cover each row, one after the other.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SpansOptions {
    pub tau: f64,
    pub hard: bool,
    pub spans: Vec<SpanNoise>,
}

/// The perturbed score of one cell, or of a vector of cells: `(x − max) · s + g`.
#[inline(always)]
pub fn perturbed<V>(x: V, max: V, s: V, g: V) -> V
where
    V: Add<Output = V> + Sub<Output = V> + Mul<Output = V>,
{
    (x - max) * s + g
}

/// Which rows are kept, a bit each: those with a score above `-inf` (`above`) and no
/// NaN or `+inf` (`bad`).
#[inline(always)]
pub fn row_is_valid(bad: u8, above: u8) -> u8 {
    above & !bad
}

/// What is made of the perturbed scores.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Relax {
    /// `softmax(p / tau)`, given `1 / tau` (see [`inv_tau`]).
    Soft(f64),
    /// `log_softmax(p / tau)` with no noise, given `1 / tau` in `f64`, in which each
    /// `(x − max) / tau` is formed (at tau = 1 the exponent's `x − max` in the block's
    /// type, which is the same bits).
    Log(f64),
    /// The one-hot of `argmax(p)`.
    Hard,
}

impl Relax {
    /// The one-hot argmax when `hard`, else the softmax at temperature `tau` in `T`.
    fn of<T: Real>(hard: bool, tau: f64) -> Self {
        if hard {
            Self::Hard
        } else {
            Self::Soft(inv_tau::<T>(tau).widen())
        }
    }
}

/// Gumbel-Softmax per row: `softmax((scores + g) / tau)`, or its one-hot argmax when
/// `hard`, with `g` from [`Noise`] keyed by row position or `key`, in the layout of `s`.
pub fn gumbel_softmax(
    s: &Series,
    key: Option<&Series>,
    options: &GumbelOptions,
) -> PolarsResult<Series> {
    check_tau(options.tau)?;
    let ids = RowIds::from_key(key, s.len())?;
    let noise = Noise::seeded_or_fresh(options.seed);
    fn run<T: Real>(
        s: &Series,
        ids: &RowIds,
        noise: &Noise,
        o: &GumbelOptions,
    ) -> PolarsResult<Series> {
        let relax = Relax::of::<T>(o.hard, o.tau);
        relax_block::<T>(s, relax, Some(noise), ids, "gumbel_softmax")
    }
    with_match_real!(compute_dtype(s.dtype(), "gumbel_softmax")?, |$T| {
        run::<$T>(s, &ids, &noise, options)
    })
}

/// `softmax(scores / tau)` per row, or `log_softmax` when `log`, in the layout of `s`:
/// the kernels of `gumbel_softmax` with no noise (`g = 0`), so that
/// `gumbel_softmax` is `softmax` of the perturbed scores, step for step.
pub fn softmax(s: &Series, tau: f64, log: bool) -> PolarsResult<Series> {
    check_tau(tau)?;
    let expr = if log { "log_softmax" } else { "softmax" };
    with_match_real!(compute_dtype(s.dtype(), expr)?, |$T| {
        // log_softmax keeps `(x − max) / tau` itself, formed in `f64` (see `Relax::Log`).
        let relax = if log {
            Relax::Log(inv_tau::<f64>(tau))
        } else {
            Relax::Soft(inv_tau::<$T>(tau).widen())
        };
        relax_block::<$T>(s, relax, None, &RowIds::Position, expr)
    })
}

/// A block of `s` relaxed: Struct and Array blocks eight rows at a time, List blocks
/// (and blocks of no category) row by row.
fn relax_block<T: Real>(
    s: &Series,
    relax: Relax,
    noise: Option<&Noise>,
    ids: &RowIds,
    expr: &str,
) -> PolarsResult<Series> {
    let fixed = with_fixed::<T, _>(s, |source, validity| {
        relax_fixed(s, source, validity, relax, noise, ids)
    })?;
    match fixed {
        Some(out) => Ok(out),
        None => {
            let blocks = Blocks::<T>::read(s, expr)?;
            with_isa(RelaxList {
                blocks: &blocks,
                relax,
                noise,
                ids,
            })
        }
    }
}

/// Gumbel-Softmax of every span of each row of an Array column (the codec's matrix:
/// every variable's scores side by side), each span with its own noise stream, in
/// place: one Array column of the same width, in one chunk. A span is relaxed exactly
/// as `gumbel_softmax` relaxes the same scores given as a block of their own.
pub fn gumbel_softmax_spans(
    s: &Series,
    key: Option<&Series>,
    options: &SpansOptions,
) -> PolarsResult<Series> {
    check_tau(options.tau)?;
    let ids = RowIds::from_key(key, s.len())?;
    let spans: Vec<(Range<usize>, Noise)> = options
        .spans
        .iter()
        .map(|span| (span.start..span.stop, Noise::seeded_or_fresh(span.seed)))
        .collect();
    let activations: Vec<Activation> = options.spans.iter().map(|s| s.activation).collect();
    if let Some(span) = options
        .spans
        .iter()
        .find(|s| s.activation != Activation::Softmax && s.stop != s.start + 1)
    {
        polars_bail!(
            InvalidOperation: "gumbel_softmax_spans: a {:?} span holds one scalar, got {}..{}",
            span.activation, span.start, span.stop
        );
    }
    with_match_real!(compute_dtype(s.dtype(), "gumbel_softmax")?, |$T| {
        let relax = Relax::of::<$T>(options.hard, options.tau);
        relax_spans::<$T>(s, &spans, &activations, relax, &ids)
    })
}

/// Every row's Gumbel-max draw from `softmax(scores / tau)`: its index and the rows'
/// validity, with the noise `gumbel_softmax` uses for the same seed and key.
pub fn sample<T: Real>(
    s: &Series,
    tau: f64,
    noise: &Noise,
    ids: &RowIds,
) -> PolarsResult<(Vec<u32>, Option<Bitmap>)> {
    let len = s.len();
    let fixed = with_fixed::<T, _>(s, |source, input_validity| {
        let (idx, found) = sample_from(source, len, tau, noise, ids);
        let valid = and_validity(found, input_validity.as_ref());
        Ok((idx, valid.filter(|v| v.unset_bits() > 0)))
    })?;
    match fixed {
        Some(found) => Ok(found),
        None => {
            let blocks = Blocks::<T>::read(s, "decode")?;
            Ok(with_isa(SampleList {
                blocks: &blocks,
                s: inv_tau::<T>(tau),
                noise,
                ids,
            }))
        }
    }
}

/// Where the scores of a fixed-width block come from, [`crate::simd::LANES`] rows at a
/// time: a Struct's fields, an Array's rows, or scores computed as they are read.
pub trait LaneSource<T: Real>: Sync {
    /// The categories of a row.
    fn width(&self) -> usize;
    /// `p[j] ←` category `j` of rows `at..at + LANES`; rows at `len` and past repeat row
    /// `len - 1` (the last, partial group).
    fn fill<S: Isa>(&self, at: usize, len: usize, p: &mut [T::V<S>]);
}

/// [`sample`] of the `len` rows of `source`: every row's index, and which rows were
/// valid (`None` when all were).
pub fn sample_from<T: Real>(
    source: &impl LaneSource<T>,
    len: usize,
    tau: f64,
    noise: &Noise,
    ids: &RowIds,
) -> (Vec<u32>, Option<Bitmap>) {
    let mut idx = vec![0u32; len];
    let pieces: Vec<&mut [u32]> = idx.chunks_mut(ROWS_PER_TASK).collect();
    let group = SampleGroup {
        source,
        s: inv_tau::<T>(tau),
        noise,
        ids,
        len,
    };
    let (found, _) = for_groups(len, source.width(), pieces, &group);
    (idx, validity(found, len, None))
}

/// Every span's Gumbel-max draw from `softmax(scores / tau)` for the `len` rows of a
/// matrix whose spans are `rows` (with their validity), each with its own noise: its
/// indices and validity. The same draws as [`sample`] of each span given alone; the
/// matrix is read once, every span of a group of rows before the next group.
pub fn sample_spans<T: Real>(
    len: usize,
    rows: &[Strided<'_, T>],
    validity: Vec<Option<Bitmap>>,
    tau: f64,
    noises: &[Noise],
    ids: &RowIds,
) -> PolarsResult<Vec<(Vec<u32>, Option<Bitmap>)>> {
    lanes::sample_spans(len, rows, validity, inv_tau::<T>(tau), noises, ids)
}
