//! The dtype families the kernels are generic over, and one macro each that runs a
//! piece of code with the family member's Rust type, in the style of Polars'
//! `with_match_physical_*` macros. Every match is exhaustive over a closed enum, so no
//! arm silently assumes a width; the one over Polars' open `DataType` errors on any
//! dtype it does not name.
//!
//! | family | enum | macro | binds |
//! |---|---|---|---|
//! | real scores | [`RealDtype`] | [`with_match_real!`] | `f32` / `f64` |
//! | indicator outputs | [`IndicatorDtype`] | [`with_match_indicator!`] | `UInt8Type` / `Float32Type` / `Float64Type` |
//! | category codes | Polars' `CategoricalPhysical` | [`with_match_codes!`] | the Categorical type and its codes' numeric type |
//! | decoded numbers | a physical integer or float `DataType` | [`with_match_number!`] | `Int8Type` … `UInt64Type`, `Float32Type`, `Float64Type` |
//!
//! A leaf: imports only Polars.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// The float type scores are computed in: `f32` for blocks of Float32 scores only,
/// `f64` for any other numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealDtype {
    Float32,
    Float64,
}

impl RealDtype {
    pub fn dtype(self) -> DataType {
        match self {
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
        }
    }
}

/// Output value type of one-hot indicator fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorDtype {
    #[default]
    #[serde(rename = "uint8")]
    UInt8,
    /// Written as UInt8, then packed into bits.
    Boolean,
    Float32,
    Float64,
}

impl IndicatorDtype {
    pub fn dtype(self) -> DataType {
        match self {
            Self::UInt8 => DataType::UInt8,
            Self::Boolean => DataType::Boolean,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
        }
    }
}

/// `with_match_real!(real_dtype, |$T| body)`: `body` with `$T` the `f32` or `f64` of a
/// [`RealDtype`].
macro_rules! with_match_real {
    ($dtype:expr, | $_:tt $T:ident | $($body:tt)*) => {{
        macro_rules! __with_real__ {( $_ $T:ident ) => ( $($body)* )}
        match $dtype {
            $crate::dispatch::RealDtype::Float32 => __with_real__! { f32 },
            $crate::dispatch::RealDtype::Float64 => __with_real__! { f64 },
        }
    }};
}
pub(crate) use with_match_real;

/// `with_match_number!(physical_dtype, |$P| body)`: `body` with `$P` the Polars
/// numeric type of a physical integer or float dtype; an error for any other.
macro_rules! with_match_number {
    ($dtype:expr, | $_:tt $P:ident | $($body:tt)*) => {{
        macro_rules! __with_number__ {( $_ $P:ident ) => ( $($body)* )}
        match $dtype {
            DataType::Int8 => __with_number__! { Int8Type },
            DataType::Int16 => __with_number__! { Int16Type },
            DataType::Int32 => __with_number__! { Int32Type },
            DataType::Int64 => __with_number__! { Int64Type },
            DataType::UInt8 => __with_number__! { UInt8Type },
            DataType::UInt16 => __with_number__! { UInt16Type },
            DataType::UInt32 => __with_number__! { UInt32Type },
            DataType::UInt64 => __with_number__! { UInt64Type },
            DataType::Float32 => __with_number__! { Float32Type },
            DataType::Float64 => __with_number__! { Float64Type },
            other => polars_bail!(ComputeError: "expected a numeric dtype, got {}", other),
        }
    }};
}
pub(crate) use with_match_number;

/// `with_match_indicator!(indicator_dtype, |$P| body)`: `body` with `$P` the Polars
/// numeric type the indicators of an [`IndicatorDtype`] are written in (UInt8 for a
/// Boolean output, packed after).
macro_rules! with_match_indicator {
    ($dtype:expr, | $_:tt $P:ident | $($body:tt)*) => {{
        macro_rules! __with_indicator__ {( $_ $P:ident ) => ( $($body)* )}
        match $dtype {
            $crate::dispatch::IndicatorDtype::UInt8 | $crate::dispatch::IndicatorDtype::Boolean => {
                __with_indicator__! { UInt8Type }
            }
            $crate::dispatch::IndicatorDtype::Float32 => __with_indicator__! { Float32Type },
            $crate::dispatch::IndicatorDtype::Float64 => __with_indicator__! { Float64Type },
        }
    }};
}
pub(crate) use with_match_indicator;

/// `with_match_codes!(physical, |$C, $P| body)`: `body` with `$C` the Categorical type of
/// a `CategoricalPhysical` and `$P` the numeric type of its codes.
macro_rules! with_match_codes {
    ($physical:expr, | $_:tt $C:ident, $_p:tt $P:ident | $($body:tt)*) => {{
        macro_rules! __with_codes__ {( $_ $C:ident, $_p $P:ident ) => ( $($body)* )}
        match $physical {
            CategoricalPhysical::U8 => __with_codes__! { Categorical8Type, UInt8Type },
            CategoricalPhysical::U16 => __with_codes__! { Categorical16Type, UInt16Type },
            CategoricalPhysical::U32 => __with_codes__! { Categorical32Type, UInt32Type },
        }
    }};
}
pub(crate) use with_match_codes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_binds_the_float_type() {
        for (d, size) in [(RealDtype::Float32, 4), (RealDtype::Float64, 8)] {
            assert_eq!(with_match_real!(d, |$T| std::mem::size_of::<$T>()), size);
        }
    }

    #[test]
    fn indicators_are_written_in_a_numeric_type() {
        for (d, written) in [
            (IndicatorDtype::UInt8, DataType::UInt8),
            (IndicatorDtype::Boolean, DataType::UInt8),
            (IndicatorDtype::Float32, DataType::Float32),
            (IndicatorDtype::Float64, DataType::Float64),
        ] {
            assert_eq!(
                with_match_indicator!(d, |$P| $P::get_static_dtype()),
                written
            );
        }
    }

    #[test]
    fn codes_bind_their_width() {
        for (p, size) in [
            (CategoricalPhysical::U8, 1),
            (CategoricalPhysical::U16, 2),
            (CategoricalPhysical::U32, 4),
        ] {
            let got = with_match_codes!(p, |$C, $P| {
                assert_eq!(<$C as PolarsCategoricalType>::physical(), p);
                std::mem::size_of::<<$P as PolarsNumericType>::Native>()
            });
            assert_eq!(got, size);
        }
    }
}
