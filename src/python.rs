//! Plain Python functions of `_internal`: the codec document's logic and its plans, the
//! uniforms training-by-sampling draws from, and test access to the noise, so the
//! Python package keeps no second copy of either.
//!
//! The boundary: imports [`crate::codec`] and what its signatures name, and the
//! mixture fit ([`crate::mixture`]) and the vector build ([`crate::simd`]) for tests.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::de::DeserializeOwned;

use polars::prelude::PolarsResult;

use crate::blocks::Layout;
use crate::codec::{Codec, Draw, Entry, FrameColumn, Step, MATRIX};
use crate::decode::Method;
use crate::dispatch::IndicatorDtype;
use crate::mixture::{self, MixtureOptions};
use crate::numeric::{self, FitOptions, NumericDtype, Transform};
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

/// The build of the vector kernels this process takes: `"avx512"`, `"avx2"` or
/// `"portable"` (tests check that each is what they compare).
#[pyfunction]
pub fn simd_build() -> &'static str {
    crate::simd::build_name()
}

/// The four Philox4x32-10 words of counter `(row, group)` under `seed`.
#[pyfunction]
pub fn philox_words(seed: u64, row: u64, group: u32) -> [u32; 4] {
    Noise::new(seed).words(row, group)
}

/// The Float64 uniforms `u(row, j)`, `j < n`, of counter row `row` under `seed`, as a
/// read-only numpy `float64` array over the bytes written once (training-by-sampling
/// draws its columns, categories and rows from them).
#[pyfunction]
pub fn uniforms<'py>(
    py: Python<'py>,
    seed: u64,
    row: u64,
    n: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if n as u128 > 1u128 << 33 {
        return Err(PyValueError::new_err(format!(
            "uniforms: at most 2**33 per counter row, got {n}"
        )));
    }
    let noise = Noise::new(seed);
    // Written in place: Python allocates the one buffer (or raises MemoryError).
    let bytes = PyBytes::new_with(py, n * 8, |buf| {
        for (group, out) in buf.chunks_mut(16).enumerate() {
            let pair = noise.uniform_pair_f64(row, group as u32);
            for (out, u) in out.chunks_exact_mut(8).zip(pair) {
                out.copy_from_slice(&u.to_le_bytes());
            }
        }
        Ok(())
    })?;
    py.import("numpy")?
        .call_method1("frombuffer", (bytes, "<f8"))
}

/// `(modes, iterations, converged, lower_bound)`: the mixture fit of `values` weighted
/// by `counts`, each mode `(weight, mean, std)`, for tests against other fits.
type MixtureFit = (Vec<(f64, f64, f64)>, usize, bool, f64);

/// The mixture fit of `values` weighted by `counts` ([`crate::mixture::fit`]).
#[pyfunction]
#[pyo3(signature = (values, counts, max_components=10, concentration=0.001, seed=0, n_init=None))]
pub fn fit_mixture(
    values: Vec<f64>,
    counts: Vec<f64>,
    max_components: usize,
    concentration: f64,
    seed: u64,
    n_init: Option<usize>,
) -> PyResult<MixtureFit> {
    let defaults = MixtureOptions::default();
    let options = MixtureOptions {
        max_components,
        concentration,
        seed,
        n_init: n_init.unwrap_or(defaults.n_init),
        ..defaults
    };
    let (modes, report) = mixture::fit(&values, &counts, &options).map_err(value_error)?;
    let modes = modes.iter().map(|m| (m.weight, m.mean, m.std)).collect();
    Ok((
        modes,
        report.iterations,
        report.converged,
        report.lower_bound,
    ))
}

/// A numeric column's entry as JSON, and the mixture fit's report `(iterations,
/// converged, lower_bound)` when there was one.
type NumericFit = (String, Option<(usize, bool, f64)>);

/// A numeric column's codec entry, as JSON: fitted with `transform` (`"mode"`,
/// `"standard"`, `"minmax"`) on its distinct non-null `values` and their `counts`,
/// with `nulls` null values; `dtype` is the entry's dtype as JSON. With the fit's
/// report `(iterations, converged, lower_bound)` for a mixture.
#[pyfunction]
#[pyo3(signature = (name, dtype, values, counts, nulls, transform="mode", max_modes=10, seed=0))]
#[allow(clippy::too_many_arguments)]
pub fn fit_numeric(
    name: &str,
    dtype: &str,
    values: Vec<f64>,
    counts: Vec<f64>,
    nulls: usize,
    transform: &str,
    max_modes: usize,
    seed: u64,
) -> PyResult<NumericFit> {
    let dtype: NumericDtype = serde_json::from_str(dtype).map_err(value_error)?;
    let transform: Transform = option("transform", transform)?;
    let options = FitOptions {
        transform,
        max_modes,
        seed,
    };
    let (column, report) =
        numeric::fit(name, dtype, &values, &counts, nulls, &options).map_err(value_error)?;
    let entry = serde_json::to_string(&column).map_err(value_error)?;
    Ok((
        entry,
        report.map(|r| (r.iterations, r.converged, r.lower_bound)),
    ))
}

/// The seed of the named stream of `seed` (one per column in a codec).
#[pyfunction]
pub fn derive_seed(seed: u64, stream: &str) -> u64 {
    Noise::derive_seed(seed, stream)
}

/// A codec document around `columns` (a JSON list of column entries), its feature
/// names joining column and label with `separator`, and the fitted table's column
/// order when `table` names it.
#[pyfunction]
#[pyo3(signature = (columns, separator="_", table=None))]
pub fn codec_from_columns(
    columns: &str,
    separator: &str,
    table: Option<Vec<String>>,
) -> PyResult<String> {
    let columns: Vec<Entry> = serde_json::from_str(columns).map_err(value_error)?;
    let mut codec = Codec::with_separator(columns, separator).map_err(value_error)?;
    if let Some(table) = table {
        codec = codec.with_table(table).map_err(value_error)?;
    }
    Ok(codec.to_json())
}

/// A codec document, checked once when it is read; its names, spans and plans after,
/// without reading it again.
#[pyclass(frozen, module = "polars_gumbel._internal")]
pub struct CodecDocument {
    codec: Codec,
}

/// `(column, start, stop, labels)`: a block's span over the flat feature columns.
type BlockTuple = (String, usize, usize, Vec<String>);
/// `(column, start, stop, activation)`: a span of the flat feature columns.
type SpanTuple = (String, usize, usize, String);

#[pymethods]
impl CodecDocument {
    #[new]
    fn new(json: &str) -> PyResult<Self> {
        Ok(Self {
            codec: parse_codec(json)?,
        })
    }

    /// The document, checked and re-serialised.
    fn to_json(&self) -> String {
        self.codec.to_json()
    }

    /// Every column's block over the flat feature columns, with its labels.
    fn blocks(&self) -> Vec<BlockTuple> {
        self.codec
            .blocks()
            .into_iter()
            .map(|b| (b.column, b.start, b.stop, b.labels))
            .collect()
    }

    /// Every span of the flat feature columns with its activation.
    fn spans(&self) -> PyResult<Vec<SpanTuple>> {
        self.codec
            .spans()
            .into_iter()
            .map(|s| {
                let activation = serde_json::to_value(s.activation).map_err(value_error)?;
                let activation = activation.as_str().unwrap_or_default().to_string();
                Ok((s.column, s.start, s.stop, activation))
            })
            .collect()
    }

    /// The flat feature columns of every block, in order.
    fn feature_names(&self) -> Vec<String> {
        self.codec.feature_names()
    }

    /// [`Codec::encode_plan`] as JSON.
    #[pyo3(signature = (columns, layout, dtype, matrix=MATRIX, method="sample", seed=None, key=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_plan(
        &self,
        columns: &str,
        layout: &str,
        dtype: &str,
        matrix: &str,
        method: &str,
        seed: Option<u64>,
        key: Option<String>,
    ) -> PyResult<String> {
        let layout: Layout = option("layout", layout)?;
        let dtype: IndicatorDtype = option("dtype", dtype)?;
        let draw = Draw {
            method: option("method", method)?,
            seed,
            key,
        };
        plan_json(
            self.codec
                .encode_plan(&frame_columns(columns)?, layout, dtype, matrix, &draw),
        )
    }

    /// [`Codec::decode_plan`] as JSON.
    #[pyo3(signature = (columns, method, tau, seed=None, key=None, matrix=None))]
    fn decode_plan(
        &self,
        columns: &str,
        method: &str,
        tau: f64,
        seed: Option<u64>,
        key: Option<&str>,
        matrix: Option<&str>,
    ) -> PyResult<String> {
        let method: Method = option("method", method)?;
        plan_json(
            self.codec
                .decode_plan(&frame_columns(columns)?, method, tau, seed, key, matrix),
        )
    }

    /// [`Codec::gumbel_plan`] as JSON.
    #[pyo3(signature = (columns, tau, hard, seed=None, key=None, matrix=None))]
    fn gumbel_plan(
        &self,
        columns: &str,
        tau: f64,
        hard: bool,
        seed: Option<u64>,
        key: Option<&str>,
        matrix: Option<&str>,
    ) -> PyResult<String> {
        plan_json(
            self.codec
                .gumbel_plan(&frame_columns(columns)?, tau, hard, seed, key, matrix),
        )
    }
}

/// A frame's columns given as JSON: `[{"name": …, "fields": [… or null]}, …]`.
fn frame_columns(columns: &str) -> PyResult<Vec<FrameColumn>> {
    serde_json::from_str(columns).map_err(value_error)
}

/// A plan as JSON, each step's `options` as the JSON text the plugin reads: Python
/// passes them on without reading them (a block's options may hold 100,000 labels).
fn plan_json(plan: PolarsResult<Vec<Step>>) -> PyResult<String> {
    let mut plan = serde_json::to_value(plan.map_err(value_error)?).map_err(value_error)?;
    for step in plan.as_array_mut().into_iter().flatten() {
        let inner = step.as_object_mut().and_then(|s| s.values_mut().next());
        if let Some(options) = inner.and_then(|i| i.get_mut("options")) {
            *options = serde_json::Value::String(options.to_string());
        }
    }
    Ok(plan.to_string())
}
