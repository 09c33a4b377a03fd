//! The two float types scores are computed in, [`Real`]: the arithmetic, constants and
//! lane operations every kernel is written over.
//!
//! A leaf: imports [`crate::simd`], [`crate::fastmath`] and [`crate::rng`] (whose
//! [`NoiseFloat`] gives each type its noise).

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Sub, SubAssign};

use polars::prelude::*;

use crate::fastmath;
use crate::rng::NoiseFloat;
use crate::simd::{Isa, LANES};

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
    + NoiseFloat
{
    type Polars: PolarsNumericType<Native = Self>;
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    const INFINITY: Self;
    /// The smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// The largest finite value.
    const MAX: Self;
    fn narrow(x: f64) -> Self;
    /// `e^x` lane by lane, for `x ≤ 0`, by [`fastmath`]: 0 at `-inf`.
    fn exp_lanes<S: Isa>(x: Self::V<S>) -> Self::V<S>;
    /// The lanes as `f64`, exactly.
    fn widen_lanes<S: Isa>(x: Self::V<S>) -> S::F64;
    /// `f64` lanes rounded to the type, as [`Real::narrow`] rounds one.
    fn narrow_lanes<S: Isa>(x: S::F64) -> Self::V<S>;
    /// `acc + x`, `x` widened to `f64`.
    #[inline(always)]
    fn accumulate<S: Isa>(acc: S::F64, x: Self::V<S>) -> S::F64 {
        acc + Self::widen_lanes::<S>(x)
    }
    /// The transpose of eight vectors (see [`Isa::transpose_f32`]).
    fn transpose<S: Isa>(rows: [Self::V<S>; LANES]) -> [Self::V<S>; LANES];
    fn widen(self) -> f64;
    fn is_nan(self) -> bool;
    /// The platform's `tanh` of the type (as Polars' `tanh` computes it).
    fn tanh(self) -> Self;
    /// The platform's `exp` of the type (as Polars' `exp` computes it).
    fn exp(self) -> Self;
}

macro_rules! impl_real {
    ($t:ty, $p:ty, $v:ident, $exp:path, $widen:expr, $narrow:expr, $transpose:ident) => {
        impl Real for $t {
            type Polars = $p;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const INFINITY: Self = <$t>::INFINITY;
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn exp_lanes<S: Isa>(x: S::$v) -> S::$v {
                $exp(x)
            }
            #[inline(always)]
            fn widen_lanes<S: Isa>(x: S::$v) -> S::F64 {
                #[allow(clippy::redundant_closure_call)]
                $widen(x)
            }
            #[inline(always)]
            fn narrow_lanes<S: Isa>(x: S::F64) -> S::$v {
                #[allow(clippy::redundant_closure_call)]
                $narrow(x)
            }
            #[inline(always)]
            fn transpose<S: Isa>(rows: [S::$v; LANES]) -> [S::$v; LANES] {
                S::$transpose(rows)
            }
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
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
        }
    };
}
impl_real!(
    f32,
    Float32Type,
    F32,
    fastmath::exp_nonpositive_f32,
    |x| S::widen(x),
    |x| S::narrow(x),
    transpose_f32
);
impl_real!(
    f64,
    Float64Type,
    F64,
    fastmath::exp_nonpositive,
    |x| x,
    |x| x,
    transpose_f64
);
