//! `argmax` and `decode`: score blocks back to category indices and labels.
//!
//! Fixed-width blocks run the argmax [`LANES`] rows at a time, reading Struct fields in
//! place and Array rows with a stride; List blocks go row by row. Sampled decoding is
//! [`gumbel::sample`].
//!
//! An operation: imports [`crate::blocks`], [`crate::gumbel`], the kernels of
//! [`crate::argmax`] and the leaves.

use std::ops::Range;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use polars_core::prelude::FrozenCategories;
use serde::{Deserialize, Serialize};

use crate::argmax::{argmax_lanes, argmax_row, lanes_of, Argmax, LANES};
use crate::blocks::read::{and_validity, array_rows, struct_columns};
use crate::blocks::{compute_dtype, Blocks};
use crate::dispatch::with_match_real;
use crate::gumbel;
use crate::par::{par_tasks, row_pieces, ROWS_PER_TASK};
use crate::rng::{Noise, RowIds};
use crate::tau::check_tau;

/// How far ahead a Struct field is fetched while its rows are read eight at a time.
const PREFETCH_ROWS: usize = 64;

/// How a label is chosen from a row's scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The largest score (lowest index on ties); an all-zero row is null.
    #[default]
    Argmax,
    /// A draw from `softmax(scores / tau)` by the Gumbel-max trick.
    Sample,
}

/// The dtype of decoded labels: the labels themselves, an Enum, or the labels parsed
/// as booleans (`false` / `true`) or integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelDtype {
    #[default]
    String,
    Enum,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    #[serde(rename = "uint8")]
    UInt8,
    #[serde(rename = "uint16")]
    UInt16,
    #[serde(rename = "uint32")]
    UInt32,
    #[serde(rename = "uint64")]
    UInt64,
}

impl LabelDtype {
    fn parsed_dtype(self) -> Option<DataType> {
        Some(match self {
            Self::String | Self::Enum => return None,
            Self::Boolean => DataType::Boolean,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::UInt8 => DataType::UInt8,
            Self::UInt16 => DataType::UInt16,
            Self::UInt32 => DataType::UInt32,
            Self::UInt64 => DataType::UInt64,
        })
    }
}

/// Options of [`decode`], also the plugin's keyword arguments.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DecodeOptions {
    pub labels: Option<Vec<String>>,
    pub method: Method,
    pub tau: f64,
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
    pub prefix: Option<String>,
    pub separator: String,
    pub dtype: LabelDtype,
    /// The Enum's categories when they are not the labels themselves (a superset).
    pub categories: Option<Vec<String>>,
    /// Labels that decode to null: the inverse of `one_hot(nulls="category")`, and a
    /// codec's `other` label for dtypes that cannot hold it.
    pub null_labels: Vec<String>,
    /// The scores are these columns of each row of an Array (one variable's span of
    /// the codec's matrix), read in place; `None`: every score of the row.
    pub span: Option<Range<usize>>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            labels: None,
            method: Method::Argmax,
            tau: 1.0,
            seed: None,
            prefix: None,
            separator: "_".into(),
            dtype: LabelDtype::String,
            categories: None,
            null_labels: Vec::new(),
            span: None,
        }
    }
}

fn ensure_unique(items: &[String], what: &str) -> PolarsResult<()> {
    let mut seen = PlHashSet::with_capacity(items.len());
    for item in items {
        polars_ensure!(seen.insert(item.as_str()), InvalidOperation: "duplicate {} '{}'", what, item);
    }
    Ok(())
}

/// The struct field names with their common `{prefix}{separator}` removed: the given
/// prefix, else the column's name when every field starts with it, else the longest
/// common start that ends with the separator.
fn labels_from_fields(
    field: &Field,
    names: &[&str],
    options: &DecodeOptions,
) -> PolarsResult<Vec<String>> {
    let sep = options.separator.as_str();
    let strip = |prefix: &str| -> Option<Vec<String>> {
        let head = format!("{prefix}{sep}");
        names
            .iter()
            .map(|n| n.strip_prefix(head.as_str()).map(String::from))
            .collect()
    };
    if let Some(prefix) = &options.prefix {
        return strip(prefix).ok_or_else(|| {
            polars_err!(
                InvalidOperation: "decode: not every field of column '{}' starts with '{}{}': {:?}",
                field.name(), prefix, sep, names
            )
        });
    }
    if let Some(labels) = strip(field.name()) {
        return Ok(labels);
    }
    let first = names.first().copied().unwrap_or("");
    let mut common = first.len();
    for n in names {
        common = common.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let head = match first.get(..common).and_then(|c| c.rfind(sep)) {
        Some(at) if !sep.is_empty() => at + sep.len(),
        _ => 0,
    };
    Ok(names
        .iter()
        .map(|n| n.get(head..).unwrap_or(n).to_string())
        .collect())
}

/// The labels of a score column, known without data.
pub fn labels(field: &Field, options: &DecodeOptions) -> PolarsResult<Vec<String>> {
    compute_dtype(field.dtype(), "decode")?;
    let width = match (field.dtype(), &options.span) {
        (DataType::Array(_, w), Some(span)) => {
            polars_ensure!(
                span.start < span.end && span.end <= *w,
                InvalidOperation: "decode: the scores {}..{} are not within the {} scores of \
                each row of column '{}'", span.start, span.end, w, field.name()
            );
            Some(span.len())
        }
        (d, Some(_)) => polars_bail!(
            InvalidOperation: "decode of a span of scores expects an Array column, got {} \
            (column '{}')", d, field.name()
        ),
        (DataType::Struct(fields), None) => Some(fields.len()),
        (DataType::Array(_, w), None) => Some(*w),
        _ => None,
    };
    let labels = match (&options.labels, field.dtype()) {
        (Some(labels), _) => labels.clone(),
        (None, DataType::Struct(fields)) => {
            let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            labels_from_fields(field, &names, options)?
        }
        (None, d) => polars_bail!(
            InvalidOperation: "decode of column '{}' of dtype {} needs `labels`: only Struct \
            fields carry them", field.name(), d
        ),
    };
    if let Some(width) = width {
        polars_ensure!(
            labels.len() == width,
            InvalidOperation: "decode: column '{}' has {} scores per row, but {} labels were given",
            field.name(), width, labels.len()
        );
    }
    ensure_unique(&labels, "label")?;
    Ok(labels)
}

fn enum_dtype(labels: &[String], options: &DecodeOptions) -> PolarsResult<DataType> {
    let values: Vec<String> = labels
        .iter()
        .filter(|l| !options.null_labels.contains(l))
        .cloned()
        .collect();
    let categories = options.categories.as_deref().unwrap_or(&values);
    ensure_unique(categories, "Enum category")?;
    let known: PlHashSet<&str> = categories.iter().map(String::as_str).collect();
    if let Some(missing) = values.iter().find(|l| !known.contains(l.as_str())) {
        polars_bail!(InvalidOperation: "decode: label '{}' is not among the Enum's categories", missing);
    }
    let fcats = FrozenCategories::new(categories.iter().map(String::as_str))?;
    Ok(DataType::from_frozen_categories(fcats))
}

/// Label `i` of the output, in the output dtype, at position `i`: what every row's
/// choice is gathered from. The `null_labels` are null.
pub fn label_values(labels: &[String], options: &DecodeOptions) -> PolarsResult<Series> {
    let strings: StringChunked = labels
        .iter()
        .map(|l| (!options.null_labels.contains(l)).then_some(l.as_str()))
        .collect();
    let strings = strings.into_series();
    match (options.dtype, options.dtype.parsed_dtype()) {
        (LabelDtype::String, _) => Ok(strings),
        (LabelDtype::Enum, _) => strings.strict_cast(&enum_dtype(labels, options)?),
        (LabelDtype::Boolean, _) => {
            let parsed = strings
                .str()?
                .iter()
                .map(|l| match l {
                    None => Ok(None),
                    Some("true") => Ok(Some(true)),
                    Some("false") => Ok(Some(false)),
                    Some(other) => polars_bail!(
                        InvalidOperation: "decode to Boolean: label '{}' is neither 'true' nor 'false'", other
                    ),
                })
                .collect::<PolarsResult<BooleanChunked>>()?;
            Ok(parsed.into_series())
        },
        (_, Some(dtype)) => strings.strict_cast(&dtype).map_err(|_| {
            polars_err!(InvalidOperation: "decode to {}: the labels {:?} are not all integers in its range", dtype, labels)
        }),
        (_, None) => Ok(strings),
    }
}

/// The output field of [`decode`]: the labels' dtype.
pub fn decode_field(field: &Field, options: &DecodeOptions) -> PolarsResult<Field> {
    let labels = labels(field, options)?;
    let dtype = label_values(&labels, options)?.dtype().clone();
    Ok(Field::new(field.name().clone(), dtype))
}

/// The output field of [`argmax`].
pub fn argmax_field(field: &Field) -> PolarsResult<Field> {
    compute_dtype(field.dtype(), "argmax")?;
    Ok(Field::new(field.name().clone(), DataType::UInt32))
}

/// The index of every row's largest score, lowest on ties, as UInt32.
pub fn argmax(s: &Series) -> PolarsResult<Series> {
    let no_noise = (Noise::new(0), RowIds::Position);
    let (idx, valid) = choices(
        s,
        None,
        "argmax",
        Method::Argmax,
        1.0,
        &no_noise.0,
        &no_noise.1,
        false,
    )?;
    Ok(UInt32Chunked::from_vec_validity(s.name().clone(), idx, valid).into_series())
}

/// Every row's chosen index and the row validity, read in the cheapest way for the
/// layout: fixed-width blocks a tile of rows at a time when no noise is needed, row by
/// row otherwise. `span`: the scores are those columns of each Array row.
#[allow(clippy::too_many_arguments)]
fn choices(
    s: &Series,
    span: Option<Range<usize>>,
    expr: &str,
    method: Method,
    tau: f64,
    noise: &Noise,
    ids: &RowIds,
    zero_is_null: bool,
) -> PolarsResult<(Vec<u32>, Option<Bitmap>)> {
    with_match_real!(compute_dtype(s.dtype(), expr)?, |$T| {
        if method == Method::Sample {
            return gumbel::sample::<$T>(s, span, tau, noise, ids);
        }
        if let Some(found) = fixed_width_argmax::<$T>(s, span, zero_is_null)? {
            return Ok(found);
        }
        let b = Blocks::<$T>::read(s, expr)?;
        Ok(b.map_rows(
            #[inline(always)]
            |_, x| {
                let i = argmax_row(x)?;
                let all_zero = x[i] == 0.0 && x.iter().all(|&v| v == 0.0);
                (!(zero_is_null && all_zero)).then_some(i as u32)
            },
        ))
    })
}

/// The index of every row's largest score, lowest on ties, for the fixed-width layouts,
/// [`LANES`] rows at a time (see [`argmax_lanes`]): Struct fields are read in place,
/// Array rows with a stride (a span of them too). The path of `argmax` and argmax
/// `decode`; `None` for List blocks, whose rows vary in width, and for long whole
/// Array rows, faster row by row.
fn fixed_width_argmax<T: Argmax>(
    s: &Series,
    span: Option<Range<usize>>,
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
        DataType::Array(_, width) if *width < 2 * LANES || span.is_some() => {
            let (rows, validity) = array_rows::<T>(s, span)?;
            let (values, stride, offset, width) =
                (&rows.values[..], rows.stride, rows.offset, rows.width);
            let len = s.len();
            assert!(len == 0 || values.len() >= (len - 1) * stride + offset + width);
            Some(lanes_argmax(
                len,
                width,
                validity,
                zero_is_null,
                #[inline(always)]
                // SAFETY: `lanes_argmax` reads rows `row..row + LANES` below `len` and
                // categories below `width`: inside `values` (asserted above).
                |row, j| {
                    lanes_of(|l| unsafe { *values.get_unchecked((row + l) * stride + offset + j) })
                },
                #[inline(always)]
                |row, j| rows.at(row, j),
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
    T: Argmax,
    L: Fn(usize, usize) -> [T; LANES] + Sync,
    O: Fn(usize, usize) -> T + Sync,
{
    let mut idx = vec![0u32; len];
    let mut found = vec![0u8; len.div_ceil(LANES)];
    let pieces = row_pieces(&mut idx, len, |r| r)
        .into_iter()
        .zip(row_pieces(&mut found, len, |r| r.div_ceil(LANES)))
        .collect();
    par_tasks(
        pieces,
        #[inline(always)]
        |task, (idx, found): (&mut [u32], &mut [u8])| {
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
    );
    let found = Bitmap::from_u8_vec(found, len);
    let valid = and_validity(Some(found), validity.as_ref()).filter(|v| v.unset_bits() > 0);
    (idx, valid)
}

/// Every row's label: by argmax or by a Gumbel-max draw, as String or Enum.
pub fn decode(s: &Series, key: Option<&Series>, options: &DecodeOptions) -> PolarsResult<Series> {
    check_tau(options.tau)?;
    let labels = labels(&s.field(), options)?;
    let ids = RowIds::from_key(key, s.len())?;
    let noise = Noise::seeded_or_fresh(options.seed);
    let span = options.span.clone();
    let (idx, valid) = choices(
        s,
        span,
        "decode",
        options.method,
        options.tau,
        &noise,
        &ids,
        true,
    )?;
    let valid_at = |r: usize| valid.as_ref().is_none_or(|v| v.get_bit(r));
    // Struct and Array rows have exactly one score per label (`labels` checks); only
    // List rows can have more.
    let too_far = matches!(s.dtype(), DataType::List(_))
        && idx
            .iter()
            .enumerate()
            .any(|(r, &i)| valid_at(r) && i as usize >= labels.len());
    // No row number: an elementwise expression is handed one batch at a time, so the
    // plugin cannot know where a row stands in the whole column.
    if too_far {
        polars_bail!(
            ComputeError: "decode: column '{}' has a block of more scores than the {} labels",
            s.name(), labels.len()
        );
    }
    let values = label_values(&labels, options)?;
    let idx = IdxCa::from_vec_validity(s.name().clone(), idx, valid);
    Ok(values.take(&idx)?.with_name(s.name().clone()))
}
