//! Reading a score column: any layout into [`Blocks`], or a fixed-width block's Struct
//! fields ([`struct_columns`]) or Array rows ([`array_rows`]) as they are stored.
//!
//! Imports [`crate::real`] and [`crate::par`] (the Struct transpose runs in tasks).

use std::borrow::Cow;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::array::{Array, FixedSizeListArray, ListArray, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;

use super::{Blocks, Layout};
use crate::par::{par_tasks, row_pieces, ROWS_PER_TASK};
use crate::real::Real;

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
                    layout: Layout::Struct,
                    fields: names,
                    values: Cow::Owned(values),
                    offsets: (0..=len).map(|i| i * width).collect(),
                    validity,
                    width: Some(width),
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
            layout: Layout::Array,
            fields: Vec::new(),
            values: primitive_values(values)?,
            offsets,
            validity,
            width: Some(width),
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
            layout: Layout::List,
            fields: Vec::new(),
            values,
            offsets,
            validity,
            width: None,
        })
    }

    fn into_owned(self) -> Blocks<'static, T> {
        Blocks {
            name: self.name,
            layout: self.layout,
            fields: self.fields,
            values: Cow::Owned(self.values.into_owned()),
            offsets: self.offsets,
            validity: self.validity,
            width: self.width,
        }
    }
}

/// A numeric column's values as one contiguous `T` slice: borrowed when they already
/// are, cast and copied otherwise.
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

/// Both validities: a row is valid when neither says otherwise.
pub fn and_validity(a: Option<Bitmap>, b: Option<&Bitmap>) -> Option<Bitmap> {
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

/// Each field of a Struct block as one contiguous column.
pub type Columns<'b, T> = Vec<Cow<'b, [T]>>;

/// The fields of a Struct block as contiguous `T` columns, and the row validity: `false`
/// for a null row or a null in any field.
pub fn struct_columns<'b, T: Real>(
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

/// An Array column as one chunk of `T` values: the column itself when it already is.
pub fn array_of<T: Real>(s: &Series) -> PolarsResult<Cow<'_, Series>> {
    let DataType::Array(_, width) = s.dtype() else {
        polars_bail!(InvalidOperation: "expected an Array column, got {} (column '{}')", s.dtype(), s.name());
    };
    let target = DataType::Array(Box::new(T::Polars::get_static_dtype()), *width);
    Ok(if s.dtype() != &target || s.n_chunks() > 1 {
        Cow::Owned(s.cast(&target)?.rechunk())
    } else {
        Cow::Borrowed(s)
    })
}

/// Where a fixed-width block's scores are among an Array column's values: row `r`'s
/// are `values[r * stride + offset..][..width]`. A whole Array block has `stride ==
/// width` and `offset == 0`; one variable's span of the codec's matrix (every
/// variable's scores side by side in one row) is read in place, with the matrix's
/// width as the stride.
pub struct Strided<'a, T: Clone> {
    pub values: Cow<'a, [T]>,
    pub stride: usize,
    pub offset: usize,
    pub width: usize,
}

impl<T: Copy> Strided<'_, T> {
    /// Category `j` of row `r`.
    #[inline(always)]
    pub fn at(&self, r: usize, j: usize) -> T {
        self.values[r * self.stride + self.offset + j]
    }

    /// Category `j` of rows `r..r + LANES`, in the hottest loops: unchecked loads.
    ///
    /// # Safety
    /// The rows must be below `rows` and `j` below `width`, with `rows` the number of
    /// rows the values were read for: `array_rows` checks that every such index is
    /// inside `values`.
    #[inline(always)]
    pub unsafe fn lanes_unchecked<const LANES: usize>(&self, r: usize, j: usize) -> [T; LANES] {
        let base = r * self.stride + self.offset + j;
        // SAFETY: as the caller promises, every index is that of a value read.
        std::array::from_fn(|l| unsafe { *self.values.get_unchecked(base + l * self.stride) })
    }

    /// The scores of row `r`.
    #[inline(always)]
    pub fn row(&self, r: usize) -> &[T] {
        let at = r * self.stride + self.offset;
        &self.values[at..at + self.width]
    }
}

/// The scores of an Array block as they are stored (borrowed when the column already
/// holds them as `T` in one chunk), either every score of a row or the columns `span`
/// of it, and the validity of those rows: `false` for a null row or a null score among
/// the ones read.
pub fn array_rows<T: Real>(
    s: &Series,
    span: Option<Range<usize>>,
) -> PolarsResult<(Strided<'_, T>, Option<Bitmap>)> {
    let DataType::Array(_, stride) = s.dtype() else {
        polars_bail!(InvalidOperation: "expected an Array column, got {} (column '{}')", s.dtype(), s.name());
    };
    let stride = *stride;
    let span = span.unwrap_or(0..stride);
    polars_ensure!(
        span.start <= span.end && span.end <= stride,
        InvalidOperation: "the scores {}..{} are not within the {} scores of each row of column '{}'",
        span.start, span.end, stride, s.name()
    );
    let ca = s.array()?;
    if ca.chunks().len() != 1 {
        let owned = ca.rechunk().into_owned().into_series();
        let (rows, validity) = array_rows::<T>(&owned, Some(span))?;
        let rows = Strided {
            values: Cow::Owned(rows.values.into_owned()),
            ..rows
        };
        return Ok((rows, validity));
    }
    let arr = ca.downcast_as_array();
    let values = arr.values().as_ref();
    let inner = null_rows(values, arr.len(), |r| {
        r * stride + span.start..r * stride + span.end
    });
    let validity = and_validity(arr.validity().cloned(), inner.as_ref());
    let rows = Strided {
        values: primitive_values(values)?,
        stride,
        offset: span.start,
        width: span.end - span.start,
    };
    // What `lanes_unchecked` relies on: every row's span lies inside the values.
    polars_ensure!(
        arr.len() == 0 || rows.values.len() >= (arr.len() - 1) * stride + span.end,
        ComputeError: "an Array of {} rows of {} holds only {} values", arr.len(), stride, rows.values.len()
    );
    Ok((rows, validity))
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

/// `false` for the rows that hold a null value, when any does.
fn inner_null_rows(values: &dyn Array, offsets: &[usize]) -> Option<Bitmap> {
    null_rows(values, offsets.len() - 1, |r| offsets[r]..offsets[r + 1])
}

/// `false` for the rows `r < len` whose values `range(r)` hold a null, when any does.
fn null_rows(
    values: &dyn Array,
    len: usize,
    range: impl Fn(usize) -> Range<usize>,
) -> Option<Bitmap> {
    let nulls = values.validity().filter(|_| values.null_count() > 0)?;
    let rows: Bitmap = (0..len)
        .map(|r| range(r).all(|k| nulls.get_bit(k)))
        .collect();
    (rows.unset_bits() > 0).then_some(rows)
}

/// Row-major copy of K columns of `len` values each.
fn transpose_in<T: Real>(columns: &[Cow<'_, [T]>], len: usize) -> Vec<T> {
    let width = columns.len();
    let mut out = vec![T::ZERO; len * width];
    par_tasks(
        row_pieces(&mut out, len, |r| r * width),
        #[inline(always)]
        |task, chunk| {
            let start = task * ROWS_PER_TASK;
            for (j, col) in columns.iter().enumerate() {
                for (i, row) in chunk.chunks_exact_mut(width).enumerate() {
                    row[j] = col[start + i];
                }
            }
        },
    );
    out
}
