//! The temperature `tau` of the softmax family and of sampled decoding: its check, and
//! its reciprocal in a float type.
//!
//! A leaf: imports only [`crate::real`].

use polars::prelude::*;

use crate::real::Real;

/// Errors unless `tau` is finite and positive.
pub fn check_tau(tau: f64) -> PolarsResult<()> {
    polars_ensure!(
        tau.is_finite() && tau > 0.0,
        ComputeError: "tau must be finite and > 0, got {}", tau
    );
    Ok(())
}

/// `1 / tau` in `T`, clamped to `T`'s positive normal range, so that multiplying a
/// score difference by it never gives NaN (`0 · ∞`, `−∞ · 0`): a `tau` whose reciprocal
/// overflows acts as the smallest `tau` that does not.
pub fn inv_tau<T: Real>(tau: f64) -> T {
    T::narrow((1.0 / tau).clamp(T::MIN_POSITIVE.widen(), T::MAX.widen()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_must_be_finite_and_positive() {
        for bad in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(check_tau(bad).is_err(), "{bad}");
        }
        for good in [f64::MIN_POSITIVE / 4.0, 1e-300, 0.5, 1.0, 1e300] {
            assert!(check_tau(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_reciprocal_stays_normal_and_finite() {
        assert_eq!(inv_tau::<f64>(0.5), 2.0);
        assert_eq!(inv_tau::<f32>(4.0), 0.25);
        assert_eq!(inv_tau::<f64>(5e-324), f64::MAX);
        assert_eq!(inv_tau::<f32>(1e-300), f32::MAX);
        assert_eq!(inv_tau::<f32>(1e300), f32::MIN_POSITIVE);
    }
}
