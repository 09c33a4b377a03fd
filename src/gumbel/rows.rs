//! The one-row kernels of Gumbel-Softmax and Gumbel-max sampling, for List blocks
//! (whose rows vary in width) and blocks of no category: every step the same IEEE
//! operation, in the same order, as the eight-row kernels of `lanes.rs`, so every layout
//! gives the same bits.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use super::{perturbed, row_is_valid, Relax};
use crate::blocks::Blocks;
use crate::fastmath;
use crate::real::Real;
use crate::rng::{Noise, RowIds};
use crate::simd::{Isa, IsaFn, Lane, Vector, LANES};

/// The perturbed scores of one row, as the eight-row kernel forms them lane by lane, each
/// handed to `each(j, q)`; returns the largest and its index, or `None` for a null row.
#[inline(always)]
fn perturb_row<T: Real, S: Isa>(
    x: &[T],
    noise: Option<&Noise>,
    row: u64,
    s: T,
    mut each: impl FnMut(usize, T),
) -> Option<(T, usize)> {
    let mut max = T::NEG_INFINITY;
    let mut bad = false;
    for &v in x {
        bad |= v.is_nan() || v == T::INFINITY;
        max = if v > max { v } else { max };
    }
    if row_is_valid(u8::from(bad), u8::from(max > T::NEG_INFINITY)) == 0 {
        return None;
    }
    // With no noise (`softmax`), the scores as they are, as in the eight-row kernel.
    let Some(noise) = noise else {
        for (j, &v) in x.iter().enumerate() {
            each(j, v);
        }
        return Some((max, 0));
    };
    let per = T::CELLS_PER_COUNTER;
    let (mut best, mut at) = (T::NEG_INFINITY, 0);
    let mut g = [T::V::<S>::splat(T::ZERO); 4];
    for (c, cells) in x.chunks(LANES * per).enumerate() {
        noise.counters::<T, S>(row, (c * LANES) as u32, &mut g);
        let g = g.map(Vector::to_array);
        for (i, &v) in cells.iter().enumerate() {
            let j = c * LANES * per + i;
            let q = perturbed(v, max, s, g[i % per][i / per]);
            each(j, q);
            if q > best {
                (best, at) = (q, j);
            }
        }
    }
    Some((best, at))
}

/// `gumbel_softmax` of one row into `out`; `false` for a null row.
#[inline(always)]
fn relax_row<T: Real, S: Isa>(
    relax: Relax,
    noise: Option<&Noise>,
    row: u64,
    x: &[T],
    out: &mut [T],
) -> bool {
    // With no noise the kernel computes no index: `softmax` never asks for one.
    debug_assert!(noise.is_some() || relax != Relax::Hard);
    let Some((best, at)) = perturb_row::<T, S>(x, noise, row, T::ONE, |j, q| out[j] = q) else {
        return false;
    };
    match relax {
        Relax::Hard => {
            out.fill(T::ZERO);
            out[at] = T::ONE;
        }
        Relax::Soft(inv) => {
            let inv = T::narrow(inv);
            for chunk in out.chunks_mut(LANES) {
                let mut a = [T::ZERO; LANES];
                for (a, &q) in a.iter_mut().zip(chunk.iter()) {
                    *a = (q - best) * inv;
                }
                let e = T::exp_lanes::<S>(Vector::from_array(a)).to_array();
                chunk.copy_from_slice(&e[..chunk.len()]);
            }
            let sum = out.iter().fold(0.0f64, |sum, e| sum + e.widen());
            let inv_sum = T::narrow(1.0 / sum);
            for o in out.iter_mut() {
                *o *= inv_sum;
            }
        }
        Relax::Log(inv) => {
            // `z` formed in `f64` and rounded, the sum in `f64`, `e^z` and `z − ln Σ` in
            // `T`: the eight-row kernel's bits (which at tau = 1 forms `x − max` in `T`,
            // the same value).
            let max = best.widen();
            let mut sum = 0.0f64;
            for chunk in out.chunks_mut(LANES) {
                let mut a = [T::NEG_INFINITY; LANES];
                for (a, x) in a.iter_mut().zip(chunk.iter_mut()) {
                    *x = T::narrow((x.widen() - max) * inv);
                    *a = *x;
                }
                let e = T::exp_lanes::<S>(Vector::from_array(a)).to_array();
                sum = e[..chunk.len()].iter().fold(sum, |sum, e| sum + e.widen());
            }
            let log_sum = T::narrow(fastmath::ln(S::F64::splat(sum)).to_array()[0]);
            for z in out.iter_mut() {
                *z -= log_sum;
            }
        }
    }
    true
}

/// `gumbel_softmax` of a List block (or one of no category), row by row.
pub(super) struct RelaxList<'a, T: Real> {
    pub(super) blocks: &'a Blocks<'a, T>,
    pub(super) relax: Relax,
    pub(super) noise: Option<&'a Noise>,
    pub(super) ids: &'a RowIds,
}

impl<T: Real> IsaFn<PolarsResult<Series>> for RelaxList<'_, T> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) -> PolarsResult<Series> {
        let Self {
            blocks,
            relax,
            noise,
            ids,
        } = self;
        blocks.map_blocks(|row, x, out| relax_row::<T, S>(relax, noise, ids.get(row), x, out))
    }
}

/// Gumbel-max draws of a List block (or one of no category), row by row.
pub(super) struct SampleList<'a, T: Real> {
    pub(super) blocks: &'a Blocks<'a, T>,
    pub(super) s: T,
    pub(super) noise: &'a Noise,
    pub(super) ids: &'a RowIds,
}

impl<T: Real> IsaFn<(Vec<u32>, Option<Bitmap>)> for SampleList<'_, T> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) -> (Vec<u32>, Option<Bitmap>) {
        let Self {
            blocks,
            s,
            noise,
            ids,
        } = self;
        blocks.map_rows(|row, x| {
            perturb_row::<T, S>(x, Some(noise), ids.get(row), s, |_, _| {}).map(|(_, at)| at as u32)
        })
    }
}
