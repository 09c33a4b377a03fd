//! `softmax` and `log_softmax` over score blocks: `gumbel_softmax`'s kernels with no
//! noise ([`crate::gumbel::softmax`]), so that one row-max / exp / sum pass serves all
//! three. Struct and Array blocks run eight rows at a time in vectors, List blocks row
//! by row, with the same bits. Exponents are `(x − max) · (1 / tau)` in the block's
//! float type, their sum in `f64`. A row with NaN or `+inf`, or with no finite score
//! (all `-inf`, or K = 0), is null.
//!
//! An operation: its options; imports [`crate::gumbel`] (the kernels).

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gumbel;

/// Options of [`softmax`] and [`log_softmax`].
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub struct SoftmaxOptions {
    pub tau: f64,
}

/// `softmax(scores / tau)` per row, in the layout of `s`.
pub fn softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    gumbel::softmax(s, options.tau, false)
}

/// `log_softmax(scores / tau)` per row, in the layout of `s`.
pub fn log_softmax(s: &Series, options: &SoftmaxOptions) -> PolarsResult<Series> {
    gumbel::softmax(s, options.tau, true)
}
