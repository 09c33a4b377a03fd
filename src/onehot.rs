//! One-hot encoding: a categorical column to a block of K indicator fields.
//!
//! Encoding runs in two passes. The first maps every row to a *slot*: the index of the
//! field to set, [`ZEROS`] for a row of zeros or [`NULL_ROW`] for a null row; every
//! option (`drop_first`, `unknown`, `nulls`) is resolved there, once per category. The
//! second writes the fields: for the Struct layout one vectorised compare of the slots
//! per field, for the Array layout a one per row into zeroed rows. A Categorical or
//! Enum column without nulls whose codes map one to one onto fields needs no slots:
//! each field compares the codes themselves.

use std::mem::MaybeUninit;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray, View};
use polars_arrow::bitmap::Bitmap;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layout::{array_from_flat, struct_from_fields, Layout};
use crate::simd::with_best_simd;

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

    /// What the categories are, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
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
    let name = s.name().clone();
    let named = |fields: Vec<Series>| -> PolarsResult<Vec<Series>> {
        fields
            .into_iter()
            .zip(&plan.names)
            .map(|(col, n)| as_dtype(col.with_name(n.clone()), options.dtype))
            .collect()
    };
    if matches!(options.layout, Layout::Struct) {
        if let Some(fields) = direct_fields(s, &plan, options.dtype)? {
            return struct_from_fields(name, s.len(), named(fields)?, None);
        }
    }
    let (slots, seen) = slots(s, &plan)?;
    let width = plan.names.len();
    let validity = seen
        .null
        .then(|| slots.iter().map(|&s| s != NULL_ROW).collect::<Bitmap>());
    match options.layout {
        Layout::Struct => {
            let fields = match options.dtype {
                IndicatorDtype::UInt8 | IndicatorDtype::Boolean => {
                    indicator_columns::<UInt8Type>(&slots, width)
                }
                IndicatorDtype::Float32 => indicator_columns::<Float32Type>(&slots, width),
                IndicatorDtype::Float64 => indicator_columns::<Float64Type>(&slots, width),
            };
            struct_from_fields(name, slots.len(), named(fields)?, validity)
        }
        Layout::Array => {
            let values = match options.dtype {
                IndicatorDtype::UInt8 | IndicatorDtype::Boolean => {
                    indicator_rows::<UInt8Type>(&slots, width)
                }
                IndicatorDtype::Float32 => indicator_rows::<Float32Type>(&slots, width),
                IndicatorDtype::Float64 => indicator_rows::<Float64Type>(&slots, width),
            };
            let values = as_dtype(values, options.dtype)?;
            array_from_flat(name, values, width, slots.len(), validity)
        }
    }
}

/// A value type of indicator fields: 1 for true and 0 for false.
trait Indicator: Copy + Send + Sync {
    fn indicator(on: bool) -> Self;
}

impl Indicator for u8 {
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        u8::from(on)
    }
}

impl Indicator for f32 {
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        f32::from(u8::from(on))
    }
}

impl Indicator for f64 {
    #[inline(always)]
    fn indicator(on: bool) -> Self {
        f64::from(u8::from(on))
    }
}

/// Indicators are written as UInt8 for a Boolean output, then packed into bits.
fn as_dtype(s: Series, dtype: IndicatorDtype) -> PolarsResult<Series> {
    match dtype {
        IndicatorDtype::Boolean => s.cast(&DataType::Boolean),
        _ => Ok(s),
    }
}

/// One indicator column per field, `col[j][row] = (slots[row] == j)`. Fewer than 255
/// fields are compared on slots narrowed to one byte, four times fewer bytes to read
/// once per field.
fn indicator_columns<P>(slots: &[u32], width: usize) -> Vec<Series>
where
    P: PolarsNumericType,
    P::Native: Indicator,
{
    if width < usize::from(u8::MAX) {
        let narrow: Vec<u8> = THREAD_POOL.install(|| {
            slots
                .par_iter()
                .map(|&s| u8::try_from(s).unwrap_or(u8::MAX))
                .collect()
        });
        let code_of: Vec<Option<u8>> = (0..width as u8).map(Some).collect();
        return compare_columns::<P, u8>(&narrow, &code_of);
    }
    let code_of: Vec<Option<u32>> = (0..width as u32).map(Some).collect();
    compare_columns::<P, u32>(slots, &code_of)
}

/// Indicator columns by comparing codes: `col[j][row] = (codes[row] == code_of[j])`, a
/// compare and a select per value, which vectorise; a field without a code is all zeros.
fn compare_columns<P, T>(codes: &[T], code_of: &[Option<T>]) -> Vec<Series>
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
fn par_columns<P: PolarsNumericType>(
    n: usize,
    width: usize,
    fill: impl Fn(usize, usize, &mut [MaybeUninit<P::Native>]) + Sync,
) -> Vec<Series> {
    let mut columns: Vec<Vec<P::Native>> = (0..width).map(|_| Vec::with_capacity(n)).collect();
    let tasks = n.div_ceil(TASK_ROWS);
    let mut pieces: Vec<Vec<&mut [MaybeUninit<P::Native>]>> =
        (0..tasks).map(|_| Vec::with_capacity(width)).collect();
    for column in columns.iter_mut() {
        let spare = &mut column.spare_capacity_mut()[..n];
        for (task, piece) in spare.chunks_mut(TASK_ROWS).enumerate() {
            pieces[task].push(piece);
        }
    }
    THREAD_POOL.install(|| {
        pieces
            .into_par_iter()
            .enumerate()
            .for_each(|(task, pieces)| {
                with_best_simd(
                    #[inline(always)]
                    || {
                        for (j, piece) in pieces.into_iter().enumerate() {
                            fill(j, task * TASK_ROWS, piece);
                        }
                    },
                )
            })
    });
    columns
        .into_iter()
        .map(|mut c| {
            // SAFETY: the tasks above wrote every one of the first `n` values.
            unsafe { c.set_len(n) };
            ChunkedArray::<P>::from_vec(PlSmallStr::EMPTY, c).into_series()
        })
        .collect()
}

/// Row-major indicators, `out[row * width + slot] = one`, filled in parallel.
fn indicator_rows<P>(slots: &[u32], width: usize) -> Series
where
    P: PolarsNumericType,
    P::Native: Indicator,
{
    let (zero, one) = (P::Native::indicator(false), P::Native::indicator(true));
    let mut out = vec![zero; slots.len() * width];
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

/// The special slots a pass wrote.
#[derive(Clone, Copy, Default)]
struct Seen {
    null: bool,
    unknown: bool,
}

impl Seen {
    fn of(slots: &[u32]) -> Self {
        let (null, unknown) = slots.iter().fold((false, false), |(n, u), &s| {
            (n | (s == NULL_ROW), u | (s == UNKNOWN))
        });
        Self { null, unknown }
    }

    fn or(self, other: Self) -> Self {
        Self {
            null: self.null | other.null,
            unknown: self.unknown | other.unknown,
        }
    }
}

/// `value` quoted for an error message, its first 100 characters when it is longer.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 100;
    match value.char_indices().nth(SHOWN) {
        None => format!("'{value}'"),
        Some((end, _)) => format!(
            "'{}…' ({} characters)",
            &value[..end],
            value.chars().count()
        ),
    }
}

/// The slot of every row, and which special slots appear: a parallel lookup pass, then
/// the `unknown` policy. An unknown value under `unknown="error"` is reported by its
/// first occurrence's value, whatever the threads, and without a row number: an
/// elementwise expression may be handed one batch of a longer column, whose rows it
/// cannot number.
fn slots(s: &Series, plan: &Plan) -> PolarsResult<(Vec<u32>, Seen)> {
    let null = plan.null_slot;
    let (mut out, mut seen) = match (s.dtype(), &plan.categories) {
        (DataType::String, Categories::String(cats)) => {
            let index = StrIndex::new(cats, &plan.category_slot);
            fill_slots(s.str()?.downcast_iter(), null, |arr, i| index.get(arr, i))
        }
        (
            DataType::Categorical(_, mapping) | DataType::Enum(_, mapping),
            Categories::String(cats),
        ) => {
            let lookup = CodeSlots::new(mapping, cats, plan);
            let codes = s.to_physical_repr();
            match codes.dtype() {
                DataType::UInt8 => code_slots(codes.u8()?, s.dtype(), &lookup, null),
                DataType::UInt16 => code_slots(codes.u16()?, s.dtype(), &lookup, null),
                _ => code_slots(codes.u32()?, s.dtype(), &lookup, null),
            }
        }
        (DataType::Boolean, Categories::Boolean(cats)) => {
            let slot_of = |b: bool| {
                cats.iter()
                    .position(|&c| c == b)
                    .map_or(UNKNOWN, |i| plan.category_slot[i])
            };
            let (f, t) = (slot_of(false), slot_of(true));
            fill_slots(s.bool()?.downcast_iter(), null, |arr, i| {
                if arr.value(i) {
                    t
                } else {
                    f
                }
            })
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
                fill_slots(s.u64()?.downcast_iter(), null, |arr, i| {
                    i64::try_from(arr.value(i)).map_or(UNKNOWN, slot_of)
                })
            } else {
                let ints = s.cast(&DataType::Int64)?;
                fill_slots(ints.i64()?.downcast_iter(), null, |arr, i| {
                    slot_of(arr.value(i))
                })
            }
        }
        (d, c) => polars_bail!(
            InvalidOperation: "one_hot categories of the wrong type for column '{}': got {}, \
            but the column has dtype {}", s.name(), c.kind(), d
        ),
    };
    if !seen.unknown {
        return Ok((out, seen));
    }
    let row = out.iter().position(|&slot| slot == UNKNOWN).unwrap_or(0);
    let Some(unknown) = plan.unknown_slot else {
        let value = s.slice(row as i64, 1).cast(&DataType::String)?;
        polars_bail!(
            ComputeError: "one_hot found the value {} in column '{}', which is not among its {} \
            categories; pass unknown=\"zeros\", \"null\" or \"other\" to accept it",
            quoted(value.str()?.get(0).unwrap_or_default()), s.name(), plan.categories.len()
        );
    };
    for slot in out[row..].iter_mut().filter(|s| **s == UNKNOWN) {
        *slot = unknown;
    }
    seen.null |= unknown == NULL_ROW;
    Ok((out, seen))
}

/// The slot of each category code of a Categorical or Enum column.
struct CodeSlots<'a> {
    mapping: &'a CategoricalMapping,
    by_label: PlHashMap<&'a str, u32>,
}

impl<'a> CodeSlots<'a> {
    fn new(mapping: &'a CategoricalMapping, cats: &'a [String], plan: &Plan) -> Self {
        Self {
            mapping,
            by_label: string_map(cats, &plan.category_slot),
        }
    }

    fn slot(&self, code: u32) -> u32 {
        self.mapping
            .cat_to_str(code)
            .and_then(|c| self.by_label.get(c).copied())
            .unwrap_or(UNKNOWN)
    }

    /// The slot of every code of `codes`, indexed by code: one lookup per category
    /// rather than per row. `None` when the mapping (a large shared Categorical) has
    /// far more categories than the column has rows.
    fn table<P>(&self, codes: &ChunkedArray<P>, dtype: &DataType) -> Option<Vec<u32>>
    where
        P: PolarsNumericType,
        P::Native: Into<u32>,
    {
        let size = match dtype {
            DataType::Enum(fcats, _) => fcats.categories().len(),
            _ => codes
                .downcast_iter()
                .flat_map(|arr| arr.values().iter().map(|&c| c.into() as usize + 1))
                .max()
                .unwrap_or(0),
        };
        (size <= 2 * codes.len() + 65_536).then(|| (0..size as u32).map(|c| self.slot(c)).collect())
    }
}

/// The slots of category codes.
fn code_slots<P>(
    codes: &ChunkedArray<P>,
    dtype: &DataType,
    lookup: &CodeSlots,
    null_slot: u32,
) -> (Vec<u32>, Seen)
where
    P: PolarsNumericType,
    P::Native: Into<u32>,
{
    let Some(table) = lookup.table(codes, dtype) else {
        return fill_slots(codes.downcast_iter(), null_slot, |arr, i| {
            lookup.slot(arr.values()[i].into())
        });
    };
    let mut seen = Seen::default();
    let out = fill_chunks(codes.downcast_iter(), |arr, piece| {
        let values = arr.values().as_slice();
        let nulls = arr.validity().filter(|v| v.unset_bits() > 0);
        seen = seen.or(par_fill(piece, |start, out| {
            let codes = &values[start..start + out.len()];
            for (o, &c) in out.iter_mut().zip(codes) {
                o.write(table.get(c.into() as usize).copied().unwrap_or(UNKNOWN));
            }
            if let Some(valid) = nulls {
                let valid = valid.clone().sliced(start, out.len());
                for (o, ok) in out.iter_mut().zip(valid.iter()) {
                    if !ok {
                        o.write(null_slot);
                    }
                }
            }
        }));
    });
    (out, seen)
}

/// The indicator fields of a Categorical or Enum column without nulls whose codes map
/// one to one onto fields, by [`compare_columns`]; `None` for any other column, which
/// goes through the slot pass.
fn direct_fields(
    s: &Series,
    plan: &Plan,
    dtype: IndicatorDtype,
) -> PolarsResult<Option<Vec<Series>>> {
    let (DataType::Categorical(_, mapping) | DataType::Enum(_, mapping), Categories::String(cats)) =
        (s.dtype(), &plan.categories)
    else {
        return Ok(None);
    };
    if s.has_nulls() {
        return Ok(None);
    }
    let lookup = CodeSlots::new(mapping, cats, plan);
    let codes = s.to_physical_repr().rechunk();
    let width = plan.names.len();
    Ok(match codes.dtype() {
        DataType::UInt8 => direct::<UInt8Type>(codes.u8()?, s.dtype(), &lookup, width, dtype),
        DataType::UInt16 => direct::<UInt16Type>(codes.u16()?, s.dtype(), &lookup, width, dtype),
        _ => direct::<UInt32Type>(codes.u32()?, s.dtype(), &lookup, width, dtype),
    })
}

fn direct<P>(
    codes: &ChunkedArray<P>,
    dtype: &DataType,
    lookup: &CodeSlots,
    width: usize,
    out: IndicatorDtype,
) -> Option<Vec<Series>>
where
    P: PolarsNumericType,
    P::Native: Into<u32> + num_traits::NumCast,
{
    let table = lookup.table(codes, dtype)?;
    let mut code_of: Vec<Option<P::Native>> = vec![None; width];
    for (code, &slot) in table.iter().enumerate() {
        match code_of.get_mut(slot as usize) {
            Some(entry @ None) => *entry = Some(num_traits::NumCast::from(code)?),
            // Codes of one mapping have distinct labels, so no field has two; a guard.
            Some(Some(_)) => return None,
            // The category `drop_first` drops: its rows are all zeros.
            None if slot == ZEROS => {}
            // An unknown category, resolved by the `unknown` policy in the slot pass.
            None => return None,
        }
    }
    let values = codes
        .downcast_iter()
        .next()
        .map_or(&[][..], |a| a.values().as_slice());
    Some(match out {
        IndicatorDtype::UInt8 | IndicatorDtype::Boolean => {
            compare_columns::<UInt8Type, _>(values, &code_of)
        }
        IndicatorDtype::Float32 => compare_columns::<Float32Type, _>(values, &code_of),
        IndicatorDtype::Float64 => compare_columns::<Float64Type, _>(values, &code_of),
    })
}

/// The slot of every row of `arrays`, filled in parallel: `null_slot` for a null row,
/// `slot(array, i)` for a valid one.
fn fill_slots<'a, A: Array + 'a>(
    arrays: impl Iterator<Item = &'a A>,
    null_slot: u32,
    slot: impl Fn(&A, usize) -> u32 + Sync,
) -> (Vec<u32>, Seen) {
    let mut seen = Seen::default();
    let out = fill_chunks(arrays, |arr, piece| {
        let nulls = arr.validity().filter(|v| v.unset_bits() > 0);
        seen = seen.or(par_fill(piece, |start, out| {
            for (i, o) in (start..).zip(out.iter_mut()) {
                // SAFETY: `i` is below the array's length, which is the bitmap's.
                let valid = nulls.is_none_or(|v| unsafe { v.get_bit_unchecked(i) });
                o.write(if valid { slot(arr, i) } else { null_slot });
            }
        }));
    });
    (out, seen)
}

/// One value per row of `arrays`, each array's piece of the output filled by `fill`.
fn fill_chunks<'a, A: Array + 'a>(
    arrays: impl Iterator<Item = &'a A>,
    mut fill: impl FnMut(&A, &mut [MaybeUninit<u32>]),
) -> Vec<u32> {
    let arrays: Vec<&A> = arrays.collect();
    let n = arrays.iter().map(|a| a.len()).sum();
    let mut out: Vec<u32> = Vec::with_capacity(n);
    let mut rest = &mut out.spare_capacity_mut()[..n];
    for arr in arrays {
        let (piece, tail) = rest.split_at_mut(arr.len());
        rest = tail;
        fill(arr, piece);
    }
    // SAFETY: `fill` wrote every value of the pieces, which cover the first `n` values.
    unsafe { out.set_len(n) };
    out
}

/// `f(start, out)` for each task's piece `out` of `all`, which starts at row `start`,
/// in parallel; `f` writes every value of its piece. Returns the special slots written.
fn par_fill(
    all: &mut [MaybeUninit<u32>],
    f: impl Fn(usize, &mut [MaybeUninit<u32>]) + Sync,
) -> Seen {
    THREAD_POOL.install(|| {
        all.par_chunks_mut(TASK_ROWS)
            .enumerate()
            .map(|(task, out)| {
                f(task * TASK_ROWS, out);
                // SAFETY: `f` wrote every value.
                Seen::of(unsafe { &*(out as *const [MaybeUninit<u32>] as *const [u32]) })
            })
            .reduce(Seen::default, Seen::or)
    })
}

/// Finds a string's slot from its 16-byte view: a string of at most 12 bytes is held in
/// the view itself, so equal short strings have equal views and one integer lookup
/// settles them; longer strings are hashed.
struct StrIndex<'a> {
    by_view: ViewTable,
    by_str: PlHashMap<&'a str, u32>,
}

impl<'a> StrIndex<'a> {
    fn new(cats: &'a [String], slots: &[u32]) -> Self {
        let strs: Vec<&str> = cats.iter().map(String::as_str).collect();
        let views = Utf8ViewArray::from_slice_values(&strs);
        let inline: Vec<(u128, u32)> = views
            .views()
            .iter()
            .zip(slots)
            .filter(|(v, _)| v.length <= View::MAX_INLINE_SIZE)
            .map(|(v, &slot)| (v.as_u128(), slot))
            .collect();
        Self {
            by_view: ViewTable::new(inline),
            by_str: string_map(cats, slots),
        }
    }

    #[inline]
    fn get(&self, arr: &Utf8ViewArray, i: usize) -> u32 {
        let view = arr.views()[i];
        if view.length <= View::MAX_INLINE_SIZE {
            if let Some(slot) = self.by_view.get(view.as_u128()) {
                return slot;
            }
        }
        // Long strings, and short ones whose view padding is not zeroed.
        self.by_str.get(arr.value(i)).copied().unwrap_or(UNKNOWN)
    }
}

/// A hash table from inline views to slots, by a multiply-shift hash of the view's two
/// words. When a multiplier is found that puts every view in a bucket of its own, as
/// for the few categories of a one-hot encoding, a lookup is one probe and no branch;
/// otherwise it probes linearly.
struct ViewTable {
    entries: Vec<(u128, u32)>,
    multiplier: u64,
    shift: u32,
    collision_free: bool,
}

impl ViewTable {
    /// Marks an empty entry: no inline view has a length of `u32::MAX`.
    const VACANT: u128 = u128::MAX;

    fn new(pairs: Vec<(u128, u32)>) -> Self {
        let least = (2 * pairs.len()).next_power_of_two().max(16);
        if pairs.len() <= 4096 {
            for size in [least, 4 * least, 16 * least] {
                for seed in 0..16u64 {
                    let table = Self::build(&pairs, size, seed, true);
                    if table.collision_free {
                        return table;
                    }
                }
            }
        }
        Self::build(&pairs, least, 0, false)
    }

    /// A table of `size` buckets. With `single` set it stops at the first collision,
    /// and the table it returns (with `collision_free` unset) is incomplete.
    fn build(pairs: &[(u128, u32)], size: usize, seed: u64, single: bool) -> Self {
        let mut table = Self {
            entries: vec![(Self::VACANT, 0); size],
            // An odd multiplier per seed, from the 64-bit golden ratio.
            multiplier: 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(2 * seed + 1) | 1,
            shift: 64 - size.trailing_zeros(),
            collision_free: true,
        };
        let mask = size - 1;
        for &(view, slot) in pairs {
            let mut i = table.bucket(view);
            while table.entries[i].0 != Self::VACANT && table.entries[i].0 != view {
                table.collision_free = false;
                if single {
                    return table;
                }
                i = (i + 1) & mask;
            }
            table.entries[i] = (view, slot);
        }
        table
    }

    #[inline(always)]
    fn bucket(&self, view: u128) -> usize {
        let mixed = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
        (mixed.wrapping_mul(self.multiplier) >> self.shift) as usize
    }

    #[inline(always)]
    fn get(&self, view: u128) -> Option<u32> {
        let mut i = self.bucket(view);
        if self.collision_free {
            let (key, slot) = self.entries[i];
            return (key == view).then_some(slot);
        }
        let mask = self.entries.len() - 1;
        loop {
            let (key, slot) = self.entries[i];
            if key == view {
                return Some(slot);
            }
            if key == Self::VACANT {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

fn string_map<'a>(cats: &'a [String], slots: &[u32]) -> PlHashMap<&'a str, u32> {
    cats.iter()
        .map(String::as_str)
        .zip(slots.iter().copied())
        .collect()
}
