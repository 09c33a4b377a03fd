//! The two float types scores are computed in.

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Sub, SubAssign};

use polars::prelude::*;

/// The float types scores are computed in: `f32` for Float32 blocks, `f64` otherwise.
pub trait Real:
    NumericNative
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    type Polars: PolarsNumericType<Native = Self>;
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    const INFINITY: Self;
    fn narrow(x: f64) -> Self;
    fn widen(self) -> f64;
    fn is_nan(self) -> bool;
}

macro_rules! impl_real {
    ($t:ty, $p:ty) => {
        impl Real for $t {
            type Polars = $p;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const INFINITY: Self = <$t>::INFINITY;
            #[inline(always)]
            fn narrow(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn widen(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
impl_real!(f32, Float32Type);
impl_real!(f64, Float64Type);
