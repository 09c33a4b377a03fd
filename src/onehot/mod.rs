//! One-hot encoding: a categorical column to a block of K indicator fields.
//!
//! Encoding runs in two passes. The first ([`slots`]) maps every row to a *slot*: the
//! index of the field to set, [`ZEROS`] for a row of zeros or [`NULL_ROW`] for a null
//! row; every option (`drop_first`, `unknown`, `nulls`) is resolved there, once per
//! category, strings found through [`str_index`]. The second ([`crate::blocks::indicators`]) writes
//! the fields: for the Struct layout one vectorised compare of the slots per field, for
//! the Array layout a one per row into zeroed rows. A Categorical or Enum column without
//! nulls whose codes map one to one onto fields needs no slots: each field compares the
//! codes themselves.
//!
//! This file owns the options and the plan (everything decided before a row is seen).
//! An operation: imports [`crate::blocks`] (building the output) and the leaves.

mod slots;
mod str_index;

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use serde::{Deserialize, Serialize};

use self::slots::{direct_fields, slots, UNKNOWN};
use crate::blocks::build::{array_from_flat, struct_from_fields};
use crate::blocks::indicators::{as_dtype, indicator_columns, indicator_rows, Scalar, SlotBlock};
pub use crate::blocks::Layout;
use crate::dispatch::with_match_indicator;
pub use crate::dispatch::IndicatorDtype;
use crate::numeric::{self, NormalizeOptions};

/// Slot of a row that becomes all zeros.
pub const ZEROS: u32 = u32::MAX;
/// Slot of a row that becomes null.
pub const NULL_ROW: u32 = u32::MAX - 1;

/// The categories to encode, in output order.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Categories {
    String(Vec<String>),
    Int(Vec<i64>),
    Boolean(Vec<bool>),
}

impl Categories {
    fn len(&self) -> usize {
        match self {
            Self::String(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Boolean(v) => v.len(),
        }
    }

    /// The labels used in field names: the string itself, the decimal integer, or
    /// `false` / `true`.
    pub fn labels(&self) -> Vec<String> {
        match self {
            Self::String(v) => v.clone(),
            Self::Int(v) => v.iter().map(|x| x.to_string()).collect(),
            Self::Boolean(v) => v.iter().map(|x| x.to_string()).collect(),
        }
    }

    /// What the categories are, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::String(_) => "strings",
            Self::Int(_) => "integers",
            Self::Boolean(_) => "booleans",
        }
    }
}

/// What to do with a value that is not among the categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    #[default]
    Error,
    Zeros,
    Null,
    Other,
}

/// What to do with a null value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Nulls {
    #[default]
    Null,
    Zeros,
    Category,
}

/// Options of [`one_hot`], also the plugin's keyword arguments.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct OneHotOptions {
    pub categories: Option<Categories>,
    pub layout: Layout,
    pub dtype: IndicatorDtype,
    pub prefix: Option<String>,
    pub separator: String,
    pub drop_first: bool,
    pub unknown: Unknown,
    pub nulls: Nulls,
    pub other_label: String,
}

impl Default for OneHotOptions {
    fn default() -> Self {
        Self {
            categories: None,
            layout: Layout::Struct,
            dtype: IndicatorDtype::UInt8,
            prefix: None,
            separator: "_".into(),
            drop_first: false,
            unknown: Unknown::Error,
            nulls: Nulls::Null,
            other_label: "other".into(),
        }
    }
}

/// Everything the encoder decides before it sees a row.
struct Plan {
    categories: Categories,
    /// Output field names, in order.
    names: Vec<PlSmallStr>,
    /// Slot of each category.
    category_slot: Vec<u32>,
    null_slot: u32,
    /// `None` when unknown values are an error.
    unknown_slot: Option<u32>,
    /// Struct or Array.
    layout: Layout,
}

fn is_supported(dtype: &DataType) -> bool {
    matches!(
        dtype,
        DataType::String | DataType::Categorical(_, _) | DataType::Enum(_, _) | DataType::Boolean
    ) || dtype.is_integer()
}

/// The categories of `dtype` when the dtype alone fixes them (Enum, Boolean).
fn categories_of(field: &Field, options: &OneHotOptions) -> PolarsResult<Categories> {
    let name = field.name();
    let dtype = field.dtype();
    polars_ensure!(
        is_supported(dtype),
        InvalidOperation: "one_hot expects a String, Categorical, Enum, Boolean or integer column, \
        got {} for column '{}'", dtype, name
    );
    let categories = match (&options.categories, dtype) {
        (Some(c), _) => c.clone(),
        (None, DataType::Enum(fcats, _)) => {
            Categories::String(fcats.categories().values_iter().map(String::from).collect())
        }
        (None, DataType::Boolean) => Categories::Boolean(vec![false, true]),
        (None, _) => polars_bail!(
            InvalidOperation: "one_hot on column '{}' of dtype {} needs `categories`: the output \
            schema must be known before the data is read. Pass them, learn them with \
            `Codec.fit`, or cast the column to pl.Enum", name, dtype
        ),
    };
    let fits = match (&categories, dtype) {
        (Categories::String(_), d) => {
            matches!(
                d,
                DataType::String | DataType::Categorical(_, _) | DataType::Enum(_, _)
            )
        }
        (Categories::Boolean(_), d) => d == &DataType::Boolean,
        (Categories::Int(_), d) => d.is_integer(),
    };
    polars_ensure!(
        fits,
        InvalidOperation: "one_hot categories of the wrong type for column '{}': got {}, \
        but the column has dtype {}", name, categories.kind(), dtype
    );
    Ok(categories)
}

fn plan(field: &Field, options: &OneHotOptions) -> PolarsResult<Plan> {
    polars_ensure!(
        matches!(options.layout, Layout::Struct | Layout::Array),
        InvalidOperation: "one_hot writes a Struct or an Array block, got layout {:?}", options.layout
    );
    let categories = categories_of(field, options)?;
    let labels = categories.labels();
    let mut seen = PlHashSet::with_capacity(labels.len());
    for label in &labels {
        polars_ensure!(
            seen.insert(label.as_str()),
            InvalidOperation: "duplicate category '{}' in the categories of column '{}'",
            label, field.name()
        );
    }
    let drop = usize::from(options.drop_first && !labels.is_empty());
    let mut out_labels: Vec<String> = labels[drop..].to_vec();
    let mut category_slot: Vec<u32> = (0..labels.len())
        .map(|i| if i < drop { ZEROS } else { (i - drop) as u32 })
        .collect();
    let null_slot = match options.nulls {
        Nulls::Null => NULL_ROW,
        Nulls::Zeros => ZEROS,
        Nulls::Category => {
            out_labels.push("null".into());
            (out_labels.len() - 1) as u32
        }
    };
    let unknown_slot = match options.unknown {
        Unknown::Error => None,
        Unknown::Zeros => Some(ZEROS),
        Unknown::Null => Some(NULL_ROW),
        Unknown::Other => {
            out_labels.push(options.other_label.clone());
            Some((out_labels.len() - 1) as u32)
        }
    };
    polars_ensure!(
        !out_labels.is_empty(),
        InvalidOperation: "one_hot on column '{}' would produce no fields: got {} categories{}",
        field.name(), labels.len(), if drop > 0 { " and drop_first=True" } else { "" }
    );
    polars_ensure!(
        out_labels.len() < (UNKNOWN as usize),
        InvalidOperation: "one_hot supports fewer than {} categories, got {}", UNKNOWN, out_labels.len()
    );
    let prefix = options.prefix.as_deref().unwrap_or(field.name().as_str());
    let names: Vec<PlSmallStr> = out_labels
        .iter()
        .map(|l| PlSmallStr::from_string(format!("{prefix}{}{l}", options.separator)))
        .collect();
    {
        let mut seen = PlHashSet::with_capacity(names.len());
        for n in &names {
            polars_ensure!(
                seen.insert(n.as_str()),
                InvalidOperation: "one_hot on column '{}' would produce the field name '{}' twice \
                (a category equals the null or other label)", field.name(), n
            );
        }
    }
    category_slot.shrink_to_fit();
    Ok(Plan {
        categories,
        names,
        category_slot,
        null_slot,
        unknown_slot,
        layout: options.layout,
    })
}

/// The output field of [`one_hot`] for an input field: known without data.
pub fn one_hot_field(field: &Field, options: &OneHotOptions) -> PolarsResult<Field> {
    let plan = plan(field, options)?;
    let inner = options.dtype.dtype();
    let dtype = match plan.layout {
        Layout::Array => DataType::Array(Box::new(inner), plan.names.len()),
        _ => DataType::Struct(
            plan.names
                .iter()
                .map(|n| Field::new(n.clone(), inner.clone()))
                .collect(),
        ),
    };
    Ok(Field::new(field.name().clone(), dtype))
}

/// One-hot encode `s` as [`OneHotOptions`] say.
pub fn one_hot(s: &Series, options: &OneHotOptions) -> PolarsResult<Series> {
    let field = s.field();
    let plan = plan(&field, options)?;
    let name = s.name().clone();
    let named = |fields: Vec<Series>| -> PolarsResult<Vec<Series>> {
        fields
            .into_iter()
            .zip(&plan.names)
            .map(|(col, n)| as_dtype(col.with_name(n.clone()), options.dtype))
            .collect()
    };
    if plan.layout == Layout::Struct {
        if let Some(fields) = direct_fields(s, &plan, options.dtype)? {
            return struct_from_fields(name, s.len(), named(fields)?, None);
        }
    }
    let (slots, seen) = slots(s, &plan)?;
    let width = plan.names.len();
    let validity = seen
        .null
        .then(|| slots.iter().map(|&s| s != NULL_ROW).collect::<Bitmap>());
    if plan.layout == Layout::Array {
        let block = [SlotBlock {
            slots: &slots,
            offset: 0,
            width,
            scalars: &[],
        }];
        let values = with_match_indicator!(options.dtype, |$P| indicator_rows::<$P>(&block, width, slots.len()));
        let values = as_dtype(values, options.dtype)?;
        return array_from_flat(name, values, width, slots.len(), validity);
    }
    let fields = with_match_indicator!(options.dtype, |$P| indicator_columns::<$P>(&slots, width));
    struct_from_fields(name, slots.len(), named(fields)?, validity)
}

/// One block of the codec's matrix: a categorical column one-hot encoded, or a
/// numeric column's scalar, mode indicators and null indicator.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixBlock {
    OneHot(OneHotOptions),
    Numeric(NormalizeOptions),
}

/// Options of [`one_hot_matrix`]: the options of each input column's block, in order,
/// and the values' dtype (the blocks' own layouts and dtypes are not read). An input
/// column after the blocks' keys the numeric blocks' draws.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MatrixOptions {
    pub blocks: Vec<MatrixBlock>,
    pub dtype: IndicatorDtype,
}

/// How one input becomes its block: a `one_hot` plan, or a numeric column's options.
enum MatrixPlan<'o> {
    OneHot(Plan),
    Numeric(&'o NormalizeOptions),
}

impl MatrixPlan<'_> {
    fn width(&self) -> usize {
        match self {
            Self::OneHot(p) => p.names.len(),
            Self::Numeric(o) => o.column.width(),
        }
    }
}

/// The block inputs and the key input, if any.
fn matrix_inputs<'a, T>(
    items: &'a [T],
    options: &MatrixOptions,
) -> PolarsResult<(&'a [T], Option<&'a T>)> {
    let keyed = items.len() == options.blocks.len() + 1;
    let (blocks, key) = match items.split_last() {
        Some((key, blocks)) if keyed => (blocks, Some(key)),
        _ => (items, None),
    };
    polars_ensure!(
        !blocks.is_empty() && blocks.len() == options.blocks.len(),
        InvalidOperation: "one_hot_matrix expects one input column per block: got {} columns \
        for {} blocks", blocks.len(), options.blocks.len()
    );
    Ok((blocks, key))
}

/// Every input's plan, one block of options each.
fn matrix_plans<'o>(
    fields: &[Field],
    options: &'o MatrixOptions,
) -> PolarsResult<Vec<MatrixPlan<'o>>> {
    fields
        .iter()
        .zip(&options.blocks)
        .map(|(f, block)| match block {
            MatrixBlock::OneHot(o) => {
                let o = OneHotOptions {
                    layout: Layout::Struct,
                    ..o.clone()
                };
                plan(f, &o).map(MatrixPlan::OneHot)
            }
            MatrixBlock::Numeric(o) => {
                numeric::normalize_field(f, o)?;
                Ok(MatrixPlan::Numeric(o))
            }
        })
        .collect()
}

/// The output field of [`one_hot_matrix`]: `Array(dtype, D)`, D the blocks' fields
/// together, named after the first input.
pub fn one_hot_matrix_field(fields: &[Field], options: &MatrixOptions) -> PolarsResult<Field> {
    let (fields, _) = matrix_inputs(fields, options)?;
    let width: usize = matrix_plans(fields, options)?
        .iter()
        .map(MatrixPlan::width)
        .sum();
    let dtype = DataType::Array(Box::new(options.dtype.dtype()), width);
    Ok(Field::new(fields[0].name().clone(), dtype))
}

/// Every input one-hot encoded, its block beside the previous input's, into one row of
/// one `Array(dtype, D)` column: the codec's matrix, one row-major buffer in one chunk,
/// so that it reaches numpy as an N × D array without a copy. A null row of a block
/// (`nulls="null"`) is null in that block's span of the row only.
pub fn one_hot_matrix(inputs: &[Series], options: &MatrixOptions) -> PolarsResult<Series> {
    let (inputs, key) = matrix_inputs(inputs, options)?;
    let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
    let plans = matrix_plans(&fields, options)?;
    let len = inputs[0].len();
    if let Some(s) = inputs.iter().find(|s| s.len() != len) {
        polars_bail!(
            ShapeMismatch: "one_hot_matrix expects columns of one length: '{}' has {} rows, \
            '{}' has {}", inputs[0].name(), len, s.name(), s.len()
        );
    }
    let mut all_slots = Vec::with_capacity(plans.len());
    let mut all_scalars = Vec::with_capacity(plans.len());
    let mut with_nulls = Vec::new();
    for (i, (s, plan)) in inputs.iter().zip(&plans).enumerate() {
        let (slots, scalars, null) = match plan {
            MatrixPlan::OneHot(plan) => {
                let (slots, seen) = slots(s, plan)?;
                (slots, Vec::new(), seen.null)
            }
            MatrixPlan::Numeric(o) => numeric_slots(s, key, o)?,
        };
        if null {
            with_nulls.push(i);
        }
        all_slots.push(slots);
        all_scalars.push(scalars);
    }
    let mut blocks = Vec::with_capacity(plans.len());
    let mut stride = 0;
    for ((slots, scalars), plan) in all_slots.iter().zip(&all_scalars).zip(&plans) {
        let width = plan.width();
        blocks.push(SlotBlock {
            slots,
            offset: stride,
            width,
            scalars,
        });
        stride += width;
    }
    let values =
        with_match_indicator!(options.dtype, |$P| indicator_rows::<$P>(&blocks, stride, len));
    let mut values = as_dtype(values, options.dtype)?.rechunk();
    if !with_nulls.is_empty() {
        let mut valid = MutableBitmap::from_len_set(len * stride);
        for b in with_nulls.iter().map(|&i| &blocks[i]) {
            for (r, _) in b.slots.iter().enumerate().filter(|(_, &s)| s == NULL_ROW) {
                let at = r * stride + b.offset;
                (at..at + b.width).for_each(|k| valid.set(k, false));
            }
        }
        let chunk = values.chunks()[0].with_validity(Some(valid.into()));
        values = Series::try_from((PlSmallStr::EMPTY, chunk))?;
    }
    array_from_flat(inputs[0].name().clone(), values, stride, len, None)
}

/// A numeric column's block of the matrix as slots and scalars: the slot of each row's
/// mode indicator (after the scalar), the scalar itself and the null indicator, and
/// whether a row is null (a null value of a column without a null indicator).
fn numeric_slots(
    s: &Series,
    key: Option<&Series>,
    options: &NormalizeOptions,
) -> PolarsResult<(Vec<u32>, Vec<Scalar>, bool)> {
    let column = &options.column;
    column.validate()?;
    let real = numeric::real_dtype(options.dtype, &column.name)?;
    let e = numeric::encoded(s, key, column, options.method, options.seed, real)?;
    let has_modes = column.mode_count() > 0;
    let mut null_rows = false;
    let slots = e
        .mode
        .iter()
        .enumerate()
        .map(|(r, &c)| {
            let null = e.nulls.as_ref().is_some_and(|v| !v.get_bit(r));
            if null && !column.null_indicator {
                null_rows = true;
                NULL_ROW
            } else if has_modes {
                1 + c
            } else {
                ZEROS
            }
        })
        .collect();
    let mut scalars = vec![Scalar {
        at: 0,
        values: e.alpha,
    }];
    if column.null_indicator {
        let values = (0..s.len())
            .map(|r| f64::from(u8::from(e.nulls.as_ref().is_some_and(|v| !v.get_bit(r)))))
            .collect();
        scalars.push(Scalar {
            at: column.width() - 1,
            values,
        });
    }
    Ok((slots, scalars, null_rows))
}
