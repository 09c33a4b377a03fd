//! Score blocks: one categorical variable's K scores per row, stored in one of the
//! [`Layout`]s, and how the operations read, run and rebuild them.
//!
//! - [`read`]: any layout into [`Blocks`], row-major values (borrowed when the column
//!   already is one), a row → range map and a row validity; or a fixed-width block's
//!   Struct fields or Array rows in place.
//! - [`drive`]: the parallel row drivers that run a row kernel over every row.
//! - [`build`]: Struct and Array columns from plain buffers, and a result back into the
//!   layout its scores came in.
//! - [`indicators`]: one-hot blocks written from each row's slot, as fields or as
//!   rows of a matrix.
//!
//! Owns [`Layout`], [`Blocks`] and the score dtype rules ([`compute_dtype`],
//! [`block_dtype`]). Imports the leaves [`crate::real`], [`crate::par`] and
//! [`crate::dispatch`]; never a kernel or an operation.

pub mod build;
pub mod drive;
pub mod indicators;
pub mod read;

use std::borrow::Cow;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

use crate::dispatch::RealDtype;
use crate::real::Real;

/// How a block of K values per row is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A Struct column with one named field per category.
    #[default]
    Struct,
    /// A fixed-size `Array(dtype, K)` column.
    Array,
    /// A `List(dtype)` column, whose rows may vary in width: scores only.
    List,
    /// K plain columns of a frame, a Struct unnested: a whole table's form (the
    /// codec's), never one column's.
    Flat,
    /// Every variable's block side by side in one `Array(dtype, D)` row: a whole
    /// table's form (the codec's), never one column's.
    Matrix,
}

/// The scores of one column as row-major values.
pub struct Blocks<'a, T: Real> {
    pub name: PlSmallStr,
    /// Struct, Array or List.
    pub layout: Layout,
    /// A Struct block's field names; empty for the other layouts.
    pub fields: Vec<PlSmallStr>,
    /// All rows' scores, row after row.
    pub values: Cow<'a, [T]>,
    /// Row `i` is `values[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<usize>,
    /// `false` for a null row, or a row holding a null score.
    pub validity: Option<Bitmap>,
    /// The number of scores of every row, for the Struct and Array layouts.
    width: Option<usize>,
}

impl<T: Real> Blocks<'_, T> {
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
        self.width
    }
}

/// The float type a score column is computed in, or an error naming what was found.
/// Booleans (one-hot indicators) count as numbers 0 and 1.
pub fn compute_dtype(dtype: &DataType, expr: &str) -> PolarsResult<RealDtype> {
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
    if let Some(at) = inner.iter().position(|d| !readable(d)) {
        let bad = inner[at];
        // A Struct's field is named rather than the whole dtype: its fields may be many.
        let place = match dtype {
            DataType::Struct(fields) => format!("the Struct field '{}'", fields[at].name()),
            other => other.to_string(),
        };
        polars_bail!(
            InvalidOperation: "{} expects numeric scores, got {} inside {}: scores are Boolean, \
            integers of up to 64 bits, Float32 or Float64", expr, bad, place
        );
    }
    let all_f32 = !inner.is_empty() && inner.iter().all(|d| **d == DataType::Float32);
    Ok(if all_f32 {
        RealDtype::Float32
    } else {
        RealDtype::Float64
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
