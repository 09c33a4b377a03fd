//! One-hot encoding, Gumbel-Softmax relaxation and decoding of categorical data, as
//! Polars expressions (with the `python` feature) and as plain Rust functions on
//! [`polars::prelude::Series`].

pub mod argmax;
pub mod blocks;
pub mod codec;
pub mod decode;
pub mod fastmath;
// The plugin boundary; without the Python extension only its tests use it.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
mod ffi;
pub mod gumbel;
pub mod layout;
pub mod onehot;
pub mod real;
pub mod rng;
pub mod simd;
pub mod softmax;

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
        m.add_function(wrap_pyfunction!(derive_seed, m)?)?;
        m.add_function(wrap_pyfunction!(codec_from_columns, m)?)?;
        m.add_function(wrap_pyfunction!(codec_normalize, m)?)?;
        m.add_function(wrap_pyfunction!(codec_encode_kwargs, m)?)?;
        m.add_function(wrap_pyfunction!(codec_decode_kwargs, m)?)?;
        m.add_function(wrap_pyfunction!(codec_blocks, m)?)?;
        Ok(())
    }
}
