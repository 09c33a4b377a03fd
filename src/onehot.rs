//! One-hot encoding: a categorical column to a block of K indicator fields.
//!
//! Encoding runs in two passes. The first maps every row to a *slot*: the index of the
//! field to set, [`ZEROS`] for a row of zeros or [`NULL_ROW`] for a null row; every
//! option (`drop_first`, `unknown`, `nulls`) is resolved there, once per category. The
//! second pass scatters ones into zero-initialised buffers, one write per row.

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray, View};
use polars_arrow::bitmap::Bitmap;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layout::{array_from_flat, struct_from_fields, Layout};

/// Slot of a row that becomes all zeros.
pub const ZEROS: u32 = u32::MAX;
/// Slot of a row that becomes null.
pub const NULL_ROW: u32 = u32::MAX - 1;
/// Slot of a value outside the category list (resolved by the `unknown` policy).
const UNKNOWN: u32 = u32::MAX - 2;
/// Rows handed to one task of the thread pool.
const TASK_ROWS: usize = 64 * 1024;

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
            let fields = match options.dtype {
                IndicatorDtype::UInt8 | IndicatorDtype::Boolean => {
                    indicator_columns::<UInt8Type>(&slots, width, 1)
                }
                IndicatorDtype::Float32 => indicator_columns::<Float32Type>(&slots, width, 1.0),
                IndicatorDtype::Float64 => indicator_columns::<Float64Type>(&slots, width, 1.0),
            };
            let fields = fields
                .into_iter()
                .zip(&plan.names)
                .map(|(col, n)| as_dtype(col.with_name(n.clone()), options.dtype))
                .collect::<PolarsResult<_>>()?;
            struct_from_fields(name, slots.len(), fields, validity)
        }
        Layout::Array => {
            let values = match options.dtype {
                IndicatorDtype::UInt8 | IndicatorDtype::Boolean => {
                    indicator_rows::<UInt8Type>(&slots, width, 1)
                }
                IndicatorDtype::Float32 => indicator_rows::<Float32Type>(&slots, width, 1.0),
                IndicatorDtype::Float64 => indicator_rows::<Float64Type>(&slots, width, 1.0),
            };
            let values = as_dtype(values, options.dtype)?;
            array_from_flat(name, values, width, slots.len(), validity)
        }
    }
}

/// Indicators are written as UInt8 for a Boolean output, then packed into bits.
fn as_dtype(s: Series, dtype: IndicatorDtype) -> PolarsResult<Series> {
    match dtype {
        IndicatorDtype::Boolean => s.cast(&DataType::Boolean),
        _ => Ok(s),
    }
}

fn validity_of(slots: &[u32]) -> Option<Bitmap> {
    par_contains(slots, NULL_ROW).then(|| slots.iter().map(|&s| s != NULL_ROW).collect())
}

/// Whether `slots` holds `slot`, scanned in parallel.
fn par_contains(slots: &[u32], slot: u32) -> bool {
    THREAD_POOL.install(|| slots.par_chunks(TASK_ROWS).any(|c| c.contains(&slot)))
}

/// One indicator column per field, `col[slot][row] = one`, filled in parallel.
fn indicator_columns<P: PolarsNumericType>(
    slots: &[u32],
    width: usize,
    one: P::Native,
) -> Vec<Series> {
    let mut columns: Vec<Vec<P::Native>> = (0..width)
        .map(|_| vec![P::Native::default(); slots.len()])
        .collect();
    let tasks = slots.len().div_ceil(TASK_ROWS);
    let mut pieces: Vec<Vec<&mut [P::Native]>> =
        (0..tasks).map(|_| Vec::with_capacity(width)).collect();
    for column in columns.iter_mut() {
        for (task, piece) in column.chunks_mut(TASK_ROWS).enumerate() {
            pieces[task].push(piece);
        }
    }
    THREAD_POOL.install(|| {
        pieces
            .into_par_iter()
            .zip(slots.par_chunks(TASK_ROWS))
            .for_each(|(mut columns, slots)| {
                for (row, &slot) in slots.iter().enumerate() {
                    if let Some(column) = columns.get_mut(slot as usize) {
                        column[row] = one;
                    }
                }
            })
    });
    columns
        .into_iter()
        .map(|c| ChunkedArray::<P>::from_vec(PlSmallStr::EMPTY, c).into_series())
        .collect()
}

/// Row-major indicators, `out[row * width + slot] = one`, filled in parallel.
fn indicator_rows<P: PolarsNumericType>(slots: &[u32], width: usize, one: P::Native) -> Series {
    let mut out = vec![P::Native::default(); slots.len() * width];
    if width > 0 {
        THREAD_POOL.install(|| {
            out.par_chunks_mut(TASK_ROWS * width)
                .zip(slots.par_chunks(TASK_ROWS))
                .for_each(|(out, slots)| {
                    for (row, &slot) in out.chunks_exact_mut(width).zip(slots) {
                        if let Some(v) = row.get_mut(slot as usize) {
                            *v = one;
                        }
                    }
                })
        });
    }
    ChunkedArray::<P>::from_vec(PlSmallStr::EMPTY, out).into_series()
}

/// The slot of every row: a parallel lookup pass, then the `unknown` policy. An unknown
/// value under `unknown="error"` is reported for its first row, whatever the threads.
fn slots(s: &Series, plan: &Plan) -> PolarsResult<Vec<u32>> {
    let mut out = vec![UNKNOWN; s.len()];
    match (s.dtype(), &plan.categories) {
        (DataType::String, Categories::String(cats)) => {
            let index = StrIndex::new(cats, &plan.category_slot);
            let mut rest = out.as_mut_slice();
            for arr in s.str()?.downcast_iter() {
                let (piece, tail) = rest.split_at_mut(arr.len());
                rest = tail;
                par_fill(piece, |i| {
                    if arr.is_null(i) {
                        plan.null_slot
                    } else {
                        index.get(arr, i)
                    }
                });
            }
        }
        (
            DataType::Categorical(_, mapping) | DataType::Enum(_, mapping),
            Categories::String(cats),
        ) => {
            let map = string_map(cats, &plan.category_slot);
            let by_code = |code: u32| {
                mapping
                    .cat_to_str(code)
                    .and_then(|c| map.get(c).copied())
                    .unwrap_or(UNKNOWN)
            };
            let codes = s.to_physical_repr().cast(&DataType::UInt32)?;
            let codes = codes.u32()?;
            let max_code = codes.max().unwrap_or(0);
            // One lookup per category rather than per row, unless the mapping (a large
            // shared Categorical) has far more categories than the column has rows.
            let table: Option<Vec<u32>> = (max_code as usize <= 2 * s.len() + 65_536)
                .then(|| (0..=max_code).map(by_code).collect());
            let mut rest = out.as_mut_slice();
            for arr in codes.downcast_iter() {
                let (piece, tail) = rest.split_at_mut(arr.len());
                rest = tail;
                let values = arr.values().as_slice();
                par_fill(piece, |i| match (arr.is_null(i), &table) {
                    (true, _) => plan.null_slot,
                    (false, Some(table)) => table[values[i] as usize],
                    (false, None) => by_code(values[i]),
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
            for (o, v) in out.iter_mut().zip(s.bool()?.iter()) {
                *o = match v {
                    None => plan.null_slot,
                    Some(v) => {
                        if v {
                            t
                        } else {
                            f
                        }
                    }
                };
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
                for (o, v) in out.iter_mut().zip(s.u64()?.iter()) {
                    *o = v.map_or(plan.null_slot, |v| {
                        i64::try_from(v).map_or(UNKNOWN, slot_of)
                    });
                }
            } else {
                let ints = s.cast(&DataType::Int64)?;
                for (o, v) in out.iter_mut().zip(ints.i64()?.iter()) {
                    *o = v.map_or(plan.null_slot, slot_of);
                }
            }
        }
        (d, c) => polars_bail!(
            InvalidOperation: "one_hot categories of the wrong type for column '{}': got {}, \
            but the column has dtype {}", s.name(), c.kind(), d
        ),
    }
    if !par_contains(&out, UNKNOWN) {
        return Ok(out);
    }
    if let Some(row) = out.iter().position(|&slot| slot == UNKNOWN) {
        let Some(unknown) = plan.unknown_slot else {
            let value = s.slice(row as i64, 1).cast(&DataType::String)?;
            polars_bail!(
                ComputeError: "one_hot found the value '{}' in column '{}' (row {}), which is not \
                among its {} categories; pass unknown=\"zeros\", \"null\" or \"other\" to accept it",
                value.str()?.get(0).unwrap_or_default(), s.name(), row, plan.categories.len()
            );
        };
        for slot in out[row..].iter_mut().filter(|s| **s == UNKNOWN) {
            *slot = unknown;
        }
    }
    Ok(out)
}

/// `out[i] = f(i)`, in parallel.
fn par_fill(out: &mut [u32], f: impl Fn(usize) -> u32 + Sync) {
    THREAD_POOL.install(|| {
        out.par_chunks_mut(TASK_ROWS)
            .enumerate()
            .for_each(|(task, out)| {
                let start = task * TASK_ROWS;
                for (i, o) in out.iter_mut().enumerate() {
                    *o = f(start + i);
                }
            })
    });
}

/// Finds a string's slot from its 16-byte view: a string of at most 12 bytes is held in
/// the view itself, so equal short strings have equal views and one integer hash
/// settles them; longer strings are hashed.
struct StrIndex<'a> {
    by_view: PlHashMap<u128, u32>,
    by_str: PlHashMap<&'a str, u32>,
}

impl<'a> StrIndex<'a> {
    fn new(cats: &'a [String], slots: &[u32]) -> Self {
        let strs: Vec<&str> = cats.iter().map(String::as_str).collect();
        let views = Utf8ViewArray::from_slice_values(&strs);
        let by_view = views
            .views()
            .iter()
            .zip(slots)
            .filter(|(v, _)| v.length <= View::MAX_INLINE_SIZE)
            .map(|(v, &slot)| (v.as_u128(), slot))
            .collect();
        Self {
            by_view,
            by_str: string_map(cats, slots),
        }
    }

    #[inline]
    fn get(&self, arr: &Utf8ViewArray, i: usize) -> u32 {
        let view = arr.views()[i];
        if view.length <= View::MAX_INLINE_SIZE {
            if let Some(&slot) = self.by_view.get(&view.as_u128()) {
                return slot;
            }
        }
        // Long strings, and short ones whose view padding is not zeroed.
        self.by_str.get(arr.value(i)).copied().unwrap_or(UNKNOWN)
    }
}

fn string_map<'a>(cats: &'a [String], slots: &[u32]) -> PlHashMap<&'a str, u32> {
    cats.iter()
        .map(String::as_str)
        .zip(slots.iter().copied())
        .collect()
}
