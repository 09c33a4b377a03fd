//! Plain Python functions of `_internal`: the codec document's logic and test access to
//! the noise, so the Python package keeps no second copy of either.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde::de::DeserializeOwned;

use crate::codec::{Codec, EncodeLayout};
use crate::decode::Method;
use crate::onehot::IndicatorDtype;
use crate::rng::Noise;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn parse_codec(json: &str) -> PyResult<Codec> {
    Codec::from_json(json).map_err(value_error)
}

/// An option given by its Python name (`"flat"`, `"float32"`, `"sample"`, …).
fn option<T: DeserializeOwned>(name: &str, value: &str) -> PyResult<T> {
    serde_json::from_value(serde_json::Value::String(value.into()))
        .map_err(|_| PyValueError::new_err(format!("unknown {name} {value:?}")))
}

/// The Gumbel noise `g(row, j)` for `j < k` of each row counter under `seed`, as a
/// Float64 block draws it, or a Float32 block when `float32`.
#[pyfunction]
#[pyo3(signature = (seed, rows, k, float32=false))]
pub fn gumbel_noise(seed: u64, rows: Vec<u64>, k: usize, float32: bool) -> Vec<Vec<f64>> {
    let noise = Noise::new(seed);
    rows.iter()
        .map(|&r| {
            if float32 {
                let mut g = vec![0f32; k];
                noise.fill_row(r, &mut g);
                g.into_iter().map(f64::from).collect()
            } else {
                let mut g = vec![0f64; k];
                noise.fill_row(r, &mut g);
                g
            }
        })
        .collect()
}

/// The four Philox4x32-10 words of counter `(row, block)` under `seed`.
#[pyfunction]
pub fn philox_words(seed: u64, row: u64, block: u32) -> [u32; 4] {
    Noise::new(seed).words(row, block)
}

/// The seed of the named stream of `seed` (one per column in a codec).
#[pyfunction]
pub fn derive_seed(seed: u64, stream: &str) -> u64 {
    Noise::derive_seed(seed, stream)
}

/// A codec document around `columns` (a JSON list of column entries).
#[pyfunction]
pub fn codec_from_columns(columns: &str) -> PyResult<String> {
    let columns = serde_json::from_str(columns).map_err(value_error)?;
    Ok(Codec::new(columns).map_err(value_error)?.to_json())
}

/// A codec document checked and re-serialised.
#[pyfunction]
pub fn codec_normalize(json: &str) -> PyResult<String> {
    Ok(parse_codec(json)?.to_json())
}

/// `[[column, one_hot kwargs], …]` as JSON.
#[pyfunction]
pub fn codec_encode_kwargs(json: &str, layout: &str, dtype: &str) -> PyResult<String> {
    let codec = parse_codec(json)?;
    let layout: EncodeLayout = option("layout", layout)?;
    let dtype: IndicatorDtype = option("dtype", dtype)?;
    let plan: Vec<_> = codec
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.one_hot_options(layout, dtype)))
        .collect();
    serde_json::to_string(&plan).map_err(value_error)
}

/// `[[column, decode kwargs], …]` as JSON.
#[pyfunction]
#[pyo3(signature = (json, method, tau, seed=None))]
pub fn codec_decode_kwargs(
    json: &str,
    method: &str,
    tau: f64,
    seed: Option<u64>,
) -> PyResult<String> {
    let codec = parse_codec(json)?;
    let method: Method = option("method", method)?;
    let plan: Vec<_> = codec
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.decode_options(method, tau, seed)))
        .collect();
    serde_json::to_string(&plan).map_err(value_error)
}

/// `(column, start, stop, labels)`: a block's span over the flat feature columns.
type BlockSpan = (String, usize, usize, Vec<String>);

/// Every block's span over the flat feature columns.
#[pyfunction]
pub fn codec_blocks(json: &str) -> PyResult<Vec<BlockSpan>> {
    Ok(parse_codec(json)?
        .blocks()
        .into_iter()
        .map(|b| (b.column, b.start, b.stop, b.labels))
        .collect())
}
