//! One-hot encoding: a categorical column to a block of K indicator fields.
//!
//! Encoding runs in two passes. The first maps every row to a *slot*: the index of the
//! field to set, [`ZEROS`] for a row of zeros or [`NULL_ROW`] for a null row; every
//! option (`drop_first`, `unknown`, `nulls`) is resolved there, once per category. The
//! second pass scatters ones into zero-initialised buffers, one write per row.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

use crate::layout::{array_from_flat, struct_from_fields, Layout};

/// Slot of a row that becomes all zeros.
pub const ZEROS: u32 = u32::MAX;
/// Slot of a row that becomes null.
pub const NULL_ROW: u32 = u32::MAX - 1;
/// Slot of a value outside the category list (resolved by the `unknown` policy).
const UNKNOWN: u32 = u32::MAX - 2;

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

    fn kind(&self) -> &'static str {
        match self {
            Self::String(_) => "strings",
            Self::Int(_) => "integers",
            Self::Boolean(_) => "booleans",
        }
    }
}

/// Output value type of the indicator fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorDtype {
    #[default]
    #[serde(rename = "uint8")]
    UInt8,
    Boolean,
    Float32,
    Float64,
}

impl IndicatorDtype {
    pub fn dtype(self) -> DataType {
        match self {
            Self::UInt8 => DataType::UInt8,
            Self::Boolean => DataType::Boolean,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
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
    })
}

/// The output field of [`one_hot`] for an input field: known without data.
pub fn one_hot_field(field: &Field, options: &OneHotOptions) -> PolarsResult<Field> {
    let plan = plan(field, options)?;
    let inner = options.dtype.dtype();
    let dtype = match options.layout {
        Layout::Struct => DataType::Struct(
            plan.names
                .iter()
                .map(|n| Field::new(n.clone(), inner.clone()))
                .collect(),
        ),
        Layout::Array => DataType::Array(Box::new(inner), plan.names.len()),
    };
    Ok(Field::new(field.name().clone(), dtype))
}

/// One-hot encode `s` as [`OneHotOptions`] say.
pub fn one_hot(s: &Series, options: &OneHotOptions) -> PolarsResult<Series> {
    let field = s.field();
    let plan = plan(&field, options)?;
    let slots = slots(s, &plan)?;
    let width = plan.names.len();
    let validity = validity_of(&slots);
    let name = s.name().clone();
    match options.layout {
        Layout::Struct => {
            let fields: Vec<Series> = scatter_columns(&slots, width)
                .into_iter()
                .zip(&plan.names)
                .map(|(col, n)| indicator_series(n.clone(), col, options.dtype))
                .collect::<PolarsResult<_>>()?;
            struct_from_fields(name, slots.len(), fields, validity)
        }
        Layout::Array => {
            let flat = scatter_rows(&slots, width);
            let values = indicator_series(PlSmallStr::EMPTY, flat, options.dtype)?;
            array_from_flat(name, values, width, slots.len(), validity)
        }
    }
}

fn indicator_series(
    name: PlSmallStr,
    values: Vec<u8>,
    dtype: IndicatorDtype,
) -> PolarsResult<Series> {
    let s = UInt8Chunked::from_vec(name, values).into_series();
    match dtype {
        IndicatorDtype::UInt8 => Ok(s),
        other => s.cast(&other.dtype()),
    }
}

fn validity_of(slots: &[u32]) -> Option<Bitmap> {
    slots
        .contains(&NULL_ROW)
        .then(|| slots.iter().map(|&s| s != NULL_ROW).collect())
}

/// One indicator column per field: `out[slot][row] = 1`.
pub fn scatter_columns(slots: &[u32], width: usize) -> Vec<Vec<u8>> {
    let mut out = vec![vec![0u8; slots.len()]; width];
    for (row, &slot) in slots.iter().enumerate() {
        if let Some(col) = out.get_mut(slot as usize) {
            col[row] = 1;
        }
    }
    out
}

/// Row-major indicators: `out[row * width + slot] = 1`.
pub fn scatter_rows(slots: &[u32], width: usize) -> Vec<u8> {
    let mut out = vec![0u8; slots.len() * width];
    for (row, chunk) in out.chunks_exact_mut(width.max(1)).enumerate() {
        if let Some(v) = slots.get(row).and_then(|&s| chunk.get_mut(s as usize)) {
            *v = 1;
        }
    }
    out
}

/// The slot of every row.
fn slots(s: &Series, plan: &Plan) -> PolarsResult<Vec<u32>> {
    let mut out = Vec::with_capacity(s.len());
    let resolve = |slot: u32, value: &dyn std::fmt::Display| -> PolarsResult<u32> {
        if slot != UNKNOWN {
            return Ok(slot);
        }
        plan.unknown_slot.ok_or_else(|| {
            polars_err!(
                ComputeError: "one_hot found the value '{}' in column '{}', which is not among \
                its {} categories; pass unknown=\"zeros\", \"null\" or \"other\" to accept it",
                value, s.name(), plan.categories.len()
            )
        })
    };
    match (s.dtype(), &plan.categories) {
        (DataType::String, Categories::String(cats)) => {
            let map = string_map(cats, &plan.category_slot);
            for v in s.str()?.iter() {
                out.push(match v {
                    None => plan.null_slot,
                    Some(v) => resolve(*map.get(v).unwrap_or(&UNKNOWN), &v)?,
                });
            }
        }
        (
            DataType::Categorical(_, mapping) | DataType::Enum(_, mapping),
            Categories::String(cats),
        ) => {
            let map = string_map(cats, &plan.category_slot);
            // The slot of each physical code, looked up the first time the code is seen.
            const UNSEEN: u32 = u32::MAX - 3;
            let mut by_code: Vec<u32> = Vec::new();
            let phys = s.to_physical_repr().cast(&DataType::UInt32)?;
            for code in phys.u32()?.iter() {
                out.push(match code {
                    None => plan.null_slot,
                    Some(code) => {
                        let i = code as usize;
                        if i >= by_code.len() {
                            by_code.resize(i + 1, UNSEEN);
                        }
                        let label = mapping.cat_to_str(code).unwrap_or("");
                        if by_code[i] == UNSEEN {
                            by_code[i] = *map.get(label).unwrap_or(&UNKNOWN);
                        }
                        resolve(by_code[i], &label)?
                    }
                });
            }
        }
        (DataType::Boolean, Categories::Boolean(cats)) => {
            let slot_of = |b: bool| {
                cats.iter()
                    .position(|&c| c == b)
                    .map_or(UNKNOWN, |i| plan.category_slot[i])
            };
            let (f, t) = (slot_of(false), slot_of(true));
            for v in s.bool()?.iter() {
                out.push(match v {
                    None => plan.null_slot,
                    Some(v) => resolve(if v { t } else { f }, &v)?,
                });
            }
        }
        (d, Categories::Int(cats)) if d.is_integer() => {
            let map: PlHashMap<i64, u32> = cats
                .iter()
                .copied()
                .zip(plan.category_slot.iter().copied())
                .collect();
            let slot_of = |v: i64| *map.get(&v).unwrap_or(&UNKNOWN);
            if d == &DataType::UInt64 {
                // Values past i64::MAX match no (Int64) category.
                for v in s.u64()?.iter() {
                    out.push(match v {
                        None => plan.null_slot,
                        Some(v) => resolve(i64::try_from(v).map_or(UNKNOWN, slot_of), &v)?,
                    });
                }
            } else {
                for v in s.cast(&DataType::Int64)?.i64()?.iter() {
                    out.push(match v {
                        None => plan.null_slot,
                        Some(v) => resolve(slot_of(v), &v)?,
                    });
                }
            }
        }
        (d, c) => polars_bail!(
            InvalidOperation: "one_hot categories of the wrong type for column '{}': got {}, \
            but the column has dtype {}", s.name(), c.kind(), d
        ),
    }
    Ok(out)
}

fn string_map<'a>(cats: &'a [String], slots: &[u32]) -> PlHashMap<&'a str, u32> {
    cats.iter()
        .map(String::as_str)
        .zip(slots.iter().copied())
        .collect()
}
