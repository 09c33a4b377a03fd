//! The eight-row kernels of Gumbel-Softmax and Gumbel-max sampling, and their drivers
//! over Struct fields and Array rows: [`LANES`] rows side by side in vectors, category
//! after category, the noise of eight rows two Philox counters at a time, their
//! logarithms together ([`Noise::rows`]).

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use super::{perturbed, row_is_valid, Activation, LaneSource, Relax};
use crate::blocks::build::{array_from_flat, array_from_pieces, struct_from_fields};
use crate::blocks::read::{and_validity, array_of, array_rows, struct_columns, Strided};
use crate::fastmath;
use crate::par::{
    choice_buffers, choice_pieces, column_pieces, fill_sized, fill_spares, fresh, par_tasks,
    row_pieces, tasks, ROWS_PER_TASK,
};
use crate::real::Real;
use crate::rng::{Noise, RowIds};
use crate::simd::{prefetch, with_isa, FloatV, IntV, Isa, IsaFn, Lane, MaskV, Vector, LANES};

/// How many rows ahead of a group [`Fixed::fill`] asks for the scores: four groups,
/// so that they come from memory while the groups between are computed.
const AHEAD: usize = 4 * LANES;

/// Lanes holding NaN or `+inf`, which make their row null.
#[inline(always)]
fn bad_lanes<T: Real, S: Isa>(v: T::V<S>) -> <T::V<S> as FloatV>::Bits {
    v.is_nan().or(v.eq(Lane::splat(T::INFINITY)))
}

/// The largest scores of [`LANES`] rows (`p[j]` their scores of category `j`), NaN
/// passed over: `softmax`'s maximum, which needs no validity of its own (see
/// [`sum_is_finite`]).
#[inline(always)]
fn max_lanes<T: Real, S: Isa>(p: &[T::V<S>]) -> T::V<S> {
    let mut max = T::V::<S>::splat(T::NEG_INFINITY);
    for &v in p {
        max = v.larger(max);
    }
    max
}

/// The rows whose sum of exponentials is not NaN, as the bits of a byte. With no
/// noise, that is exactly the rows [`row_is_valid`] keeps: a row with NaN or `+inf`, or
/// with no score above `-inf`, has an exponent of NaN (NaN − max, inf − inf, or
/// −inf − −inf); a kept row's exponents are at most 0 and one is 0, so its sum is at
/// least 1, and finite. With noise it is so as well, and the kernels take both.
#[inline(always)]
fn sum_is_finite<S: Isa>(sum: S::F64) -> u8 {
    sum.is_nan().movemask() ^ u8::MAX
}

/// The perturbed scores of [`LANES`] rows, in place: `p[j]` holds the rows' scores of
/// category `j`, and receives their perturbed scores. Returns each row's largest
/// perturbed score, its index (lowest on ties, as a float) and the rows' validity as the
/// bits of a byte. With no noise (`softmax`) the kernels take [`max_lanes`] in its
/// place: `(x − max) · 1 + 0` less its largest, 0, is `x − max` exactly, so what
/// follows gives the same bits either way.
#[inline(always)]
fn perturb_lanes<T: Real, S: Isa>(
    noise: &Noise,
    rows: &[u64; LANES],
    s: T::V<S>,
    p: &mut [T::V<S>],
) -> (T::V<S>, T::V<S>, u8) {
    let neg_inf = T::V::<S>::splat(T::NEG_INFINITY);
    let mut max = neg_inf;
    let mut bad = neg_inf.gt(neg_inf);
    for &v in p.iter() {
        bad = bad.or(bad_lanes::<T, S>(v));
        max = FloatV::select(v.gt(max), v, max);
    }
    let valid = row_is_valid(bad.movemask(), max.gt(neg_inf).movemask());
    let mut best = neg_inf;
    let (one, mut j, mut idx) = (
        Lane::splat(T::ONE),
        Lane::splat(T::ZERO),
        Lane::splat(T::ZERO),
    );
    let mut g = [T::V::<S>::splat(T::ZERO); 8];
    for (b, cells) in p.chunks_mut(2 * T::CELLS_PER_COUNTER).enumerate() {
        noise.rows::<T, S>(rows, 2 * b as u32, cells.len(), &mut g);
        for (cell, &g) in cells.iter_mut().zip(&g) {
            let q = perturbed(*cell, max, s, g);
            *cell = q;
            let greater = q.gt(best);
            best = FloatV::select(greater, q, best);
            idx = FloatV::select(greater, j, idx);
            j = j + one;
        }
    }
    (best, idx, valid)
}

/// `p[j] ← exp((p[j] − best) / tau)` for every category; returns `1 / Σ` per row (the
/// sum formed in `f64`, category after category) and [`sum_is_finite`]. At tau = 1,
/// `softmax`'s default, the exponent goes without its product by 1, which is exact.
#[inline(always)]
fn exponentiate_lanes<T: Real, S: Isa>(p: &mut [T::V<S>], best: T::V<S>, inv: T) -> (T::V<S>, u8) {
    if inv == T::ONE {
        exponentiate_at::<T, S, true>(p, best, inv)
    } else {
        exponentiate_at::<T, S, false>(p, best, inv)
    }
}

/// [`exponentiate_lanes`] at tau = 1 (`IS_UNIT`) or at any tau.
#[inline(always)]
fn exponentiate_at<T: Real, S: Isa, const IS_UNIT: bool>(
    p: &mut [T::V<S>],
    best: T::V<S>,
    inv: T,
) -> (T::V<S>, u8) {
    let inv = Lane::splat(inv);
    let mut sum = S::F64::splat(0.0);
    for cell in p.iter_mut() {
        let z = *cell - best;
        let e = T::exp_lanes::<S>(if IS_UNIT { z } else { z * inv });
        *cell = e;
        sum = T::accumulate::<S>(sum, e);
    }
    let inv_sum = T::narrow_lanes::<S>(S::F64::splat(1.0).quotient(sum));
    (inv_sum, sum_is_finite::<S>(sum))
}

/// `p[j] ← log_softmax(p / tau)[j]` for every category, given the rows' largest score
/// and `1 / tau` in `f64`: each `z = (x − max) / tau` formed in `f64` and rounded to
/// `T`, so that a Float32 block keeps scores 3e38 apart, and any tau, finite; the sum of
/// the `e^z` (those in `T`) in `f64`, and its logarithm `L` rounded to `T`; then each
/// output `z − L` in `T`. Both terms are at most 0, so that subtraction adds magnitudes:
/// with its three roundings the output is within 2 units in the last place of `z − L`
/// (a Float64 block's within half of one). Returns
/// [`sum_is_finite`].
///
/// At tau = 1, `log_softmax`'s default, the exponent is `x − max` in `T`, the same bits
/// as the difference formed in `f64` and rounded to `T` (the test
/// `a_difference_of_two_f32_rounds_once`).
#[inline(always)]
fn log_softmax_lanes<T: Real, S: Isa>(p: &mut [T::V<S>], max: T::V<S>, inv: f64) -> u8 {
    if inv == 1.0 {
        log_softmax_at::<T, S, true>(p, max, inv)
    } else {
        log_softmax_at::<T, S, false>(p, max, inv)
    }
}

/// [`log_softmax_lanes`] at tau = 1 (`IS_UNIT`) or at any tau.
#[inline(always)]
fn log_softmax_at<T: Real, S: Isa, const IS_UNIT: bool>(
    p: &mut [T::V<S>],
    max: T::V<S>,
    inv: f64,
) -> u8 {
    let (widen, narrow) = (T::widen_lanes::<S>, T::narrow_lanes::<S>);
    let (wide_max, inv) = (widen(max), S::F64::splat(inv));
    let mut sum = S::F64::splat(0.0);
    for x in p.iter_mut() {
        *x = if IS_UNIT {
            *x - max
        } else {
            narrow((widen(*x) - wide_max) * inv)
        };
        sum = T::accumulate::<S>(sum, T::exp_lanes::<S>(*x));
    }
    let log_sum = narrow(fastmath::ln(sum));
    for z in p.iter_mut() {
        *z = *z - log_sum;
    }
    sum_is_finite::<S>(sum)
}

/// One group of [`LANES`] rows of `gumbel_softmax` (of `softmax` and `log_softmax` with
/// no `noise`): `p[j]` holds the rows' scores of category `j`, and then what
/// [`Relaxed::apply`] turns into the output's category `j`. Returns that and the rows'
/// validity byte.
#[inline(always)]
fn relax_lanes<T: Real, S: Isa>(
    relax: Relax,
    noise: Option<&Noise>,
    rows: &[u64; LANES],
    p: &mut [T::V<S>],
) -> (Relaxed<T::V<S>>, u8) {
    // With no noise the kernel computes no index: `softmax` never asks for one.
    debug_assert!(noise.is_some() || relax != Relax::Hard);
    let one = T::V::<S>::splat(T::ONE);
    let (best, idx, valid) = match noise {
        Some(noise) => perturb_lanes::<T, S>(noise, rows, one, p),
        // Every row for now: its sum says which are kept.
        None => (max_lanes::<T, S>(p), one, u8::MAX),
    };
    match relax {
        Relax::Hard => (Relaxed::Hard(idx), valid),
        Relax::Soft(inv) => {
            let (inv_sum, finite) = exponentiate_lanes::<T, S>(p, best, T::narrow(inv));
            (Relaxed::Soft(inv_sum), valid & finite)
        }
        Relax::Log(inv) => {
            let finite = log_softmax_lanes::<T, S>(p, best, inv);
            (Relaxed::Written, valid & finite)
        }
    }
}

/// What the output of a group of rows is made from: `p[j] · (1 / Σ)`, `p[j]` itself, or
/// the one-hot of the rows' indices.
#[derive(Clone, Copy)]
enum Relaxed<V> {
    Soft(V),
    Written,
    Hard(V),
}

impl<V: FloatV> Relaxed<V> {
    /// `p[j] ←` the output's category `j`, for every category (`zero` and `one` in
    /// every lane): a loop of its own for each kind, which is then not tested category
    /// by category.
    #[inline(always)]
    fn apply(self, p: &mut [V], zero: V, one: V) {
        match self {
            Self::Soft(inv_sum) => {
                for p in p.iter_mut() {
                    *p = *p * inv_sum;
                }
            }
            Self::Written => {}
            Self::Hard(idx) => {
                let mut jv = zero;
                for p in p.iter_mut() {
                    *p = FloatV::select(idx.eq(jv), one, zero);
                    jv = jv + one;
                }
            }
        }
    }
}

/// Where a fixed-width block's scores are: Struct fields, or Array rows (or a span of
/// them).
pub(super) enum Fixed<'a, T: Clone> {
    Fields(Vec<std::borrow::Cow<'a, [T]>>),
    Rows(&'a Strided<'a, T>),
}

impl<T: Real> LaneSource<T> for Fixed<'_, T> {
    fn width(&self) -> usize {
        match self {
            Self::Fields(columns) => columns.len(),
            Self::Rows(rows) => rows.width,
        }
    }

    #[inline(always)]
    fn fill<S: Isa>(&self, at: usize, len: usize, p: &mut [T::V<S>]) {
        let full = at + LANES <= len;
        let row = |l: usize| (at + l).min(len - 1);
        match self {
            Self::Fields(columns) => {
                for (cell, column) in p.iter_mut().zip(columns) {
                    prefetch(column.as_ptr().wrapping_add(at + AHEAD));
                    let mut a = [T::ZERO; LANES];
                    if full {
                        a.copy_from_slice(&column[at..at + LANES]);
                    } else {
                        for (l, a) in a.iter_mut().enumerate() {
                            *a = column[row(l)];
                        }
                    }
                    *cell = Vector::from_array(a);
                }
            }
            Self::Rows(rows) if full && rows.width % LANES == 0 => {
                let ahead = rows
                    .values
                    .as_ptr()
                    .wrapping_add((at + AHEAD) * rows.stride);
                for b in (0..LANES * rows.stride * size_of::<T>()).step_by(64) {
                    prefetch(ahead.wrapping_byte_add(b));
                }
                // Eight rows' tiles of eight categories, transposed in registers.
                for (t, tile) in p.chunks_exact_mut(LANES).enumerate() {
                    let mut r = [T::V::<S>::splat(T::ZERO); LANES];
                    for (l, r) in r.iter_mut().enumerate() {
                        let mut a = [T::ZERO; LANES];
                        a.copy_from_slice(&rows.row(at + l)[t * LANES..(t + 1) * LANES]);
                        *r = Vector::from_array(a);
                    }
                    tile.copy_from_slice(&T::transpose::<S>(r));
                }
            }
            Self::Rows(rows) if full => {
                for (j, cell) in p.iter_mut().enumerate() {
                    // SAFETY: a whole group of rows below `len`, the rows read, and
                    // categories below the width (`p` has one cell per category).
                    *cell = Vector::from_array(unsafe { rows.lanes_unchecked::<LANES>(at, j) });
                }
            }
            Self::Rows(rows) => {
                for (j, cell) in p.iter_mut().enumerate() {
                    let mut a = [T::ZERO; LANES];
                    for (l, a) in a.iter_mut().enumerate() {
                        *a = rows.at(row(l), j);
                    }
                    *cell = Vector::from_array(a);
                }
            }
        }
    }
}

/// What marks an output value not yet written, in debug builds: no relaxation writes
/// `+inf` (a row's softmax is at most 1, its log at most 0, and a null row's values
/// are NaN or within those).
fn unwritten<T: Real>() -> T {
    T::INFINITY
}

/// Categories a fixed-width block may have to run in lanes: their indices are carried
/// as floats, exact below 2²⁴ in `f32`.
const MAX_LANE_WIDTH: usize = 1 << 24;

/// Errors unless every span is narrow enough to run in lanes ([`MAX_LANE_WIDTH`]).
fn check_span_widths(widths: impl Iterator<Item = usize>) -> PolarsResult<()> {
    for width in widths {
        polars_ensure!(
            width < MAX_LANE_WIDTH,
            InvalidOperation: "a span of {} scores is more than the {} a block may have",
            width, MAX_LANE_WIDTH - 1
        );
    }
    Ok(())
}

/// Reads a Struct or Array block and hands `f` its scores and its row validity; `None`
/// for a List, a block of no category or of more than [`MAX_LANE_WIDTH`].
pub(super) fn with_fixed<T: Real, R>(
    s: &Series,
    f: impl FnOnce(&Fixed<'_, T>, Option<Bitmap>) -> PolarsResult<R>,
) -> PolarsResult<Option<R>> {
    let lanes = |width: usize| width > 0 && width < MAX_LANE_WIDTH;
    match s.dtype() {
        DataType::Struct(fields) if lanes(fields.len()) => {
            let fields = s.struct_()?.fields_as_series();
            let (columns, validity) = struct_columns::<T>(s, &fields)?;
            f(&Fixed::Fields(columns), validity).map(Some)
        }
        DataType::Array(_, width) if lanes(*width) => {
            let (rows, validity) = array_rows::<T>(s, None)?;
            f(&Fixed::Rows(&rows), validity).map(Some)
        }
        _ => Ok(None),
    }
}

/// The work on one group of [`LANES`] rows, in any build of the vectors.
pub(super) trait Group<T: Real>: Sync {
    /// A task's part of the output.
    type Piece: Send;
    /// Runs the group of rows `at..at + count` (`off` into the task's piece) with the
    /// scratch `p`; returns the rows' validity byte.
    fn run<S: Isa>(
        &self,
        piece: &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8;
}

/// One task: its groups of rows, in the build `with_isa` picks, with the scratch `W`.
struct Task<'a, T, G: Group<T>, W>
where
    T: Real,
{
    group: &'a G,
    piece: G::Piece,
    bytes: &'a mut [u8],
    start: usize,
    len: usize,
    width: usize,
    types: PhantomData<(T, W)>,
}

impl<T: Real, G: Group<T>, W: Scratch> IsaFn<G::Piece> for Task<'_, T, G, W> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) -> G::Piece {
        let Task {
            group,
            mut piece,
            bytes,
            start,
            len,
            width,
            ..
        } = self;
        let zero = T::V::<S>::splat(T::ZERO);
        W::with(
            width,
            zero,
            #[inline(always)]
            |p| run_groups(group, &mut piece, bytes, start, len, p),
        );
        piece
    }
}

/// How a task holds the scratch of its groups: a type for each, so that each build of
/// the kernels is one function with one kind of scratch.
trait Scratch {
    /// `f` of a scratch of `width` vectors, each `zero` at first.
    fn with<V: Copy>(width: usize, zero: V, f: impl FnOnce(&mut [V]));
}

/// At [`LANES`] categories an array, which the compiler can keep in registers, the
/// loops over it unrolled.
struct Eight;

impl Scratch for Eight {
    #[inline(always)]
    fn with<V: Copy>(width: usize, zero: V, f: impl FnOnce(&mut [V])) {
        debug_assert_eq!(width, LANES);
        f(&mut [zero; LANES]);
    }
}

/// At any width a vector.
struct AnyWidth;

impl Scratch for AnyWidth {
    #[inline(always)]
    fn with<V: Copy>(width: usize, zero: V, f: impl FnOnce(&mut [V])) {
        f(&mut vec![zero; width]);
    }
}

/// The groups of a task's rows from `start` (their validity bytes `bytes`), each run
/// with the scratch `p`.
#[inline(always)]
fn run_groups<T: Real, G: Group<T>, S: Isa>(
    group: &G,
    piece: &mut G::Piece,
    bytes: &mut [u8],
    start: usize,
    len: usize,
    p: &mut [T::V<S>],
) {
    for (g, byte) in bytes.iter_mut().enumerate() {
        let off = g * LANES;
        let at = start + off;
        *byte = group.run::<S>(piece, p, at, off, (len - at).min(LANES));
    }
}

/// Runs `group` on every group of [`LANES`] rows of `len`, in parallel tasks of
/// [`ROWS_PER_TASK`] rows, task `t` writing `pieces[t]`; returns the groups' validity
/// bytes and the pieces.
pub(super) fn for_groups<T: Real, G: Group<T>>(
    len: usize,
    width: usize,
    pieces: Vec<G::Piece>,
    group: &G,
) -> (Vec<u8>, Vec<G::Piece>) {
    debug_assert_eq!(pieces.len(), tasks(len));
    let mut found = vec![0u8; len.div_ceil(LANES)];
    let tasks = pieces
        .into_iter()
        .zip(row_pieces(&mut found, len, |r| r.div_ceil(LANES)))
        .collect();
    // Each scratch its own tasks, so that no function holds two builds of the kernels.
    let pieces = if width == LANES {
        run_tasks::<T, G, Eight>(tasks, group, len, width)
    } else {
        run_tasks::<T, G, AnyWidth>(tasks, group, len, width)
    };
    (found, pieces)
}

/// [`for_groups`]' tasks, with the scratch `W`.
fn run_tasks<T: Real, G: Group<T>, W: Scratch>(
    tasks: Vec<(G::Piece, &mut [u8])>,
    group: &G,
    len: usize,
    width: usize,
) -> Vec<G::Piece> {
    par_tasks(
        tasks,
        #[inline(always)]
        |task, (piece, bytes)| {
            with_isa(Task::<T, G, W> {
                group,
                piece,
                bytes,
                start: task * ROWS_PER_TASK,
                len,
                width,
                types: PhantomData,
            })
        },
    )
}

/// The rows' validity: the groups' bytes and the input's.
pub(super) fn validity(found: Vec<u8>, len: usize, input: Option<Bitmap>) -> Option<Bitmap> {
    let found = Bitmap::from_u8_vec(found, len);
    and_validity(Some(found), input.as_ref()).filter(|v| v.unset_bits() > 0)
}

/// `gumbel_softmax` of fixed-width rows.
struct RelaxGroup<'a, T: Real> {
    source: &'a Fixed<'a, T>,
    relax: Relax,
    noise: Option<&'a Noise>,
    ids: &'a RowIds,
    len: usize,
}

impl<'a, T: Real> RelaxGroup<'a, T> {
    /// The group's output into `p`, `p[j]` its category `j`; returns the group's
    /// validity byte.
    #[inline(always)]
    fn lanes<S: Isa>(&self, p: &mut [T::V<S>], at: usize) -> u8 {
        self.source.fill::<S>(at, self.len, p);
        let rows = self.ids.lanes(at, self.len);
        let (relaxed, valid) = relax_lanes::<T, S>(self.relax, self.noise, &rows, p);
        relaxed.apply(p, Lane::splat(T::ZERO), Lane::splat(T::ONE));
        valid
    }
}

/// A group's first values into `out`: a task's last group, when it has fewer rows than
/// [`LANES`]. Out of line, so that this copy of a length known only at run time and a
/// whole group's store do not merge into one call of `memcpy` for every group.
#[cold]
#[inline(never)]
fn write_part<T: Copy>(out: &mut [T], values: &[T]) {
    out[..values.len()].copy_from_slice(values);
}

/// Into Struct fields: a task's piece of every field.
struct IntoFields<'a, T: Real>(RelaxGroup<'a, T>);

impl<'a, T: Real> Group<T> for IntoFields<'a, T> {
    type Piece = Vec<&'a mut [MaybeUninit<T>]>;
    #[inline(always)]
    fn run<S: Isa>(
        &self,
        piece: &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8 {
        let valid = self.0.lanes::<S>(p, at);
        for (v, field) in p.iter().zip(piece.iter_mut()) {
            let v = v.to_array().map(MaybeUninit::new);
            let out = &mut field[off..];
            // A whole group as one store; a part of one out of line.
            match out.first_chunk_mut::<LANES>() {
                Some(out) if count == LANES => *out = v,
                _ => write_part(out, &v[..count]),
            }
        }
        valid
    }
}

/// Writes a group's output into `rows` (its rows, `stride` values each) at the columns
/// `offset..offset + width`: tiles of eight categories transposed back to eight rows
/// when the tiles are whole, a value at a time otherwise. Returns the group's validity.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn into_rows<T: Real, S: Isa>(
    group: &RelaxGroup<'_, T>,
    p: &mut [T::V<S>],
    at: usize,
    count: usize,
    rows: &mut [MaybeUninit<T>],
    stride: usize,
    offset: usize,
) -> u8 {
    let valid = group.lanes::<S>(p, at);
    if count == LANES && p.len() % LANES == 0 {
        for (t, tile) in p.chunks_exact(LANES).enumerate() {
            let first = offset + t * LANES;
            let tile = std::array::from_fn(|c| tile[c]);
            for (l, r) in T::transpose::<S>(tile).iter().enumerate() {
                let start = l * stride + first;
                rows[start..start + LANES].copy_from_slice(&r.to_array().map(MaybeUninit::new));
            }
        }
    } else {
        for (j, v) in p.iter().enumerate() {
            for (l, v) in v.to_array().into_iter().enumerate().take(count) {
                rows[l * stride + offset + j] = MaybeUninit::new(v);
            }
        }
    }
    valid
}

/// Into Array rows: a task's rows.
struct IntoRows<'a, T: Real>(RelaxGroup<'a, T>, usize);

impl<'a, T: Real> Group<T> for IntoRows<'a, T> {
    type Piece = &'a mut [MaybeUninit<T>];
    #[inline(always)]
    fn run<S: Isa>(
        &self,
        piece: &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8 {
        let width = self.1;
        let rows = &mut piece[off * width..(off + count) * width];
        into_rows::<T, S>(&self.0, p, at, count, rows, width, 0)
    }
}

/// Into the spans of matrix rows: every span of a group of rows relaxed, each into its
/// own columns of the output rows and with its own noise. A task's piece is its rows
/// and, for each span, the validity bytes of its groups.
struct IntoSpans<'a, T: Real> {
    spans: Vec<(RelaxGroup<'a, T>, usize)>,
    stride: usize,
}

impl<'a, T: Real> Group<T> for IntoSpans<'a, T> {
    type Piece = (&'a mut [MaybeUninit<T>], Vec<&'a mut [u8]>);
    #[inline(always)]
    fn run<S: Isa>(
        &self,
        (rows, bytes): &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8 {
        let stride = self.stride;
        let rows = &mut rows[off * stride..(off + count) * stride];
        let mut all = u8::MAX;
        for ((group, offset), bytes) in self.spans.iter().zip(bytes.iter_mut()) {
            let p = &mut p[..group.source.width()];
            let valid = into_rows::<T, S>(group, p, at, count, rows, stride, *offset);
            bytes[off / LANES] = valid;
            all &= valid;
        }
        all
    }
}

/// `gumbel_softmax` of every span of an `Array(_, stride)` column's rows, each span with
/// its own noise, into one Array column of the same width in one chunk: a span's output
/// takes its place in the row. The spans cover each row, one after the other; a span
/// of a row that its scores make null is null in that span only.
pub(super) fn relax_spans<T: Real>(
    s: &Series,
    spans: &[(Range<usize>, Noise)],
    activations: &[Activation],
    relax: Relax,
    ids: &RowIds,
) -> PolarsResult<Series> {
    let DataType::Array(_, stride) = s.dtype() else {
        polars_bail!(InvalidOperation: "expected an Array column, got {} (column '{}')", s.dtype(), s.name());
    };
    let (stride, len) = (*stride, s.len());
    let mut next = 0;
    for (span, _) in spans {
        polars_ensure!(
            span.start == next && span.end > span.start,
            InvalidOperation: "the spans must cover each row one after the other: got {}..{} after {}",
            span.start, span.end, next
        );
        next = span.end;
    }
    polars_ensure!(
        next == stride,
        InvalidOperation: "the spans cover {} scores, but the rows of column '{}' have {}",
        next, s.name(), stride
    );
    check_span_widths(spans.iter().map(|(span, _)| span.len()))?;
    // Read once as one chunk of `T`; every span is then a view of it.
    let s = array_of::<T>(s)?;
    let views = spans
        .iter()
        .map(|(span, _)| array_rows::<T>(&s, Some(span.clone())))
        .collect::<PolarsResult<Vec<_>>>()?;
    let sources: Vec<Fixed<'_, T>> = views.iter().map(|(rows, _)| Fixed::Rows(rows)).collect();
    let groups = sources
        .iter()
        .zip(spans)
        .map(|(source, (span, noise))| {
            let group = RelaxGroup {
                source,
                relax,
                noise: Some(noise),
                ids,
                len,
            };
            (group, span.start)
        })
        .collect();
    let widest = spans.iter().map(|(span, _)| span.len()).max().unwrap_or(0);
    let mut bytes: Vec<Vec<u8>> = spans
        .iter()
        .map(|_| vec![0u8; len.div_ceil(LANES)])
        .collect();
    let mut span_bytes: Vec<Vec<&mut [u8]>> = (0..tasks(len)).map(|_| Vec::new()).collect();
    for b in bytes.iter_mut() {
        for (t, piece) in row_pieces(b, len, |r| r.div_ceil(LANES))
            .into_iter()
            .enumerate()
        {
            span_bytes[t].push(piece);
        }
    }
    let group = IntoSpans {
        spans: groups,
        stride,
    };
    // One buffer for the whole output, each value written once by the spans' groups.
    let (mut out, ()) = fresh(len * stride, unwritten::<T>(), |spare| {
        let pieces = row_pieces(spare, len, |r| r * stride)
            .into_iter()
            .zip(span_bytes)
            .collect();
        for_groups(len, widest, pieces, &group);
    });
    drop(group);
    drop(sources);
    // A scalar span's activation, in place of the softmax of its block of one.
    for ((span, _), (&activation, (rows, _))) in spans.iter().zip(activations.iter().zip(&views)) {
        if activation == Activation::Softmax {
            continue;
        }
        for (r, row) in out.chunks_exact_mut(stride).enumerate() {
            row[span.start] = activation.apply(rows.at(r, 0));
        }
    }
    // Each span's rows that are null: unset in that span's columns.
    let mut inner: Option<MutableBitmap> = None;
    for ((span, _), (bytes, (_, input))) in spans.iter().zip(bytes.into_iter().zip(views)) {
        let Some(valid) = validity(bytes, len, input) else {
            continue;
        };
        let inner = inner.get_or_insert_with(|| MutableBitmap::from_len_set(len * stride));
        for r in (0..len).filter(|&r| !valid.get_bit(r)) {
            (r * stride + span.start..r * stride + span.end).for_each(|k| inner.set(k, false));
        }
    }
    let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, out);
    let values = match inner {
        None => values.into_series(),
        Some(inner) => values.with_validity(Some(inner.into())).into_series(),
    };
    let outer = s.array()?.downcast_as_array().validity().cloned();
    array_from_flat(s.name().clone(), values, stride, len, outer)
}

/// Gumbel-max draws of fixed-width rows, into each row's index.
pub(super) struct SampleGroup<'a, T: Real, F> {
    pub(super) source: &'a F,
    pub(super) s: T,
    pub(super) noise: &'a Noise,
    pub(super) ids: &'a RowIds,
    pub(super) len: usize,
}

impl<'a, T: Real, F: LaneSource<T>> Group<T> for SampleGroup<'a, T, F> {
    type Piece = &'a mut [u32];
    #[inline(always)]
    fn run<S: Isa>(
        &self,
        piece: &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8 {
        self.source.fill::<S>(at, self.len, p);
        let rows = self.ids.lanes(at, self.len);
        let (_, idx, valid) = perturb_lanes::<T, S>(self.noise, &rows, Lane::splat(self.s), p);
        let idx = idx.to_array();
        for (o, i) in piece[off..off + count].iter_mut().zip(idx) {
            *o = i.widen() as u32;
        }
        valid
    }
}

/// Gumbel-max draws of every span of matrix rows: each span's [`SampleGroup`] on a
/// group of rows before the next group. A task's piece is, for each span, its indices
/// and the validity bytes of its groups.
struct SampleSpans<'a, T: Real>(Vec<SampleGroup<'a, T, Fixed<'a, T>>>);

impl<'a, T: Real> Group<T> for SampleSpans<'a, T> {
    type Piece = Vec<(&'a mut [u32], &'a mut [u8])>;
    #[inline(always)]
    fn run<S: Isa>(
        &self,
        piece: &mut Self::Piece,
        p: &mut [T::V<S>],
        at: usize,
        off: usize,
        count: usize,
    ) -> u8 {
        let mut all = u8::MAX;
        for (group, (idx, bytes)) in self.0.iter().zip(piece.iter_mut()) {
            let p = &mut p[..group.source.width()];
            let valid = group.run::<S>(idx, p, at, off, count);
            bytes[off / LANES] = valid;
            all &= valid;
        }
        all
    }
}

/// Every span's Gumbel-max draw from `softmax(scores / tau)` for every row (see
/// [`super::sample_spans`]).
pub(super) fn sample_spans<T: Real>(
    len: usize,
    rows: &[Strided<'_, T>],
    validity: Vec<Option<Bitmap>>,
    s: T,
    noises: &[Noise],
    ids: &RowIds,
) -> PolarsResult<Vec<(Vec<u32>, Option<Bitmap>)>> {
    check_span_widths(rows.iter().map(|r| r.width))?;
    let sources: Vec<Fixed<'_, T>> = rows.iter().map(Fixed::Rows).collect();
    let groups = sources
        .iter()
        .zip(noises)
        .map(|(source, noise)| SampleGroup {
            source,
            s,
            noise,
            ids,
            len,
        })
        .collect();
    let mut out = choice_buffers(rows.len(), len);
    let widest = rows.iter().map(|r| r.width).max().unwrap_or(0);
    for_groups(
        len,
        widest,
        choice_pieces(&mut out, len),
        &SampleSpans(groups),
    );
    Ok(out
        .into_iter()
        .zip(validity)
        .map(|((idx, bytes), input)| (idx, super::lanes::validity(bytes, len, input)))
        .collect())
}

/// `gumbel_softmax` of a Struct or Array block (`softmax` with no `noise`).
pub(super) fn relax_fixed<T: Real>(
    s: &Series,
    source: &Fixed<'_, T>,
    input_validity: Option<Bitmap>,
    relax: Relax,
    noise: Option<&Noise>,
    ids: &RowIds,
) -> PolarsResult<Series> {
    let (len, width, name) = (s.len(), source.width(), s.name().clone());
    let group = RelaxGroup {
        source,
        relax,
        noise,
        ids,
        len,
    };
    match (source, s.dtype()) {
        (Fixed::Fields(_), DataType::Struct(fields)) => {
            let mut out: Vec<Vec<T>> = (0..width).map(|_| Vec::new()).collect();
            let found = fill_spares(&mut out, len, unwritten::<T>(), |columns| {
                let pieces = column_pieces(columns, len);
                for_groups(len, width, pieces, &IntoFields(group)).0
            });
            let columns = out
                .into_iter()
                .zip(fields)
                .map(|(values, f)| {
                    ChunkedArray::<T::Polars>::from_vec(f.name().clone(), values).into_series()
                })
                .collect();
            struct_from_fields(name, len, columns, validity(found, len, input_validity))
        }
        _ => {
            // One chunk of output per task (see `array_from_pieces`).
            let sizes: Vec<usize> = (0..tasks(len))
                .map(|t| (len - t * ROWS_PER_TASK).min(ROWS_PER_TASK) * width)
                .collect();
            let mut pieces: Vec<Vec<T>> = sizes.iter().map(|_| Vec::new()).collect();
            let found = fill_sized(&mut pieces, &sizes, unwritten::<T>(), |spares| {
                for_groups(len, width, spares, &IntoRows(group, width)).0
            });
            array_from_pieces(name, pieces, width, validity(found, len, input_validity))
        }
    }
}

#[cfg(test)]
mod tests {
    /// The pairs of `f32` the test runs: 4,000,000 of random bits (every exponent,
    /// subnormals, infinities and NaN), then 2,000,000 with the larger in any binade,
    /// a power of two one time in four, and the smaller any number of binades below it,
    /// down into the subnormals.
    fn pairs() -> Vec<(f32, f32)> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        // SplitMix64.
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            crate::rng::mix64(state)
        };
        let mut pairs = Vec::with_capacity(6_000_000);
        for _ in 0..4_000_000 {
            let w = next();
            pairs.push((f32::from_bits(w as u32), f32::from_bits((w >> 32) as u32)));
        }
        // A float in [1, 2) from 23 bits.
        let significand = |w: u64| 1.0 + (w & 0x7F_FFFF) as f64 / 8_388_608.0;
        for _ in 0..500_000 {
            let w = next();
            // Binades −126..=127 for the larger, 0..=its own + 149 below it for the
            // smaller, which `as f32` rounds into the subnormals at the end.
            let top = (w >> 48) as i32 % 254 - 126;
            let gap = (w >> 32 & 0xFFFF) as i32 % (top + 150);
            let big = if w >> 46 & 3 == 0 {
                1.0
            } else {
                significand(w)
            };
            let big = (big * 2f64.powi(top)) as f32;
            let small = (significand(w >> 23) * 2f64.powi(top - gap)) as f32;
            pairs.extend([(small, big), (-small, big), (small, -big), (-big, small)]);
        }
        pairs
    }

    /// `x − max` in `f32` is the same bits as the difference formed in `f64` and rounded
    /// to `f32` (as `log_softmax` at tau = 1 takes it): it is exact in `f64` when the
    /// two are at most 28 binades apart, and otherwise the smaller is far below half the
    /// spacing of the floats next to the larger, so both roundings give the larger.
    /// Infinities, overflow and NaN (to the bit) agree as well. The layouts' test at
    /// tau = 1 checks the kernels themselves against the List path, which forms the
    /// difference in `f64`.
    #[test]
    fn a_difference_of_two_f32_rounds_once() {
        for (x, max) in pairs() {
            let direct = x - max;
            let through = (f64::from(x) - f64::from(max)) as f32;
            assert!(
                direct.to_bits() == through.to_bits(),
                "{x:e} - {max:e}: {direct:e} in f32, {through:e} through f64"
            );
        }
    }
}
