//! The parallel row drivers: a row kernel run over every row of [`Blocks`], in tasks of
//! [`ROWS_PER_TASK`] rows on Polars' thread pool, each in the best SIMD build.
//!
//! Imports [`crate::real`] and [`crate::par`].

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use super::Blocks;
use crate::par::{par_tasks, row_pieces, ROWS_PER_TASK};
use crate::real::Real;

impl<T: Real> Blocks<'_, T> {
    /// Runs `kernel(row, scores, out)` on every valid row, writing a block of the same
    /// layout; a row for which the kernel returns `false` becomes null.
    pub fn map_blocks<F>(&self, kernel: F) -> PolarsResult<Series>
    where
        F: Fn(usize, &[T], &mut [T]) -> bool + Sync,
    {
        let mut out = vec![T::ZERO; self.values.len()];
        let valid = par_rows(
            &mut out,
            self.len(),
            |r| self.offsets[r],
            #[inline(always)]
            |start, piece, valid| {
                let base = self.offsets[start];
                for (i, v) in valid.iter_mut().enumerate() {
                    let row = start + i;
                    let (lo, hi) = (self.offsets[row], self.offsets[row + 1]);
                    *v = self.is_valid(row)
                        && kernel(row, &self.values[lo..hi], &mut piece[lo - base..hi - base]);
                }
            },
        );
        self.rebuild(out, valid)
    }

    /// Runs `kernel(row, scores)` on every valid row; `None` becomes a null.
    pub fn map_rows<U, F>(&self, kernel: F) -> (Vec<U>, Option<Bitmap>)
    where
        U: Copy + Default + Send + Sync,
        F: Fn(usize, &[T]) -> Option<U> + Sync,
    {
        let len = self.len();
        let mut out = vec![U::default(); len];
        let valid = par_rows(
            &mut out,
            len,
            |r| r,
            #[inline(always)]
            |start, out, valid| {
                for (i, (o, v)) in out.iter_mut().zip(valid.iter_mut()).enumerate() {
                    let row = start + i;
                    let (lo, hi) = match self.width {
                        Some(w) => (row * w, row * w + w),
                        None => (self.offsets[row], self.offsets[row + 1]),
                    };
                    let result = if self.is_valid(row) {
                        kernel(row, &self.values[lo..hi])
                    } else {
                        None
                    };
                    match result {
                        Some(x) => *o = x,
                        None => *v = false,
                    }
                }
            },
        );
        (out, valid)
    }
}

/// Runs `f(first_row, piece, valid)` on every task's rows: `piece` is its part of `out`,
/// row `r` starting at value `start(r)`, and `valid` its rows' validity, `true` until
/// `f` says otherwise. Returns the validity bitmap, `None` when every row is valid.
fn par_rows<U: Send>(
    out: &mut [U],
    len: usize,
    start: impl Fn(usize) -> usize,
    f: impl Fn(usize, &mut [U], &mut [bool]) + Sync,
) -> Option<Bitmap> {
    let mut valid = vec![true; len];
    let pieces = row_pieces(out, len, start)
        .into_iter()
        .zip(row_pieces(&mut valid, len, |r| r))
        .collect();
    par_tasks(
        pieces,
        #[inline(always)]
        |task, (piece, valid)| f(task * ROWS_PER_TASK, piece, valid),
    );
    to_bitmap(valid)
}

/// A validity bitmap, `None` when every row is valid.
fn to_bitmap(valid: Vec<bool>) -> Option<Bitmap> {
    valid.contains(&false).then(|| Bitmap::from_iter(valid))
}
