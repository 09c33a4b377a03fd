//! Score blocks: one categorical variable's K scores per row, stored as a Struct of K
//! numeric fields, an `Array(numeric, K)` or a `List(numeric)`.
//!
//! [`Blocks::read`] turns any of the three into one row-major buffer (borrowed when the
//! column already is one), a row → range map and a row validity; kernels then work on
//! plain `&[T]` rows, in parallel on Polars' thread pool, and [`Blocks::rebuild`] puts a
//! result back into the layout the scores came in.

use std::borrow::Cow;

use polars::prelude::*;
use polars_arrow::array::{Array, FixedSizeListArray, ListArray, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::offset::OffsetsBuffer;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::argmax::{argmax_lanes, lanes_of, LANES};
use crate::layout::{array_from_flat, struct_from_fields};
pub use crate::real::Real;
use crate::simd::with_best_simd;

/// How far ahead a Struct field is fetched while its rows are read eight at a time.
const PREFETCH_ROWS: usize = 64;

/// Rows handed to one task of the thread pool.
pub(crate) const ROWS_PER_TASK: usize = 16 * 1024;

/// Where the rows came from, to rebuild the same layout.
#[derive(Clone, Debug)]
pub enum Shape {
    Struct(Vec<PlSmallStr>),
    Array(usize),
    List,
}

/// The scores of one column as row-major values.
pub struct Blocks<'a, T: Real> {
    pub name: PlSmallStr,
    pub shape: Shape,
    /// All rows' scores, row after row.
    pub values: Cow<'a, [T]>,
    /// Row `i` is `values[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<usize>,
    /// `false` for a null row, or a row holding a null score.
    pub validity: Option<Bitmap>,
}

/// The float dtype a score column is computed in, or an error naming what was found.
/// Booleans (one-hot indicators) count as numbers 0 and 1.
pub fn compute_dtype(dtype: &DataType, expr: &str) -> PolarsResult<DataType> {
    let inner: Vec<&DataType> = match dtype {
        DataType::Struct(fields) => fields.iter().map(|f| f.dtype()).collect(),
        DataType::Array(inner, _) | DataType::List(inner) => vec![inner.as_ref()],
        other => polars_bail!(
            InvalidOperation: "{} expects a Struct of numeric fields, an Array or a List of \
            numbers, got {}", expr, other
        ),
    };
    // The score dtypes every kernel reads: not Float16 nor the 128-bit integers (which
    // this build cannot cast), nor Decimal or nested values. Null scores (as in
    // `[[]]`, a List of no known dtype) make null rows.
    let readable = |d: &DataType| {
        matches!(
            d,
            DataType::Null
                | DataType::Boolean
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float32
                | DataType::Float64
        )
    };
    if let Some(bad) = inner.iter().find(|d| !readable(d)) {
        polars_bail!(
            InvalidOperation: "{} expects numeric scores, got {} inside {}: scores are Boolean, \
            integers of up to 64 bits, Float32 or Float64", expr, bad, dtype
        );
    }
    let all_f32 = !inner.is_empty() && inner.iter().all(|d| **d == DataType::Float32);
    Ok(if all_f32 {
        DataType::Float32
    } else {
        DataType::Float64
    })
}

/// The same block layout with values of `value_dtype`.
pub fn block_dtype(dtype: &DataType, value_dtype: &DataType) -> DataType {
    match dtype {
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Field::new(f.name().clone(), value_dtype.clone()))
                .collect(),
        ),
        DataType::Array(_, width) => DataType::Array(Box::new(value_dtype.clone()), *width),
        _ => DataType::List(Box::new(value_dtype.clone())),
    }
}

fn contiguous<T: Real>(s: &Series) -> PolarsResult<Cow<'_, [T]>> {
    let target = T::Polars::get_static_dtype();
    if s.dtype() == &target && s.n_chunks() == 1 {
        let ca: &ChunkedArray<T::Polars> = s.as_ref().as_ref();
        if let Ok(values) = ca.cont_slice() {
            return Ok(Cow::Borrowed(values));
        }
    }
    let cast = s.cast(&target)?.rechunk();
    let ca: &ChunkedArray<T::Polars> = cast.as_ref().as_ref();
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        out.extend_from_slice(arr.values());
    }
    Ok(Cow::Owned(out))
}

pub(crate) fn and_validity(a: Option<Bitmap>, b: Option<&Bitmap>) -> Option<Bitmap> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b.clone()),
        (Some(a), Some(b)) => Some(&a & b),
    }
}

fn outer_validity(s: &Series) -> Option<Bitmap> {
    (s.null_count() > 0).then(|| {
        s.is_not_null()
            .rechunk()
            .downcast_as_array()
            .values()
            .clone()
    })
}

impl<'a, T: Real> Blocks<'a, T> {
    /// Reads a score column; `expr` names the expression in error messages.
    pub fn read(s: &'a Series, expr: &str) -> PolarsResult<Self> {
        let name = s.name().clone();
        let len = s.len();
        match s.dtype() {
            DataType::Struct(_) => {
                let fields = s.struct_()?.fields_as_series();
                let names = fields.iter().map(|f| f.name().clone()).collect();
                let width = fields.len();
                let (columns, validity) = struct_columns::<T>(s, &fields)?;
                let values = if width == 0 {
                    Vec::new()
                } else {
                    transpose_in(&columns, len)
                };
                Ok(Self {
                    name,
                    shape: Shape::Struct(names),
                    values: Cow::Owned(values),
                    offsets: (0..=len).map(|i| i * width).collect(),
                    validity,
                })
            }
            DataType::Array(_, width) => {
                let ca = s.array()?;
                if ca.chunks().len() == 1 {
                    Self::from_fixed(name, ca.downcast_as_array(), *width)
                } else {
                    let ca = ca.rechunk();
                    Ok(Blocks::from_fixed(name, ca.downcast_as_array(), *width)?.into_owned())
                }
            }
            DataType::List(_) => {
                let ca = s.list()?;
                if ca.chunks().len() == 1 {
                    Self::from_list(name, ca.downcast_as_array())
                } else {
                    let ca = ca.rechunk();
                    Ok(Blocks::from_list(name, ca.downcast_as_array())?.into_owned())
                }
            }
            other => polars_bail!(
                InvalidOperation: "{} expects a Struct of numeric fields, an Array or a List of \
                numbers, got {}", expr, other
            ),
        }
    }

    fn from_fixed(
        name: PlSmallStr,
        arr: &'a FixedSizeListArray,
        width: usize,
    ) -> PolarsResult<Self> {
        let len = arr.len();
        let offsets: Vec<usize> = (0..=len).map(|i| i * width).collect();
        let values = arr.values().as_ref();
        let validity = and_validity(
            arr.validity().cloned(),
            inner_null_rows(values, &offsets).as_ref(),
        );
        Ok(Self {
            name,
            shape: Shape::Array(width),
            values: primitive_values(values)?,
            offsets,
            validity,
        })
    }

    fn from_list(name: PlSmallStr, arr: &'a ListArray<i64>) -> PolarsResult<Self> {
        let raw = arr.offsets().as_slice();
        let first = raw.first().copied().unwrap_or(0) as usize;
        let last = raw.last().copied().unwrap_or(0) as usize;
        let offsets: Vec<usize> = raw.iter().map(|&o| o as usize - first).collect();
        let values = primitive_values::<T>(arr.values().as_ref())?;
        let values = match values {
            Cow::Borrowed(v) => Cow::Borrowed(&v[first..last]),
            Cow::Owned(v) => Cow::Owned(v[first..last].to_vec()),
        };
        let inner = arr.values().sliced(first, last - first);
        let validity = and_validity(
            arr.validity().cloned(),
            inner_null_rows(inner.as_ref(), &offsets).as_ref(),
        );
        Ok(Self {
            name,
            shape: Shape::List,
            values,
            offsets,
            validity,
        })
    }

    fn into_owned(self) -> Blocks<'static, T> {
        Blocks {
            name: self.name,
            shape: self.shape,
            values: Cow::Owned(self.values.into_owned()),
            offsets: self.offsets,
            validity: self.validity,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_valid(&self, row: usize) -> bool {
        self.validity.as_ref().is_none_or(|v| v.get_bit(row))
    }

    /// Number of categories in each row when every row has the same number.
    pub fn width(&self) -> Option<usize> {
        match self.shape {
            Shape::Struct(ref names) => Some(names.len()),
            Shape::Array(w) => Some(w),
            Shape::List => None,
        }
    }

    /// Runs `kernel(row, scores, out)` on every valid row, writing a block of the same
    /// shape; a row for which the kernel returns `false` becomes null.
    pub fn map_blocks<F>(&self, kernel: F) -> PolarsResult<Series>
    where
        F: Fn(usize, &[T], &mut [T]) -> bool + Sync,
    {
        let mut out = vec![T::ZERO; self.values.len()];
        let valid = self.par_rows(&mut out, kernel);
        self.rebuild(out, valid)
    }

    /// Runs `kernel(row, scores)` on every valid row; `None` becomes a null.
    pub fn map_rows<U, F>(&self, kernel: F) -> (Vec<U>, Option<Bitmap>)
    where
        U: Copy + Default + Send + Sync,
        F: Fn(usize, &[T]) -> Option<U> + Sync,
    {
        let len = self.len();
        let fixed = self.width();
        let mut out = vec![U::default(); len];
        let mut valid = vec![true; len];
        THREAD_POOL.install(|| {
            out.par_chunks_mut(ROWS_PER_TASK)
                .zip(valid.par_chunks_mut(ROWS_PER_TASK))
                .enumerate()
                .for_each(|(task, (out, valid))| {
                    with_best_simd(
                        #[inline(always)]
                        || {
                            let start = task * ROWS_PER_TASK;
                            for (i, (o, v)) in out.iter_mut().zip(valid.iter_mut()).enumerate() {
                                let row = start + i;
                                let (lo, hi) = match fixed {
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
                    )
                })
        });
        (out, to_bitmap(valid))
    }

    fn par_rows<F>(&self, out: &mut [T], kernel: F) -> Option<Bitmap>
    where
        F: Fn(usize, &[T], &mut [T]) -> bool + Sync,
    {
        let len = self.len();
        let mut pieces = Vec::with_capacity(len / ROWS_PER_TASK + 1);
        let mut rest = out;
        let mut start = 0;
        while start < len {
            let end = (start + ROWS_PER_TASK).min(len);
            let (piece, tail) = rest.split_at_mut(self.offsets[end] - self.offsets[start]);
            pieces.push((start, end, piece));
            rest = tail;
            start = end;
        }
        let mut valid = vec![true; len];
        let mut valid_pieces: Vec<&mut [bool]> = valid.chunks_mut(ROWS_PER_TASK).collect();
        THREAD_POOL.install(|| {
            pieces
                .into_par_iter()
                .zip(valid_pieces.par_iter_mut())
                .for_each(|((start, end, piece), valid)| {
                    with_best_simd(
                        #[inline(always)]
                        || {
                            let base = self.offsets[start];
                            for row in start..end {
                                let (lo, hi) = (self.offsets[row], self.offsets[row + 1]);
                                valid[row - start] = self.is_valid(row)
                                    && kernel(
                                        row,
                                        &self.values[lo..hi],
                                        &mut piece[lo - base..hi - base],
                                    );
                            }
                        },
                    )
                })
        });
        to_bitmap(valid)
    }

    /// A column of the input's layout holding `values` (row-major, same offsets).
    pub fn rebuild(&self, values: Vec<T>, validity: Option<Bitmap>) -> PolarsResult<Series> {
        let len = self.len();
        match &self.shape {
            Shape::Array(width) => {
                let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, values);
                array_from_flat(
                    self.name.clone(),
                    values.into_series(),
                    *width,
                    len,
                    validity,
                )
            }
            Shape::List => {
                let offsets: Vec<i64> = self.offsets.iter().map(|&o| o as i64).collect();
                // SAFETY: the offsets were read from a valid list array and only rebased.
                let offsets = unsafe { OffsetsBuffer::new_unchecked(offsets.into()) };
                let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, values);
                let values = values.rechunk().downcast_as_array().clone().boxed();
                let dtype = ListArray::<i64>::default_datatype(values.dtype().clone());
                let arr = ListArray::<i64>::try_new(dtype, offsets, values, validity)?;
                Ok(ListChunked::with_chunk(self.name.clone(), arr).into_series())
            }
            Shape::Struct(names) => {
                let width = names.len();
                let fields = THREAD_POOL.install(|| {
                    (0..width)
                        .into_par_iter()
                        .map(|j| {
                            let col: Vec<T> =
                                values.iter().skip(j).step_by(width).copied().collect();
                            ChunkedArray::<T::Polars>::from_vec(names[j].clone(), col).into_series()
                        })
                        .collect()
                });
                struct_from_fields(self.name.clone(), len, fields, validity)
            }
        }
    }
}

/// Each field of a Struct block as one contiguous column.
pub(crate) type Columns<'b, T> = Vec<Cow<'b, [T]>>;

/// The fields of a Struct block as contiguous `T` columns, and the row validity: `false`
/// for a null row or a null in any field.
pub(crate) fn struct_columns<'b, T: Real>(
    s: &Series,
    fields: &'b [Series],
) -> PolarsResult<(Columns<'b, T>, Option<Bitmap>)> {
    let mut validity = outer_validity(s);
    let columns = fields
        .iter()
        .map(|f| {
            validity = and_validity(validity.take(), outer_validity(f).as_ref());
            contiguous::<T>(f)
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok((columns, validity))
}

/// The index of every row's largest score, lowest on ties, for the fixed-width layouts,
/// [`LANES`] rows at a time (see [`argmax_lanes`]): Struct fields are read in place,
/// Array rows with a stride. The path of `argmax` and argmax `decode`; `None` for List
/// blocks, whose rows vary in width.
pub fn fixed_width_argmax<T: Real>(
    s: &Series,
    expr: &str,
    zero_is_null: bool,
) -> PolarsResult<Option<(Vec<u32>, Option<Bitmap>)>> {
    Ok(match s.dtype() {
        DataType::Struct(fields) => {
            let width = fields.len();
            let fields = s.struct_()?.fields_as_series();
            let (columns, validity) = struct_columns::<T>(s, &fields)?;
            Some(lanes_argmax(
                s.len(),
                width,
                validity,
                zero_is_null,
                #[inline(always)]
                |row, j| {
                    let column = &columns[j];
                    // Many fields are read side by side: fetch each a little ahead, into
                    // L2 (into L1 the many lines in flight evict each other).
                    #[cfg(target_arch = "x86_64")]
                    if let Some(ahead) = column.get(row + PREFETCH_ROWS) {
                        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
                        // SAFETY: a prefetch of an address inside the column.
                        unsafe { _mm_prefetch::<_MM_HINT_T1>((ahead as *const T).cast()) }
                    }
                    column[row..row + LANES]
                        .try_into()
                        .unwrap_or([T::ZERO; LANES])
                },
                #[inline(always)]
                |row, j| columns[j][row],
            ))
        }
        // Long rows are faster row by row, where their scores are contiguous.
        DataType::Array(_, width) if *width < 2 * LANES => {
            let width = *width;
            let b = Blocks::<T>::read(s, expr)?;
            let values = &b.values[..];
            assert!(values.len() >= b.len() * width);
            Some(lanes_argmax(
                b.len(),
                width,
                b.validity,
                zero_is_null,
                #[inline(always)]
                // SAFETY: `lanes_argmax` reads rows `row..row + LANES` below `b.len()`
                // and categories below `width`: inside `values` (asserted above).
                |row, j| lanes_of(|l| unsafe { *values.get_unchecked((row + l) * width + j) }),
                #[inline(always)]
                |row, j| values[row * width + j],
            ))
        }
        _ => None,
    })
}

/// Runs [`argmax_lanes`] over every group of [`LANES`] rows, in parallel; `lanes(row, j)`
/// reads category `j` of rows `row..row + LANES`, `one(row, j)` that of one row (for
/// the rows left over). Both are called only with rows below `len` and categories
/// below `width`. A group's rows are one byte of the validity bitmap, written as
/// the kernel gives it, then combined with the input's `validity`.
fn lanes_argmax<T, L, O>(
    len: usize,
    width: usize,
    validity: Option<Bitmap>,
    zero_is_null: bool,
    lanes: L,
    one: O,
) -> (Vec<u32>, Option<Bitmap>)
where
    T: Real,
    L: Fn(usize, usize) -> [T; LANES] + Sync,
    O: Fn(usize, usize) -> T + Sync,
{
    const { assert!(ROWS_PER_TASK % LANES == 0 && LANES == 8) };
    let mut idx = vec![0u32; len];
    let mut found = vec![0u8; len.div_ceil(LANES)];
    THREAD_POOL.install(|| {
        idx.par_chunks_mut(ROWS_PER_TASK)
            .zip(found.par_chunks_mut(ROWS_PER_TASK / LANES))
            .enumerate()
            .for_each(|(task, (idx, found))| {
                with_best_simd(
                    #[inline(always)]
                    || {
                        let start = task * ROWS_PER_TASK;
                        let full = idx.len() / LANES * LANES;
                        let groups = idx.chunks_exact_mut(LANES).zip(found.iter_mut());
                        for (g, (out, mask)) in groups.enumerate() {
                            let at = start + g * LANES;
                            let (i, m) = argmax_lanes(
                                width,
                                zero_is_null,
                                #[inline(always)]
                                |j| lanes(at, j),
                            );
                            out.copy_from_slice(&i);
                            *mask = m;
                        }
                        for at in full..idx.len() {
                            let (i, m) = argmax_lanes(
                                width,
                                zero_is_null,
                                #[inline(always)]
                                |j| [one(start + at, j); LANES],
                            );
                            idx[at] = i[0];
                            found[at / LANES] |= (m & 1) << (at % LANES);
                        }
                    },
                )
            })
    });
    let found = Bitmap::from_u8_vec(found, len);
    let valid = and_validity(Some(found), validity.as_ref()).filter(|v| v.unset_bits() > 0);
    (idx, valid)
}

/// The values of a primitive arrow array as `T`: borrowed when they already are.
fn primitive_values<T: Real>(values: &dyn Array) -> PolarsResult<Cow<'_, [T]>> {
    if let Some(p) = values.as_any().downcast_ref::<PrimitiveArray<T>>() {
        return Ok(Cow::Borrowed(p.values().as_slice()));
    }
    let s = Series::try_from((PlSmallStr::EMPTY, values.to_boxed()))?;
    match contiguous::<T>(&s)? {
        Cow::Borrowed(v) => Ok(Cow::Owned(v.to_vec())),
        Cow::Owned(v) => Ok(Cow::Owned(v)),
    }
}

fn to_bitmap(valid: Vec<bool>) -> Option<Bitmap> {
    valid.contains(&false).then(|| Bitmap::from_iter(valid))
}

/// The scores of an Array block row after row (borrowed when the column already holds
/// them as `T` in one chunk), and its row validity: `false` for a null row or a row
/// holding a null score.
pub(crate) fn array_rows<T: Real>(
    s: &Series,
    width: usize,
) -> PolarsResult<(Cow<'_, [T]>, Option<Bitmap>)> {
    let ca = s.array()?;
    if ca.chunks().len() != 1 {
        let owned = ca.rechunk().into_owned().into_series();
        let (values, validity) = array_rows::<T>(&owned, width)?;
        return Ok((Cow::Owned(values.into_owned()), validity));
    }
    let arr = ca.downcast_as_array();
    let values = arr.values().as_ref();
    let inner = values
        .validity()
        .filter(|_| values.null_count() > 0)
        .map(|nulls| -> Bitmap {
            (0..arr.len())
                .map(|i| (i * width..(i + 1) * width).all(|k| nulls.get_bit(k)))
                .collect()
        });
    let validity = and_validity(arr.validity().cloned(), inner.as_ref());
    Ok((primitive_values(values)?, validity))
}

/// `false` for the rows that hold a null value, when any does.
fn inner_null_rows(values: &dyn Array, offsets: &[usize]) -> Option<Bitmap> {
    let nulls = values.validity().filter(|_| values.null_count() > 0)?;
    Some(
        offsets
            .windows(2)
            .map(|w| (w[0]..w[1]).all(|k| nulls.get_bit(k)))
            .collect(),
    )
}

/// Row-major copy of K columns of `len` values each.
fn transpose_in<T: Real>(columns: &[Cow<'_, [T]>], len: usize) -> Vec<T> {
    let width = columns.len();
    let mut out = vec![T::ZERO; len * width];
    THREAD_POOL.install(|| {
        out.par_chunks_mut(ROWS_PER_TASK * width)
            .enumerate()
            .for_each(|(task, chunk)| {
                let start = task * ROWS_PER_TASK;
                for (j, col) in columns.iter().enumerate() {
                    for (i, row) in chunk.chunks_exact_mut(width).enumerate() {
                        row[j] = col[start + i];
                    }
                }
            })
    });
    out
}
