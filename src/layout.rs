//! Building Struct and Array block columns from plain buffers.
//!
//! Every expression that emits a block (`one_hot`, `softmax`, `gumbel_softmax`) ends
//! here, so the two output layouts are assembled in one place.

use polars::prelude::*;
use polars_arrow::array::FixedSizeListArray;
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

/// How a block of K values is stored in one column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A Struct with one named field per category.
    #[default]
    Struct,
    /// A fixed-size `Array(dtype, K)`.
    Array,
}

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
    // with the row's validity in every Polars version.
    let values = match &validity {
        None => values.chunks()[0].clone(),
        Some(rows) => {
            let expanded: Bitmap = (0..len * width).map(|i| rows.get_bit(i / width)).collect();
            values.chunks()[0].with_validity(Some(expanded))
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
