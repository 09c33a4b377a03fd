//! `argmax` and `decode`: score blocks back to category indices and labels.
//!
//! Fixed-width blocks run the argmax [`LANES`] rows at a time, reading Struct fields in
//! place and Array rows with a stride; List blocks go row by row. Sampled decoding is
//! [`gumbel::sample`].
//!
//! An operation: imports [`crate::blocks`], [`crate::gumbel`], the kernels of
//! [`crate::argmax`] and the leaves.

use std::borrow::Cow;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use polars_core::prelude::FrozenCategories;
use serde::{Deserialize, Serialize};

use crate::argmax::{argmax_lanes, argmax_row, Argmax, LANES};
use crate::blocks::read::{and_validity, array_of, array_rows, struct_columns, Columns, Strided};
use crate::blocks::{compute_dtype, Blocks};
use crate::dispatch::with_match_real;
use crate::gumbel;
use crate::par::{choice_buffers, choice_pieces, par_tasks, Choices, ROWS_PER_TASK};
use crate::real::Real;
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
pub fn labels<'a>(field: &Field, options: &'a DecodeOptions) -> PolarsResult<Cow<'a, [String]>> {
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
        (Some(labels), _) => Cow::Borrowed(&labels[..]),
        (None, DataType::Struct(fields)) => {
            let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            Cow::Owned(labels_from_fields(field, &names, options)?)
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

/// The output field of [`decode`]: the labels' dtype, known without building them
/// where the dtype alone says (String; an Enum needs its categories, Boolean and
/// integer labels their parse).
pub fn decode_field(field: &Field, options: &DecodeOptions) -> PolarsResult<Field> {
    let labels = labels(field, options)?;
    let dtype = match options.dtype {
        LabelDtype::String => DataType::String,
        LabelDtype::Enum => enum_dtype(&labels, options)?,
        _ => label_values(&labels, options)?.dtype().clone(),
    };
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
        "argmax",
        Method::Argmax,
        1.0,
        &no_noise.0,
        &no_noise.1,
        false,
    )?;
    Ok(UInt32Chunked::from_vec_validity(s.name().clone(), idx, valid).into_series())
}

/// Every row's index by `method` (an all-zero row is null under argmax) and the rows'
/// validity: what `decode` takes its labels by, for a block whose rows mean something
/// else (a numeric column's mode block).
pub fn indices(
    s: &Series,
    method: Method,
    tau: f64,
    noise: &Noise,
    ids: &RowIds,
) -> PolarsResult<(Vec<u32>, Option<Bitmap>)> {
    choices(s, "decode", method, tau, noise, ids, true)
}

/// Every row's chosen index and the row validity, read in the cheapest way for the
/// layout: fixed-width blocks a tile of rows at a time when no noise is needed, row by
/// row otherwise.
fn choices(
    s: &Series,
    expr: &str,
    method: Method,
    tau: f64,
    noise: &Noise,
    ids: &RowIds,
    zero_is_null: bool,
) -> PolarsResult<(Vec<u32>, Option<Bitmap>)> {
    with_match_real!(compute_dtype(s.dtype(), expr)?, |$T| {
        if method == Method::Sample {
            return gumbel::sample::<$T>(s, tau, noise, ids);
        }
        if let Some(found) = fixed_width_argmax::<$T>(s, zero_is_null)? {
            return Ok(found);
        }
        let b = Blocks::<$T>::read(s, expr)?;
        Ok(b.map_rows(
            #[inline(always)]
            |_, x| row_argmax(x, zero_is_null),
        ))
    })
}

/// Where one fixed-width block's scores are read from, for [`lanes_argmax`].
trait Scores<T>: Sync {
    fn width(&self) -> usize;
    /// Category `j` of rows `row..row + LANES`.
    fn lanes(&self, row: usize, j: usize) -> [T; LANES];
    /// Category `j` of one row.
    fn one(&self, row: usize, j: usize) -> T;
    /// The scores of one row, when they are contiguous and so many that one row at a
    /// time is faster than [`LANES`] side by side.
    fn long_row(&self, _row: usize) -> Option<&[T]> {
        None
    }
}

/// A Struct block's fields, read in place.
struct Fields<'a, T: Clone>(Columns<'a, T>);

impl<T: Real> Scores<T> for Fields<'_, T> {
    fn width(&self) -> usize {
        self.0.len()
    }

    #[inline(always)]
    fn lanes(&self, row: usize, j: usize) -> [T; LANES] {
        let column = &self.0[j];
        // Many fields are read side by side: fetch each a little ahead, into L2 (into
        // L1 the many lines in flight evict each other).
        #[cfg(target_arch = "x86_64")]
        if let Some(ahead) = column.get(row + PREFETCH_ROWS) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
            // SAFETY: a prefetch of an address inside the column.
            unsafe { _mm_prefetch::<_MM_HINT_T1>((ahead as *const T).cast()) }
        }
        column[row..row + LANES]
            .try_into()
            .unwrap_or([T::ZERO; LANES])
    }

    #[inline(always)]
    fn one(&self, row: usize, j: usize) -> T {
        self.0[j][row]
    }
}

impl<T: Real> Scores<T> for Strided<'_, T> {
    fn width(&self) -> usize {
        self.width
    }

    #[inline(always)]
    fn lanes(&self, row: usize, j: usize) -> [T; LANES] {
        // SAFETY: `lanes_argmax` asks for whole groups of rows below the rows read and
        // categories below the width.
        unsafe { self.lanes_unchecked::<LANES>(row, j) }
    }

    #[inline(always)]
    fn one(&self, row: usize, j: usize) -> T {
        self.at(row, j)
    }

    #[inline(always)]
    fn long_row(&self, row: usize) -> Option<&[T]> {
        (self.width >= 2 * LANES).then(|| self.row(row))
    }
}

/// The argmax of one row given whole, with the rules of [`argmax_lanes`].
#[inline(always)]
fn row_argmax<T: Argmax>(x: &[T], zero_is_null: bool) -> Option<u32> {
    let i = argmax_row(x)?;
    let all_zero = x[i] == T::ZERO && x.iter().all(|&v| v == T::ZERO);
    (!(zero_is_null && all_zero)).then_some(i as u32)
}

/// The index of every row's largest score, lowest on ties, for fixed-width blocks:
/// Struct fields read in place, Array rows with a stride. The path of `argmax` and
/// argmax `decode`; `None` for List blocks, whose rows vary in width.
fn fixed_width_argmax<T: Argmax>(
    s: &Series,
    zero_is_null: bool,
) -> PolarsResult<Option<(Vec<u32>, Option<Bitmap>)>> {
    let (found, validity) = match s.dtype() {
        DataType::Struct(_) => {
            let fields = s.struct_()?.fields_as_series();
            let (columns, validity) = struct_columns::<T>(s, &fields)?;
            (
                lanes_argmax(s.len(), &[Fields(columns)], zero_is_null),
                validity,
            )
        }
        DataType::Array(_, _) => {
            let (rows, validity) = array_rows::<T>(s, None)?;
            (lanes_argmax(s.len(), &[rows], zero_is_null), validity)
        }
        _ => return Ok(None),
    };
    let [(idx, found)] =
        <[_; 1]>::try_from(found).map_err(|_| polars_err!(ComputeError: "one block was read"))?;
    Ok(Some((idx, validity_of(found, s.len(), validity))))
}

/// The rows' validity: the groups' bytes and the input's, `None` when every row is valid.
fn validity_of(found: Vec<u8>, len: usize, input: Option<Bitmap>) -> Option<Bitmap> {
    let found = Bitmap::from_u8_vec(found, len);
    and_validity(Some(found), input.as_ref()).filter(|v| v.unset_bits() > 0)
}

/// The argmax of every row of every block in `sources`, in one parallel pass over the
/// rows: a group of [`LANES`] rows runs every block before the next group, so a matrix
/// of blocks side by side is read once. A block runs its group's rows side by side
/// ([`argmax_lanes`]), or one at a time when its rows are long; the rows left over
/// after the last whole group run one at a time. Returns each block's indices and the
/// validity bytes of its groups (a row a bit).
fn lanes_argmax<T: Argmax, S: Scores<T>>(len: usize, sources: &[S], zero_is_null: bool) -> Choices {
    let mut out = choice_buffers(sources.len(), len);
    par_tasks(
        choice_pieces(&mut out, len),
        #[inline(always)]
        |task, mut pieces: Vec<(&mut [u32], &mut [u8])>| {
            let start = task * ROWS_PER_TASK;
            let rows = pieces.first().map_or(0, |(idx, _)| idx.len());
            let full = rows / LANES * LANES;
            for g in 0..full / LANES {
                let (at, off) = (start + g * LANES, g * LANES);
                for (source, (idx, found)) in sources.iter().zip(pieces.iter_mut()) {
                    let out = &mut idx[off..off + LANES];
                    found[g] = match source.long_row(at) {
                        Some(_) => {
                            let mut mask = 0u8;
                            for (l, o) in out.iter_mut().enumerate() {
                                let row = source.long_row(at + l).unwrap_or_default();
                                let i = row_argmax(row, zero_is_null);
                                *o = i.unwrap_or(0);
                                mask |= u8::from(i.is_some()) << l;
                            }
                            mask
                        }
                        None => {
                            let (i, m) = argmax_lanes(
                                source.width(),
                                zero_is_null,
                                #[inline(always)]
                                |j| source.lanes(at, j),
                            );
                            out.copy_from_slice(&i);
                            m
                        }
                    };
                }
            }
            for r in full..rows {
                for (source, (idx, found)) in sources.iter().zip(pieces.iter_mut()) {
                    let (i, m) = argmax_lanes(
                        source.width(),
                        zero_is_null,
                        #[inline(always)]
                        |j| [source.one(start + r, j); LANES],
                    );
                    idx[r] = i[0];
                    found[r / LANES] |= (m & 1) << (r % LANES);
                }
            }
        },
    );
    out
}

/// Every row's label: by argmax or by a Gumbel-max draw, as String or Enum.
pub fn decode(s: &Series, key: Option<&Series>, options: &DecodeOptions) -> PolarsResult<Series> {
    check_tau(options.tau)?;
    polars_ensure!(
        options.span.is_none(),
        InvalidOperation: "decode reads every score of a row; a span of a matrix's rows is \
        decoded by decode_matrix"
    );
    let labels = labels(&s.field(), options)?;
    let ids = RowIds::from_key(key, s.len())?;
    let noise = Noise::seeded_or_fresh(options.seed);
    let (idx, valid) = choices(s, "decode", options.method, options.tau, &noise, &ids, true)?;
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

/// Options of [`decode_matrix`]: the name of each decoded column and the options of its
/// block, whose `span` says where its scores are in the matrix's row. Every block has
/// the same `method` and `tau`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MatrixDecodeOptions {
    pub names: Vec<String>,
    pub blocks: Vec<DecodeOptions>,
}

impl MatrixDecodeOptions {
    /// The method, tau and spans of the blocks, checked.
    fn checked(&self) -> PolarsResult<(Method, f64, Vec<Range<usize>>)> {
        polars_ensure!(
            !self.blocks.is_empty() && self.names.len() == self.blocks.len(),
            InvalidOperation: "decode_matrix expects one name per block: got {} names for {} blocks",
            self.names.len(), self.blocks.len()
        );
        let (method, tau) = (self.blocks[0].method, self.blocks[0].tau);
        let mut spans = Vec::with_capacity(self.blocks.len());
        for (name, block) in self.names.iter().zip(&self.blocks) {
            let Some(span) = block.span.clone() else {
                polars_bail!(InvalidOperation: "decode_matrix: the block '{}' has no span", name);
            };
            polars_ensure!(
                block.method == method && block.tau == tau,
                InvalidOperation: "decode_matrix: every block is decoded with one method and tau"
            );
            spans.push(span);
        }
        Ok((method, tau, spans))
    }
}

/// The output field of [`decode_matrix`]: a Struct of the decoded columns.
pub fn decode_matrix_field(field: &Field, options: &MatrixDecodeOptions) -> PolarsResult<Field> {
    options.checked()?;
    let fields = options
        .names
        .iter()
        .zip(&options.blocks)
        .map(|(name, block)| {
            let dtype = decode_field(field, block)?.dtype().clone();
            Ok(Field::new(name.as_str().into(), dtype))
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(Field::new(field.name().clone(), DataType::Struct(fields)))
}

/// Every block of a matrix column (an `Array(_, D)` of every variable's scores side by
/// side: the codec's matrix) decoded to its labels, as [`decode`] decodes each block
/// given alone, in one parallel pass over the rows: a Struct of the decoded columns.
/// Each block's scores are read in place from its span of the row.
pub fn decode_matrix(
    s: &Series,
    key: Option<&Series>,
    options: &MatrixDecodeOptions,
) -> PolarsResult<Series> {
    Ok(decode_matrix_and(s, key, options, &[], Vec::new())?.0)
}

/// Each span's chosen index per row and the rows' validity.
pub type SpanChoices = Vec<(Vec<u32>, Option<Bitmap>)>;

/// [`decode_matrix`], and in the same pass over the matrix the choices of the `extra`
/// spans, each with its own noise (a numeric column's mode block, whose rows mean
/// something other than labels).
pub fn decode_matrix_and(
    s: &Series,
    key: Option<&Series>,
    options: &MatrixDecodeOptions,
    extra: &[Range<usize>],
    extra_noises: Vec<Noise>,
) -> PolarsResult<(Series, SpanChoices)> {
    let (method, tau, mut spans) = options.checked()?;
    check_tau(tau)?;
    let blocks = spans.len();
    spans.extend(extra.iter().cloned());
    let field = s.field();
    let labels = options
        .blocks
        .iter()
        .map(|b| labels(&field, b))
        .collect::<PolarsResult<Vec<_>>>()?;
    let ids = RowIds::from_key(key, s.len())?;
    let noises: Vec<Noise> = options
        .blocks
        .iter()
        .map(|b| Noise::seeded_or_fresh(b.seed))
        .chain(extra_noises)
        .collect();
    let mut choices = with_match_real!(compute_dtype(s.dtype(), "decode")?, |$T| {
        span_choices::<$T>(s, &spans, method, tau, &noises, &ids)?
    });
    let extra = choices.split_off(blocks);
    // Each column's labels gathered in a task of its own, as separate expressions would.
    let work = options
        .names
        .iter()
        .zip(&options.blocks)
        .zip(labels.iter().zip(choices))
        .collect();
    let fields = par_tasks(
        work,
        #[inline(always)]
        |_, ((name, block), (labels, (idx, valid)))| {
            let idx = IdxCa::from_vec_validity(name.as_str().into(), idx, valid);
            Ok(label_values(labels, block)?
                .take(&idx)?
                .with_name(name.as_str().into()))
        },
    )
    .into_iter()
    .collect::<PolarsResult<Vec<_>>>()?;
    let decoded = StructChunked::from_series(s.name().clone(), s.len(), fields.iter())?;
    Ok((decoded.into_series(), extra))
}

/// Every span's chosen index and validity, for every row of the matrix `s`: argmax, or
/// a Gumbel-max draw with each span's own noise. The matrix is read once, as one chunk
/// of `T`; every span is a view of it.
pub fn span_choices<T: Argmax>(
    s: &Series,
    spans: &[Range<usize>],
    method: Method,
    tau: f64,
    noises: &[Noise],
    ids: &RowIds,
) -> PolarsResult<Vec<(Vec<u32>, Option<Bitmap>)>> {
    let s = array_of::<T>(s)?;
    let (rows, validity): (Vec<Strided<'_, T>>, Vec<Option<Bitmap>>) = spans
        .iter()
        .map(|span| array_rows::<T>(&s, Some(span.clone())))
        .collect::<PolarsResult<Vec<_>>>()?
        .into_iter()
        .unzip();
    let len = s.len();
    if method == Method::Sample {
        return gumbel::sample_spans(len, &rows, validity, tau, noises, ids);
    }
    Ok(lanes_argmax(len, &rows, true)
        .into_iter()
        .zip(validity)
        .map(|((idx, found), input)| (idx, validity_of(found, len, input)))
        .collect())
}
