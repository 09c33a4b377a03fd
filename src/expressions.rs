//! The `#[polars_expr]` wrappers: unpack the inputs, call the Series-level function.

use polars::prelude::*;
use pyo3_polars::derive::polars_expr;

use crate::blocks::{block_dtype, compute_dtype};
use crate::decode::{self, DecodeOptions};
use crate::onehot::{self, OneHotOptions};
use crate::softmax::{self, GumbelOptions, SoftmaxOptions};

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

fn one_hot_output(fields: &[Field], kwargs: OneHotOptions) -> PolarsResult<Field> {
    onehot::one_hot_field(single(fields, "one_hot")?, &kwargs)
}

#[polars_expr(output_type_func_with_kwargs = one_hot_output)]
fn one_hot(inputs: &[Series], kwargs: OneHotOptions) -> PolarsResult<Series> {
    onehot::one_hot(single(inputs, "one_hot")?, &kwargs)
}

fn block_output(fields: &[Field]) -> PolarsResult<Field> {
    let (scores, _) = scores_and_key(fields, "softmax")?;
    let value = compute_dtype(scores.dtype(), "softmax")?;
    Ok(Field::new(
        scores.name().clone(),
        block_dtype(scores.dtype(), &value),
    ))
}

#[polars_expr(output_type_func = block_output)]
fn softmax(inputs: &[Series], kwargs: SoftmaxOptions) -> PolarsResult<Series> {
    softmax::softmax(single(inputs, "softmax")?, &kwargs)
}

#[polars_expr(output_type_func = block_output)]
fn log_softmax(inputs: &[Series], kwargs: SoftmaxOptions) -> PolarsResult<Series> {
    softmax::log_softmax(single(inputs, "log_softmax")?, &kwargs)
}

#[polars_expr(output_type_func = block_output)]
fn gumbel_softmax(inputs: &[Series], kwargs: GumbelOptions) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, "gumbel_softmax")?;
    softmax::gumbel_softmax(scores, key, &kwargs)
}

fn argmax_output(fields: &[Field]) -> PolarsResult<Field> {
    decode::argmax_field(single(fields, "argmax")?)
}

#[polars_expr(output_type_func = argmax_output)]
fn argmax(inputs: &[Series]) -> PolarsResult<Series> {
    decode::argmax(single(inputs, "argmax")?)
}

fn decode_output(fields: &[Field], kwargs: DecodeOptions) -> PolarsResult<Field> {
    decode::decode_field(scores_and_key(fields, "decode")?.0, &kwargs)
}

#[polars_expr(output_type_func_with_kwargs = decode_output)]
fn decode(inputs: &[Series], kwargs: DecodeOptions) -> PolarsResult<Series> {
    let (scores, key) = scores_and_key(inputs, "decode")?;
    decode::decode(scores, key, &kwargs)
}
