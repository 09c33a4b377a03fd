//! The plugin's expressions: for each, its output-field function and its Series
//! function, and the two C entry points Polars calls.
//!
//! The entry points are written by [`expressions!`] around [`ffi::field_entry`] and
//! [`ffi::expression_entry`] rather than by `#[polars_expr]`, whose generated code
//! unwraps the input import and the error message: an input dtype this build cannot
//! read, or a message holding a NUL byte, then surfaces as "the plugin panicked" (or,
//! outside its `catch_unwind`, aborts). Here every input is checked, every message
//! escaped, and Enum / Categorical inputs take the fast import of [`ffi`].
//!
//! The boundary: thin wrappers that import the operations ([`crate::onehot`],
//! [`crate::softmax`], [`crate::gumbel`], [`crate::decode`], [`crate::contingency`],
//! [`crate::correlation`]), [`crate::blocks`] (for output dtypes) and [`crate::ffi`].

use polars::prelude::*;
use polars_arrow::ffi::ArrowSchema;
use pyo3_polars::derive::CallerContext;
use pyo3_polars::export::polars_ffi::version_0::SeriesExport;
use serde::Deserialize;

use crate::blocks::{block_dtype, compute_dtype};
use crate::contingency::{self, CountOptions, ValuesOptions};
use crate::correlation::{self, CorrelationOptions};
use crate::decode::{self, DecodeOptions};
use crate::ffi;
use crate::gumbel::{self, Activation, GumbelOptions, SpansOptions};
use crate::numeric::{self, DenormalizeOptions, NormalizeOptions, TableOptions};
use crate::onehot::{self, MatrixOptions, OneHotOptions};
use crate::softmax::{self, SoftmaxOptions};

/// The options of an expression that takes none.
#[derive(Deserialize)]
struct NoOptions {}

/// The scores and the optional `key` column.
fn scores_and_key<'a, T>(items: &'a [T], expr: &str) -> PolarsResult<(&'a T, Option<&'a T>)> {
    match items {
        [scores] => Ok((scores, None)),
        [scores, key] => Ok((scores, Some(key))),
        _ => polars_bail!(InvalidOperation: "{} expects 1 or 2 inputs, got {}", expr, items.len()),
    }
}

fn single<'a, T>(items: &'a [T], expr: &str) -> PolarsResult<&'a T> {
    match items {
        [one] => Ok(one),
        _ => {
            polars_bail!(InvalidOperation: "{} expects one input column, got {}", expr, items.len())
        }
    }
}

/// The value dtype of a score column, or an error naming the expression, the column
/// and the dtype.
fn scores_dtype(scores: &Field, expr: &str) -> PolarsResult<DataType> {
    compute_dtype(scores.dtype(), expr)
        .map(|d| d.dtype())
        .map_err(|e| e.wrap_msg(|m| format!("{m} (column '{}')", scores.name())))
}

/// Errors unless the `key` column is an integer or a String column.
fn check_key(key: Option<&Field>, expr: &str) -> PolarsResult<()> {
    let Some(key) = key else { return Ok(()) };
    let dtype = key.dtype();
    // The integers up to 64 bits (a key counts as its u64 bits) and String.
    let wide = matches!(dtype, DataType::Int128 | DataType::UInt128);
    let fits = dtype == &DataType::String || (dtype.is_integer() && !wide);
    polars_ensure!(
        fits,
        InvalidOperation: "{} expects the key to be an integer or String column, got {} \
        (column '{}')", expr, dtype, key.name()
    );
    Ok(())
}

/// The scores have K = 0 in every row: a Struct without fields or an `Array(_, 0)`.
/// Every row of such a block is null, which the output field gives without a kernel.
fn empty_block(s: &Series) -> bool {
    matches!(s.dtype(), DataType::Array(_, 0))
        || matches!(s.dtype(), DataType::Struct(fields) if fields.is_empty())
}

/// An all-null column of `field`'s dtype, as long as `s`.
fn all_null(s: &Series, field: Field) -> PolarsResult<Series> {
    match field.dtype() {
        DataType::Array(inner, 0) => ffi::null_blocks(field.name().clone(), inner, s.len()),
        dtype => Ok(Series::full_null(field.name().clone(), s.len(), dtype)),
    }
}

fn one_hot_output(fields: &[Field], options: OneHotOptions) -> PolarsResult<Field> {
    onehot::one_hot_field(single(fields, "one_hot")?, &options)
}

fn one_hot(inputs: &[Series], options: OneHotOptions) -> PolarsResult<Series> {
    onehot::one_hot(single(inputs, "one_hot")?, &options)
}

fn one_hot_matrix_output(fields: &[Field], options: MatrixOptions) -> PolarsResult<Field> {
    onehot::one_hot_matrix_field(fields, &options)
}

fn one_hot_matrix(inputs: &[Series], options: MatrixOptions) -> PolarsResult<Series> {
    onehot::one_hot_matrix(inputs, &options)
}

/// The output of `softmax`, `log_softmax` and `gumbel_softmax`: the input's layout.
fn block_output(fields: &[Field], expr: &str) -> PolarsResult<Field> {
    let (scores, key) = scores_and_key(fields, expr)?;
    check_key(key, expr)?;
    let value = scores_dtype(scores, expr)?;
    // Its rows would all be null (K = 0), and Polars cannot take back a null row of
    // `Array(_, 0)` from a plugin.
    polars_ensure!(
        !matches!(scores.dtype(), DataType::Array(_, 0)),
        InvalidOperation: "{} expects at least one score per row, got {} (column '{}')",
        expr, scores.dtype(), scores.name()
    );
    Ok(Field::new(
        scores.name().clone(),
        block_dtype(scores.dtype(), &value),
    ))
}

/// Runs `f` on the scores of `inputs`, or gives the all-null result of K = 0 blocks.
fn on_blocks(
    inputs: &[Series],
    expr: &str,
    output: impl FnOnce(&[Field]) -> PolarsResult<Field>,
    f: impl FnOnce(&Series, Option<&Series>) -> PolarsResult<Series>,
) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, expr)?;
    if empty_block(scores) {
        let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
        return all_null(scores, output(&fields)?);
    }
    f(scores, key)
}

fn softmax_output(fields: &[Field], _: SoftmaxOptions) -> PolarsResult<Field> {
    block_output(fields, "softmax")
}

fn softmax(inputs: &[Series], options: SoftmaxOptions) -> PolarsResult<Series> {
    let output = |f: &[Field]| softmax_output(f, options);
    on_blocks(inputs, "softmax", output, |s, _| {
        softmax::softmax(s, &options)
    })
}

fn log_softmax_output(fields: &[Field], _: SoftmaxOptions) -> PolarsResult<Field> {
    block_output(fields, "log_softmax")
}

fn log_softmax(inputs: &[Series], options: SoftmaxOptions) -> PolarsResult<Series> {
    let output = |f: &[Field]| log_softmax_output(f, options);
    on_blocks(inputs, "log_softmax", output, |s, _| {
        softmax::log_softmax(s, &options)
    })
}

fn gumbel_softmax_output(fields: &[Field], _: GumbelOptions) -> PolarsResult<Field> {
    block_output(fields, "gumbel_softmax")
}

fn gumbel_softmax(inputs: &[Series], options: GumbelOptions) -> PolarsResult<Series> {
    let output = |f: &[Field]| gumbel_softmax_output(f, options);
    on_blocks(inputs, "gumbel_softmax", output, |s, key| {
        gumbel::gumbel_softmax(s, key, &options)
    })
}

fn gumbel_softmax_spans_output(fields: &[Field], _: SpansOptions) -> PolarsResult<Field> {
    let (scores, _) = scores_and_key(fields, "gumbel_softmax")?;
    polars_ensure!(
        matches!(scores.dtype(), DataType::Array(_, _)),
        InvalidOperation: "gumbel_softmax of a matrix expects an Array column holding every \
        block of the row, got {} (column '{}')", scores.dtype(), scores.name()
    );
    block_output(fields, "gumbel_softmax")
}

fn gumbel_softmax_spans(inputs: &[Series], options: SpansOptions) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, "gumbel_softmax")?;
    gumbel::gumbel_softmax_spans(scores, key, &options)
}

fn argmax_output(fields: &[Field], _: NoOptions) -> PolarsResult<Field> {
    let scores = single(fields, "argmax")?;
    scores_dtype(scores, "argmax")?;
    decode::argmax_field(scores)
}

fn argmax(inputs: &[Series], _: NoOptions) -> PolarsResult<Series> {
    let output = |f: &[Field]| argmax_output(f, NoOptions {});
    single(inputs, "argmax")?;
    on_blocks(inputs, "argmax", output, |s, _| decode::argmax(s))
}

fn decode_output(fields: &[Field], options: DecodeOptions) -> PolarsResult<Field> {
    let (scores, key) = scores_and_key(fields, "decode")?;
    check_key(key, "decode")?;
    scores_dtype(scores, "decode")?;
    decode::decode_field(scores, &options)
}

fn decode(inputs: &[Series], options: DecodeOptions) -> PolarsResult<Series> {
    let output = |f: &[Field]| decode_output(f, options.clone());
    on_blocks(inputs, "decode", output, |s, key| {
        decode::decode(s, key, &options)
    })
}

fn decode_matrix_output(fields: &[Field], options: TableOptions) -> PolarsResult<Field> {
    let (scores, key) = scores_and_key(fields, "decode")?;
    check_key(key, "decode")?;
    scores_dtype(scores, "decode")?;
    numeric::decode_table_field(scores, &options)
}

fn decode_matrix(inputs: &[Series], options: TableOptions) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, "decode")?;
    numeric::decode_table(scores, key, &options)
}

fn normalize_output(fields: &[Field], options: NormalizeOptions) -> PolarsResult<Field> {
    let (values, key) = scores_and_key(fields, "normalize")?;
    check_key(key, "normalize")?;
    numeric::normalize_field(values, &options)
}

fn normalize(inputs: &[Series], options: NormalizeOptions) -> PolarsResult<Series> {
    let (values, key) = scores_and_key(inputs, "normalize")?;
    numeric::normalize(values, key, &options)
}

fn denormalize_output(fields: &[Field], options: DenormalizeOptions) -> PolarsResult<Field> {
    let (scores, key) = scores_and_key(fields, "decode")?;
    check_key(key, "decode")?;
    scores_dtype(scores, "decode")?;
    numeric::denormalize_field(scores, &options)
}

fn denormalize(inputs: &[Series], options: DenormalizeOptions) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, "decode")?;
    numeric::denormalize(scores, key, &options)
}

/// Options of `activate`.
#[derive(Deserialize)]
struct ActivateOptions {
    activation: Activation,
}

fn activate_output(fields: &[Field], _: ActivateOptions) -> PolarsResult<Field> {
    let values = single(fields, "activate")?;
    polars_ensure!(
        values.dtype().is_primitive_numeric(),
        InvalidOperation: "activate expects a numeric column, got {} (column '{}')",
        values.dtype(), values.name()
    );
    let dtype = if values.dtype() == &DataType::Float32 {
        DataType::Float32
    } else {
        DataType::Float64
    };
    Ok(Field::new(values.name().clone(), dtype))
}

fn activate(inputs: &[Series], options: ActivateOptions) -> PolarsResult<Series> {
    gumbel::activate(single(inputs, "activate")?, options.activation)
}

fn counts_output(fields: &[Field], options: CountOptions) -> PolarsResult<Field> {
    contingency::counts_field(fields, &options)
}

fn counts(inputs: &[Series], options: CountOptions) -> PolarsResult<Series> {
    contingency::counts(inputs, &options)
}

fn distinct_values_output(fields: &[Field], _: ValuesOptions) -> PolarsResult<Field> {
    contingency::distinct_values_field(fields)
}

fn distinct_values(inputs: &[Series], options: ValuesOptions) -> PolarsResult<Series> {
    contingency::distinct_values(inputs, &options)
}

fn ks_gaps_output(fields: &[Field], _: NoOptions) -> PolarsResult<Field> {
    contingency::ks_gaps_field(fields)
}

fn ks_gaps(inputs: &[Series], _: NoOptions) -> PolarsResult<Series> {
    contingency::ks_gaps(inputs)
}

fn correlations_output(fields: &[Field], options: CorrelationOptions) -> PolarsResult<Field> {
    correlation::correlations_field(fields, &options)
}

fn correlations(inputs: &[Series], options: CorrelationOptions) -> PolarsResult<Series> {
    correlation::correlations(inputs, &options)
}

/// The two C entry points of each expression: `$field` (its output field, at plan
/// time) and `$compute` (its result), around the functions named after it.
macro_rules! expressions {
    ($($name:literal: $options:ty, $field:ident => $output:ident, $compute:ident => $run:ident;)*) => {$(
        /// # Safety
        /// Called by Polars with the pointers of a plugin field function.
        #[no_mangle]
        pub unsafe extern "C" fn $field(
            fields: *mut ArrowSchema,
            len: usize,
            return_value: *mut ArrowSchema,
            kwargs_ptr: *const u8,
            kwargs_len: usize,
        ) {
            let kwargs = (kwargs_ptr, kwargs_len);
            unsafe { ffi::field_entry::<$options>($name, fields, len, kwargs, return_value, $output) }
        }

        /// # Safety
        /// Called by Polars with the pointers of a plugin expression function.
        #[no_mangle]
        pub unsafe extern "C" fn $compute(
            inputs: *mut SeriesExport,
            input_len: usize,
            kwargs_ptr: *const u8,
            kwargs_len: usize,
            return_value: *mut SeriesExport,
            _context: *mut CallerContext,
        ) {
            let kwargs = (kwargs_ptr, kwargs_len);
            unsafe {
                ffi::expression_entry::<$options>($name, inputs, input_len, kwargs, return_value, $run)
            }
        }
    )*};
}

expressions! {
    "one_hot": OneHotOptions,
        _polars_plugin_field_one_hot => one_hot_output, _polars_plugin_one_hot => one_hot;
    "softmax": SoftmaxOptions,
        _polars_plugin_field_softmax => softmax_output, _polars_plugin_softmax => softmax;
    "log_softmax": SoftmaxOptions,
        _polars_plugin_field_log_softmax => log_softmax_output,
        _polars_plugin_log_softmax => log_softmax;
    "gumbel_softmax": GumbelOptions,
        _polars_plugin_field_gumbel_softmax => gumbel_softmax_output,
        _polars_plugin_gumbel_softmax => gumbel_softmax;
    "one_hot_matrix": MatrixOptions,
        _polars_plugin_field_one_hot_matrix => one_hot_matrix_output,
        _polars_plugin_one_hot_matrix => one_hot_matrix;
    "gumbel_softmax_spans": SpansOptions,
        _polars_plugin_field_gumbel_softmax_spans => gumbel_softmax_spans_output,
        _polars_plugin_gumbel_softmax_spans => gumbel_softmax_spans;
    "argmax": NoOptions,
        _polars_plugin_field_argmax => argmax_output, _polars_plugin_argmax => argmax;
    "decode": DecodeOptions,
        _polars_plugin_field_decode => decode_output, _polars_plugin_decode => decode;
    "normalize": NormalizeOptions,
        _polars_plugin_field_normalize => normalize_output, _polars_plugin_normalize => normalize;
    "denormalize": DenormalizeOptions,
        _polars_plugin_field_denormalize => denormalize_output,
        _polars_plugin_denormalize => denormalize;
    "activate": ActivateOptions,
        _polars_plugin_field_activate => activate_output, _polars_plugin_activate => activate;
    "decode_matrix": TableOptions,
        _polars_plugin_field_decode_matrix => decode_matrix_output,
        _polars_plugin_decode_matrix => decode_matrix;
    "counts": CountOptions,
        _polars_plugin_field_counts => counts_output, _polars_plugin_counts => counts;
    "distinct_values": ValuesOptions,
        _polars_plugin_field_distinct_values => distinct_values_output,
        _polars_plugin_distinct_values => distinct_values;
    "ks_gaps": NoOptions,
        _polars_plugin_field_ks_gaps => ks_gaps_output, _polars_plugin_ks_gaps => ks_gaps;
    "correlations": CorrelationOptions,
        _polars_plugin_field_correlations => correlations_output,
        _polars_plugin_correlations => correlations;
}
