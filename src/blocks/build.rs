//! Building block columns from plain buffers: Struct and Array columns, and a kernel's
//! row-major result back into the layout its scores came in ([`Blocks::rebuild`]).
//!
//! Every expression that emits a block (`one_hot`, `softmax`, `gumbel_softmax`) ends
//! here, so the output layouts are assembled in one place. Imports [`crate::real`] and
//! [`crate::par`].

use polars::prelude::*;
use polars_arrow::array::{FixedSizeListArray, ListArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::offset::OffsetsBuffer;

use super::read::and_validity;
use super::{Blocks, Layout};
use crate::par::{par_tasks, ROWS_PER_TASK};
use crate::real::Real;

/// A Struct column from K equally long field columns; null rows are marked both on the
/// struct and on every field, so `unnest` shows them as null too.
pub fn struct_from_fields(
    name: PlSmallStr,
    len: usize,
    fields: Vec<Series>,
    validity: Option<Bitmap>,
) -> PolarsResult<Series> {
    let fields = match &validity {
        None => fields,
        Some(v) => fields
            .into_iter()
            .map(|f| with_validity(f, v.clone()))
            .collect::<PolarsResult<Vec<_>>>()?,
    };
    let ca = StructChunked::from_series(name, len, fields.iter())?;
    Ok(ca.with_outer_validity(validity).into_series())
}

fn with_validity(s: Series, validity: Bitmap) -> PolarsResult<Series> {
    let s = s.rechunk();
    let chunk = s.chunks()[0].with_validity(Some(validity));
    Series::try_from((s.name().clone(), chunk)).and_then(|out| out.cast(s.dtype()))
}

/// An `Array(inner, width)` column over `len * width` row-major values.
pub fn array_from_flat(
    name: PlSmallStr,
    values: Series,
    width: usize,
    len: usize,
    validity: Option<Bitmap>,
) -> PolarsResult<Series> {
    polars_ensure!(
        values.len() == width * len,
        ShapeMismatch: "expected {} values for {} rows of width {}, got {}",
        width * len, len, width, values.len()
    );
    let inner = values.dtype().clone();
    let values = values.rechunk();
    // The values of a null row are null too, so that `arr.get` and `explode` agree
    // with the row's validity in every Polars version; nulls the values have already
    // stay.
    let values = match &validity {
        None => values.chunks()[0].clone(),
        Some(rows) => {
            let expanded: Bitmap = (0..len * width).map(|i| rows.get_bit(i / width)).collect();
            let own = values.chunks()[0].validity();
            let expanded = and_validity(Some(expanded), own);
            values.chunks()[0].with_validity(expanded)
        }
    };
    let arrow_dtype = inner
        .to_physical()
        .to_arrow(CompatLevel::newest())
        .to_fixed_size_list(width, true);
    let arr = FixedSizeListArray::try_new(arrow_dtype, len, values, validity)?;
    // SAFETY: the arrow dtype was derived from `inner` just above.
    let ca = unsafe {
        ArrayChunked::from_chunks_and_dtype(
            name,
            vec![arr.boxed()],
            DataType::Array(Box::new(inner), width),
        )
    };
    Ok(ca.into_series())
}

/// An `Array(T, width)` column of one chunk per task: `pieces[t]` holds the rows of task
/// `t` (of [`ROWS_PER_TASK`]), row-major. Buffers of a task's size are reused by the
/// allocator, where one buffer of the whole column would be fresh pages.
pub fn array_from_pieces<T: Real>(
    name: PlSmallStr,
    pieces: Vec<Vec<T>>,
    width: usize,
    validity: Option<Bitmap>,
) -> PolarsResult<Series> {
    let mut chunks = pieces.into_iter().enumerate().map(|(t, values)| {
        let rows = values.len() / width;
        let valid = validity.clone().map(|v| v.sliced(t * ROWS_PER_TASK, rows));
        let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, values);
        array_from_flat(name.clone(), values.into_series(), width, rows, valid)
    });
    let Some(first) = chunks.next() else {
        let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, Vec::new());
        return array_from_flat(name, values.into_series(), width, 0, None);
    };
    let mut out = first?;
    for chunk in chunks {
        out.append_owned(chunk?)?;
    }
    Ok(out)
}

impl<T: Real> Blocks<'_, T> {
    /// A column of the input's layout holding `values` (row-major, same offsets).
    pub fn rebuild(&self, values: Vec<T>, validity: Option<Bitmap>) -> PolarsResult<Series> {
        let len = self.len();
        match self.layout {
            Layout::Struct => {
                let width = self.fields.len();
                let values = &values;
                let fields = par_tasks(
                    self.fields.iter().collect(),
                    #[inline(always)]
                    |j, name: &PlSmallStr| {
                        let col: Vec<T> = values.iter().skip(j).step_by(width).copied().collect();
                        ChunkedArray::<T::Polars>::from_vec(name.clone(), col).into_series()
                    },
                );
                struct_from_fields(self.name.clone(), len, fields, validity)
            }
            Layout::List => {
                let offsets: Vec<i64> = self.offsets.iter().map(|&o| o as i64).collect();
                // SAFETY: the offsets were read from a valid list array and only rebased.
                let offsets = unsafe { OffsetsBuffer::new_unchecked(offsets.into()) };
                let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, values);
                let values = values.rechunk().downcast_as_array().clone().boxed();
                let dtype = ListArray::<i64>::default_datatype(values.dtype().clone());
                let arr = ListArray::<i64>::try_new(dtype, offsets, values, validity)?;
                Ok(ListChunked::with_chunk(self.name.clone(), arr).into_series())
            }
            // Only a table has the flat layout; `read` never makes it.
            Layout::Flat | Layout::Matrix => {
                polars_bail!(ComputeError: "a score column is one variable's block, never {:?}", self.layout)
            }
            Layout::Array => {
                let width = self.width.unwrap_or(0);
                let values = ChunkedArray::<T::Polars>::from_vec(PlSmallStr::EMPTY, values);
                array_from_flat(
                    self.name.clone(),
                    values.into_series(),
                    width,
                    len,
                    validity,
                )
            }
        }
    }
}
