//! The indicator writers of one-hot blocks (`one_hot`'s, and a numeric column's mode
//! block): fields compared against slots or codes (Struct), or a one per row into
//! zeroed rows (Array), in parallel tasks.

use std::mem::MaybeUninit;

use polars::prelude::*;

use crate::dispatch::IndicatorDtype;
use crate::par::{column_pieces, fill_spares, fresh, par_tasks, row_pieces, ROWS_PER_TASK};

/// A value type of indicator fields: 1 for true and 0 for false.
pub trait Indicator: Copy + Send + Sync + PartialEq + std::fmt::Debug {
    /// A value no indicator takes, which marks a value not yet written in debug builds.
    const POISON: Self;
    fn indicator(on: bool) -> Self;
    /// A scalar feature's value (a numeric column's, in a float matrix).
    fn scalar(value: f64) -> Self;
}

impl Indicator for u8 {
    const POISON: Self = 2;
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        u8::from(on)
    }
    #[inline(always)]
    fn scalar(value: f64) -> Self {
        value as u8
    }
}

impl Indicator for f32 {
    const POISON: Self = 2.0;
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        f32::from(u8::from(on))
    }
    #[inline(always)]
    fn scalar(value: f64) -> Self {
        value as f32
    }
}

impl Indicator for f64 {
    const POISON: Self = 2.0;
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        f64::from(u8::from(on))
    }
    #[inline(always)]
    fn scalar(value: f64) -> Self {
        value
    }
}

/// Indicators are written as UInt8 for a Boolean output, then packed into bits.
pub fn as_dtype(s: Series, dtype: IndicatorDtype) -> PolarsResult<Series> {
    match dtype {
        IndicatorDtype::Boolean => s.cast(&DataType::Boolean),
        IndicatorDtype::UInt8 | IndicatorDtype::Float32 | IndicatorDtype::Float64 => Ok(s),
    }
}

/// One indicator column per field, `col[j][row] = (slots[row] == j)`. Fewer than 255
/// fields are compared on slots narrowed to one byte, four times fewer bytes to read
/// once per field.
pub fn indicator_columns<P>(slots: &[u32], width: usize) -> Vec<Series>
where
    P: PolarsNumericType,
    P::Native: Indicator,
{
    if width < usize::from(u8::MAX) {
        let mut narrow = vec![u8::MAX; slots.len()];
        par_tasks(
            row_pieces(&mut narrow, slots.len(), |r| r),
            #[inline(always)]
            |task, out| {
                let slots = &slots[task * ROWS_PER_TASK..];
                for (o, &s) in out.iter_mut().zip(slots) {
                    *o = u8::try_from(s).unwrap_or(u8::MAX);
                }
            },
        );
        let code_of: Vec<Option<u8>> = (0..width as u8).map(Some).collect();
        return compare_columns::<P, u8>(&narrow, &code_of);
    }
    let code_of: Vec<Option<u32>> = (0..width as u32).map(Some).collect();
    compare_columns::<P, u32>(slots, &code_of)
}

/// Indicator columns by comparing codes: `col[j][row] = (codes[row] == code_of[j])`, a
/// compare and a select per value, which vectorise; a field without a code is all zeros.
pub fn compare_columns<P, T>(codes: &[T], code_of: &[Option<T>]) -> Vec<Series>
where
    P: PolarsNumericType,
    P::Native: Indicator,
    T: Copy + PartialEq + Sync,
{
    par_columns::<P>(codes.len(), code_of.len(), |j, start, out| {
        match code_of[j] {
            Some(c) => {
                for (o, &code) in out.iter_mut().zip(&codes[start..]) {
                    o.write(P::Native::indicator(code == c));
                }
            }
            None => out.fill(MaybeUninit::new(P::Native::indicator(false))),
        }
    })
}

/// `width` columns of `n` values, filled in parallel: each task calls
/// `fill(j, start, out)` for its rows `start..start + out.len()` of every column `j`
/// in turn, and `fill` writes every value of `out`.
fn par_columns<P>(
    n: usize,
    width: usize,
    fill: impl Fn(usize, usize, &mut [MaybeUninit<P::Native>]) + Sync,
) -> Vec<Series>
where
    P: PolarsNumericType,
    P::Native: Indicator,
{
    let mut columns: Vec<Vec<P::Native>> = (0..width).map(|_| Vec::new()).collect();
    fill_spares(&mut columns, n, P::Native::POISON, |spares| {
        par_tasks(
            column_pieces(spares, n),
            #[inline(always)]
            |task, pieces| {
                for (j, piece) in pieces.into_iter().enumerate() {
                    fill(j, task * ROWS_PER_TASK, piece);
                }
            },
        )
    });
    columns
        .into_iter()
        .map(|c| ChunkedArray::<P>::from_vec(PlSmallStr::EMPTY, c).into_series())
        .collect()
}

/// A scalar feature of a block: its place in the block, and every row's value.
pub struct Scalar {
    pub at: usize,
    pub values: Vec<f64>,
}

/// One block's slots, and where its fields start in a row of indicators; a numeric
/// block's scalars too.
pub struct SlotBlock<'a> {
    pub slots: &'a [u32],
    pub offset: usize,
    pub width: usize,
    pub scalars: &'a [Scalar],
}

/// Row-major indicators, `len` rows of `stride` values: for every block,
/// `out[row * stride + offset + slot] = one` where its slot is a field. One block of
/// `stride` fields is an Array block; several side by side, the codec's matrix. Each
/// task writes its rows once, every block of a row before the next row.
pub fn indicator_rows<P>(blocks: &[SlotBlock<'_>], stride: usize, len: usize) -> Series
where
    P: PolarsNumericType,
    P::Native: Indicator,
{
    let (zero, one) = (P::Native::indicator(false), P::Native::indicator(true));
    let (out, ()) = fresh(len * stride, P::Native::POISON, |spare| {
        if stride == 0 {
            return;
        }
        par_tasks(
            row_pieces(spare, len, |r| r * stride),
            #[inline(always)]
            |task, out| {
                let first = task * ROWS_PER_TASK;
                for (i, row) in out.chunks_exact_mut(stride).enumerate() {
                    row.fill(MaybeUninit::new(zero));
                    for b in blocks {
                        let slot = b.slots[first + i] as usize;
                        if slot < b.width {
                            row[b.offset + slot] = MaybeUninit::new(one);
                        }
                        for scalar in b.scalars {
                            let value = P::Native::scalar(scalar.values[first + i]);
                            row[b.offset + scalar.at] = MaybeUninit::new(value);
                        }
                    }
                }
            },
        );
    });
    ChunkedArray::<P>::from_vec(PlSmallStr::EMPTY, out).into_series()
}
