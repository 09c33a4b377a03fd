//! One-hot encoding, Gumbel-Softmax relaxation and decoding of categorical data, as
//! Polars expressions (with the `python` feature) and as plain Rust functions on
//! [`polars::prelude::Series`].
//!
//! Dependencies point one way: the boundary (`expressions`, `ffi`, `python`) → the
//! operations (`onehot`, `numeric`, `softmax`, `gumbel`, `decode`, `codec`, `contingency`,
//! `correlation`) → [`blocks`] → the kernels ([`argmax`], [`mixture`]) → the leaves
//! (`real`, `simd`, `dispatch`, `par`, `fastmath`, `rng`, `tau`). A test fails on any
//! import against that direction or in a cycle.

// Leaves: no import of another module of this crate but leaves.
pub mod dispatch;
pub mod fastmath;
pub mod par;
pub mod real;
pub mod rng;
pub mod simd;
pub mod tau;

// Kernels.
pub mod argmax;
pub mod mixture;

// Reading, driving and rebuilding score blocks.
pub mod blocks;

// Operations on Series.
pub mod codec;
pub mod contingency;
pub mod correlation;
pub mod decode;
pub mod gumbel;
pub mod numeric;
pub mod onehot;
pub mod softmax;

// The plugin boundary; without the Python extension only its tests use it.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
mod ffi;

#[cfg(feature = "python")]
mod expressions;
#[cfg(feature = "python")]
mod python;

#[cfg(feature = "python")]
mod module {
    use pyo3::prelude::*;
    use pyo3_polars::PolarsAllocator;

    use crate::python::*;

    #[global_allocator]
    static ALLOC: PolarsAllocator = PolarsAllocator::new();

    #[pymodule]
    fn _internal(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add_function(wrap_pyfunction!(gumbel_noise, m)?)?;
        m.add_function(wrap_pyfunction!(philox_words, m)?)?;
        m.add_function(wrap_pyfunction!(simd_build, m)?)?;
        m.add_function(wrap_pyfunction!(uniforms, m)?)?;
        m.add_function(wrap_pyfunction!(derive_seed, m)?)?;
        m.add_function(wrap_pyfunction!(fit_mixture, m)?)?;
        m.add_function(wrap_pyfunction!(fit_numeric, m)?)?;
        m.add_function(wrap_pyfunction!(codec_from_columns, m)?)?;
        m.add_class::<CodecDocument>()?;
        Ok(())
    }
}
