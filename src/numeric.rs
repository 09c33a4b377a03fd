//! Numeric columns of a codec: each number becomes a scalar and, for mode-specific
//! normalisation, a one-hot block of its mode; decoding turns them back into numbers
//! of the column's dtype.
//!
//! Three transforms ([`Transform`]):
//!
//! - `mode`: mode-specific normalisation (Xu et al. 2019, CTGAN; RDT's
//!   `ClusterBasedNormalizer`). A variational Gaussian mixture ([`crate::mixture`])
//!   gives the modes `(w_c, μ_c, σ_c)`; a value `x` takes a mode `c` from its posterior
//!   `p(c | x) ∝ w_c N(x | μ_c, σ_c²)`, drawn by the project's Gumbel-max
//!   ([`crate::gumbel::sample`]) or taken as its argmax, and becomes the scalar
//!   `clip((x − μ_c) / (4σ_c), −0.99, 0.99)` beside the one-hot of `c`. Decoding is
//!   `clip(α, −1, 1) · 4σ_c + μ_c`, with `c` the argmax or a Gumbel-max draw of the
//!   generator's mode block, exactly as a categorical block is decoded.
//! - `standard`: the z-score `(x − μ) / σ`, back by `α σ + μ`.
//! - `minmax`: `2 (x − lo) / (hi − lo) − 1`, in [−1, 1] on the fitted range, back by
//!   the inverse of `clip(α, −1, 1)`.
//!
//! A column's features are `{name}{sep}normalized`, then `{name}{sep}mode{sep}{c}` for
//! each mode, then `{name}{sep}null` when nulls were seen at fit time: a null value
//! is then encoded as the fitted mean with the indicator 1 (RDT's `NullTransformer`),
//! and decodes to null when the indicator is above 0.5. Decoded values are clipped to
//! the fitted range, rounded for integer, date and time dtypes, and cast back to the
//! column's dtype.
//!
//! An operation: imports [`crate::decode`] (a mode block is read and drawn from as a
//! categorical block is), [`crate::gumbel`] (the encoder's draw), [`crate::blocks`], the
//! kernel [`crate::mixture`] and the leaves.

use std::ops::Range;

use num_traits::AsPrimitive;
use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use serde::{Deserialize, Serialize};

use crate::argmax::Argmax;
use crate::blocks::build::{array_from_flat, struct_from_fields};
use crate::blocks::indicators::indicator_columns;
use crate::blocks::read::{and_validity, array_of, array_rows};
use crate::blocks::{compute_dtype, Layout};
use crate::decode::{self, MatrixDecodeOptions, Method, SpanChoices};
use crate::dispatch::{with_match_number, with_match_real, IndicatorDtype, RealDtype};
use crate::gumbel::{self, LaneSource};
use crate::mixture::{self, FitReport, MixtureOptions, Mode};
use crate::par::{column_pieces, par_tasks, ROWS_PER_TASK};
use crate::real::Real;
use crate::rng::{Noise, RowIds};
use crate::simd::{with_isa, FloatV, IntV, Isa, IsaFn, Lane, MaskV, Vector, LANES};
use crate::tau::check_tau;

/// The scalar of a mode is the distance to its mean in this many standard deviations
/// (CTGAN, RDT: 4).
pub const STD_MULTIPLIER: f64 = 4.0;
/// The encoded scalar of a mode is clipped to ±this (CTGAN, RDT: 0.99).
pub const CLIP: f64 = 0.99;
/// A mixture's component is kept as a mode when its weight is above this (CTGAN, RDT).
pub const MIN_WEIGHT: f64 = 0.005;
/// The label of a column's scalar feature.
pub const NORMALIZED_LABEL: &str = "normalized";
/// The label of a mode's indicator, before the mode's number.
pub const MODE_LABEL: &str = "mode";
/// The label of a null indicator (a numeric column's, and a categorical column's field
/// of values seen null at fit time).
pub const NULL_LABEL: &str = "null";

/// How a numeric column becomes features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Mode-specific normalisation: a scalar and a one-hot block of the mode.
    Mode,
    /// The z-score.
    Standard,
    /// The fitted range to [−1, 1].
    Minmax,
}

/// A unit of Datetime and Duration columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ns,
    Us,
    Ms,
}

impl Unit {
    fn of(unit: TimeUnit) -> Self {
        match unit {
            TimeUnit::Nanoseconds => Self::Ns,
            TimeUnit::Microseconds => Self::Us,
            TimeUnit::Milliseconds => Self::Ms,
        }
    }

    fn time_unit(self) -> TimeUnit {
        match self {
            Self::Ns => TimeUnit::Nanoseconds,
            Self::Us => TimeUnit::Microseconds,
            Self::Ms => TimeUnit::Milliseconds,
        }
    }
}

/// The dtype of a numeric column, restored by decoding. Dates, datetimes and
/// durations are numbers through their physical integers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NumericDtype {
    Int8,
    Int16,
    Int32,
    Int64,
    #[serde(rename = "uint8")]
    UInt8,
    #[serde(rename = "uint16")]
    UInt16,
    #[serde(rename = "uint32")]
    UInt32,
    #[serde(rename = "uint64")]
    UInt64,
    Float32,
    Float64,
    Date,
    Datetime {
        unit: Unit,
        zone: Option<String>,
    },
    Duration {
        unit: Unit,
    },
}

impl NumericDtype {
    /// The numeric dtype of a Polars dtype, if a codec can hold it as a number.
    pub fn of(dtype: &DataType) -> Option<Self> {
        Some(match dtype {
            DataType::Int8 => Self::Int8,
            DataType::Int16 => Self::Int16,
            DataType::Int32 => Self::Int32,
            DataType::Int64 => Self::Int64,
            DataType::UInt8 => Self::UInt8,
            DataType::UInt16 => Self::UInt16,
            DataType::UInt32 => Self::UInt32,
            DataType::UInt64 => Self::UInt64,
            DataType::Float32 => Self::Float32,
            DataType::Float64 => Self::Float64,
            DataType::Date => Self::Date,
            DataType::Datetime(unit, zone) => Self::Datetime {
                unit: Unit::of(*unit),
                zone: zone.as_ref().map(|z| z.to_string()),
            },
            DataType::Duration(unit) => Self::Duration {
                unit: Unit::of(*unit),
            },
            _ => return None,
        })
    }

    /// The Polars dtype.
    pub fn dtype(&self) -> PolarsResult<DataType> {
        Ok(match self {
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::UInt8 => DataType::UInt8,
            Self::UInt16 => DataType::UInt16,
            Self::UInt32 => DataType::UInt32,
            Self::UInt64 => DataType::UInt64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Date => DataType::Date,
            Self::Datetime { unit, zone } => {
                DataType::Datetime(unit.time_unit(), TimeZone::opt_try_new(zone.as_deref())?)
            }
            Self::Duration { unit } => DataType::Duration(unit.time_unit()),
        })
    }

    /// The dtype's values are whole numbers.
    pub fn is_integer(&self) -> bool {
        !matches!(self, Self::Float32 | Self::Float64)
    }

    /// The dtype's name in messages.
    pub fn name(&self) -> String {
        self.dtype()
            .map_or_else(|_| format!("{self:?}"), |d| d.to_string())
    }
}

/// One numeric column of a codec: its transform's parameters.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumericColumn {
    pub name: String,
    pub dtype: NumericDtype,
    pub transform: Transform,
    /// `mode`: the mixture's modes of weight above [`MIN_WEIGHT`], their weights
    /// summing to 1; `standard`: one mode, the mean and standard deviation; `minmax`:
    /// none.
    pub modes: Vec<Mode>,
    /// The smallest and largest value seen at fit time: decoded values are clipped to
    /// them.
    pub range: [f64; 2],
    /// Decoded values are rounded to whole numbers (always for integer, date and time
    /// dtypes).
    pub round: bool,
    /// Nulls were seen at fit time: a `{name}{sep}null` indicator follows the features.
    pub null_indicator: bool,
}

/// Options of the numeric fit, checked before any value is read.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitOptions {
    pub transform: Transform,
    /// At most this many modes (CTGAN: 10).
    pub max_modes: usize,
    /// Seeds the mixture's initialisation.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            transform: Transform::Mode,
            max_modes: 10,
            seed: 0,
        }
    }
}

/// Fits a numeric column from its distinct non-null `values` and their `counts`, with
/// `nulls` null values: a pure function of its inputs. A column with no value but
/// nulls, or a value that is NaN or infinite, is an error naming the column; a
/// constant column is one mode of standard deviation 0 (its scalar is always 0).
pub fn fit(
    name: &str,
    dtype: NumericDtype,
    values: &[f64],
    counts: &[f64],
    nulls: usize,
    options: &FitOptions,
) -> PolarsResult<(NumericColumn, Option<FitReport>)> {
    polars_ensure!(
        !values.is_empty(),
        ComputeError: "column '{}' has no values to learn from: its {} rows are all null", name, nulls
    );
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        polars_bail!(ComputeError: "column '{}' holds {}; a numeric column's values must be finite", name, v);
    }
    polars_ensure!(
        values.len() == counts.len(),
        ShapeMismatch: "column '{}': {} values but {} counts", name, values.len(), counts.len()
    );
    // Sorted by value: the fit is a function of the values and counts, not of the
    // order a group-by handed them in.
    let mut pairs: Vec<(f64, f64)> = values.iter().copied().zip(counts.iter().copied()).collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let (values, counts): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    let (values, counts) = (values.as_slice(), counts.as_slice());
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = counts.iter().sum();
    let (modes, report) = match options.transform {
        Transform::Mode => {
            let mixture = MixtureOptions {
                max_components: options.max_modes,
                seed: options.seed,
                ..MixtureOptions::default()
            };
            let (modes, report) = mixture::fit(values, counts, &mixture)
                .map_err(|e| e.wrap_msg(|m| format!("column '{name}': {m}")))?;
            check_finite(name, options.transform, &modes)?;
            (kept_modes(modes), Some(report))
        }
        Transform::Standard => {
            // In units of the largest magnitude, so that values near ±f64::MAX do not
            // overflow the sums.
            let scale = lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
            let mean = values
                .iter()
                .zip(counts)
                .map(|(x, c)| x / scale * (c / total))
                .sum::<f64>();
            let var = values
                .iter()
                .zip(counts)
                .map(|(x, c)| (c / total) * (x / scale - mean) * (x / scale - mean))
                .sum::<f64>();
            let mode = Mode {
                weight: 1.0,
                mean: mean * scale,
                std: var.sqrt() * scale,
            };
            (vec![mode], None)
        }
        Transform::Minmax => (Vec::new(), None),
    };
    check_finite(name, options.transform, &modes)?;
    let column = NumericColumn {
        name: name.into(),
        round: dtype.is_integer(),
        dtype,
        transform: options.transform,
        modes,
        range: [lo, hi],
        null_indicator: nulls > 0,
    };
    Ok((column, report))
}

/// `x` rounded to the nearest whole number, ties to even, without a call into libm
/// (which `f64::round_ties_even` makes on the baseline x86-64 target): below 2⁵², adding
/// and taking away 2⁵² rounds in the current mode, which is to nearest, ties to even;
/// from 2⁵² on, every float is whole.
#[inline(always)]
fn round_ties_even(x: f64) -> f64 {
    const BIG: f64 = 4_503_599_627_370_496.0; // 2⁵²
    let a = x.abs();
    if a < BIG {
        ((a + BIG) - BIG).copysign(x)
    } else {
        x
    }
}

/// Errors naming the column when a fit's modes are not finite numbers: values that
/// span more than a float holds overflow the sums of a mixture or a z-score.
fn check_finite(name: &str, transform: Transform, modes: &[Mode]) -> PolarsResult<()> {
    if let Some(m) = modes
        .iter()
        .find(|m| !(m.weight.is_finite() && m.mean.is_finite() && m.std.is_finite()))
    {
        polars_bail!(
            ComputeError: "column '{}': its values span more than a float can hold, and the \
            {:?} fit is not finite ({:?}); try numeric=\"minmax\"", name, transform, m
        );
    }
    Ok(())
}

/// The modes of weight above [`MIN_WEIGHT`], their weights summing to 1 again.
fn kept_modes(modes: Vec<Mode>) -> Vec<Mode> {
    let heaviest = modes.iter().map(|m| m.weight).fold(0.0, f64::max);
    let mut kept: Vec<Mode> = modes
        .into_iter()
        .filter(|m| m.weight > MIN_WEIGHT || m.weight == heaviest)
        .collect();
    let total: f64 = kept.iter().map(|m| m.weight).sum();
    for m in &mut kept {
        m.weight /= total;
    }
    kept
}

impl NumericColumn {
    /// The number of mode indicators.
    pub fn mode_count(&self) -> usize {
        match self.transform {
            Transform::Mode => self.modes.len(),
            Transform::Standard | Transform::Minmax => 0,
        }
    }

    /// The number of features: the scalar, the modes and the null indicator.
    pub fn width(&self) -> usize {
        1 + self.mode_count() + usize::from(self.null_indicator)
    }

    /// The labels of the features, in order.
    pub fn labels(&self, separator: &str) -> Vec<String> {
        let mut labels = Vec::with_capacity(self.width());
        labels.push(NORMALIZED_LABEL.to_string());
        labels.extend((0..self.mode_count()).map(|c| format!("{MODE_LABEL}{separator}{c}")));
        if self.null_indicator {
            labels.push(NULL_LABEL.to_string());
        }
        labels
    }

    /// The flat feature column names of this column.
    pub fn feature_names(&self, separator: &str) -> Vec<String> {
        self.labels(separator)
            .iter()
            .map(|l| format!("{}{separator}{l}", self.name))
            .collect()
    }

    /// The value a null is encoded as, beside its indicator: the fitted mean.
    fn fill(&self) -> f64 {
        match self.transform {
            Transform::Mode | Transform::Standard => {
                self.modes.iter().map(|m| m.weight * m.mean).sum()
            }
            Transform::Minmax => 0.5 * (self.range[0] + self.range[1]),
        }
    }

    /// The scalar of `x` in mode `c` (`c` is ignored but by `mode`).
    #[inline(always)]
    pub fn scalar(&self, x: f64, c: usize) -> f64 {
        match self.transform {
            Transform::Mode => {
                let m = &self.modes[c];
                if m.std > 0.0 {
                    ((x - m.mean) / (STD_MULTIPLIER * m.std)).clamp(-CLIP, CLIP)
                } else {
                    0.0
                }
            }
            Transform::Standard => {
                let m = &self.modes[0];
                if m.std > 0.0 {
                    (x - m.mean) / m.std
                } else {
                    0.0
                }
            }
            Transform::Minmax => {
                // 2 (x − lo) / (hi − lo) − 1 in halves, so that a range as wide as
                // ±f64::MAX does not overflow.
                let [lo, hi] = self.range;
                let half = 0.5 * hi - 0.5 * lo;
                if half > 0.0 {
                    2.0 * ((0.5 * x - 0.5 * lo) / half) - 1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// The number of scalar `alpha` in mode `c`, clipped to the fitted range and
    /// rounded when the column is.
    #[inline(always)]
    pub fn value(&self, alpha: f64, c: usize) -> f64 {
        let x = match self.transform {
            Transform::Mode => {
                let m = &self.modes[c];
                alpha.clamp(-1.0, 1.0) * STD_MULTIPLIER * m.std + m.mean
            }
            Transform::Standard => {
                let m = &self.modes[0];
                alpha * m.std + m.mean
            }
            Transform::Minmax => {
                let [lo, hi] = self.range;
                lo + (alpha.clamp(-1.0, 1.0) + 1.0) * (0.5 * hi - 0.5 * lo)
            }
        };
        let x = x.clamp(self.range[0], self.range[1]);
        if self.round {
            round_ties_even(x)
        } else {
            x
        }
    }

    /// Checks the entry on its own: its name, its modes against its transform, its
    /// range and its rounding.
    pub fn validate(&self) -> PolarsResult<()> {
        polars_ensure!(!self.name.is_empty(), ComputeError: "`name` is empty");
        polars_ensure!(
            !self.name.contains('\0'),
            ComputeError: "`name` holds a NUL character, which a Polars column name cannot"
        );
        self.dtype
            .dtype()
            .map_err(|e| e.wrap_msg(|m| format!("`dtype`: {m}")))?;
        let [lo, hi] = self.range;
        polars_ensure!(
            lo.is_finite() && hi.is_finite() && lo <= hi,
            ComputeError: "`range` is [{}, {}]; expected two finite numbers, the first not above the second", lo, hi
        );
        polars_ensure!(
            self.round || !self.dtype.is_integer(),
            ComputeError: "`round` is false, but a column of dtype {} holds whole numbers", self.dtype.name()
        );
        let expected = match self.transform {
            Transform::Mode => 1..=1_000,
            Transform::Standard => 1..=1,
            Transform::Minmax => 0..=0,
        };
        polars_ensure!(
            expected.contains(&self.modes.len()),
            ComputeError: "`modes` holds {} modes; the {:?} transform has {}..={}",
            self.modes.len(), self.transform, expected.start(), expected.end()
        );
        for (i, m) in self.modes.iter().enumerate() {
            polars_ensure!(
                m.weight.is_finite() && m.weight > 0.0 && m.mean.is_finite() && m.std.is_finite() && m.std >= 0.0,
                ComputeError: "`modes[{}]` is {:?}; expected a weight > 0, a finite mean and a finite std ≥ 0", i, m
            );
            polars_ensure!(
                m.std > 0.0 || self.modes.len() == 1,
                ComputeError: "`modes[{}]` has std 0; only a column of one mode may", i
            );
        }
        Ok(())
    }
}

/// Options of [`normalize`]: the column's parameters, the output's layout and dtype,
/// and how a value's mode is chosen.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NormalizeOptions {
    pub column: NumericColumn,
    pub separator: String,
    /// Struct or Array.
    pub layout: Layout,
    /// Float32 or Float64.
    pub dtype: IndicatorDtype,
    /// The mode's argmax, or a Gumbel-max draw from the posterior.
    pub method: Method,
    /// The draw's noise stream (see [`encode_seed`]); `None`: fresh entropy.
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
}

/// The seed of a column's encoding draws under the user's `seed`: a stream of its own,
/// apart from the decoding stream of the same column.
pub fn encode_seed(seed: u64, column: &str) -> u64 {
    Noise::derive_seed(Noise::derive_seed(seed, column), "encode")
}

/// The real type of an output dtype, or an error: the features of a numeric column are
/// numbers.
pub fn real_dtype(dtype: IndicatorDtype, column: &str) -> PolarsResult<RealDtype> {
    match dtype {
        IndicatorDtype::Float32 => Ok(RealDtype::Float32),
        IndicatorDtype::Float64 => Ok(RealDtype::Float64),
        other => polars_bail!(
            InvalidOperation: "the numeric column '{}' is encoded as Float32 or Float64 features, \
            got dtype {}", column, other.dtype()
        ),
    }
}

/// The output field of [`normalize`].
pub fn normalize_field(field: &Field, options: &NormalizeOptions) -> PolarsResult<Field> {
    let column = &options.column;
    let real = real_dtype(options.dtype, &column.name)?.dtype();
    polars_ensure!(
        field.dtype().is_primitive_numeric() || NumericDtype::of(field.dtype()).is_some(),
        InvalidOperation: "normalize expects a numeric, Date, Datetime or Duration column, got {} \
        (column '{}')", field.dtype(), field.name()
    );
    let dtype = match options.layout {
        Layout::Array => DataType::Array(Box::new(real), column.width()),
        _ => DataType::Struct(
            column
                .feature_names(&options.separator)
                .into_iter()
                .map(|n| Field::new(n.into(), real.clone()))
                .collect(),
        ),
    };
    Ok(Field::new(field.name().clone(), dtype))
}

/// A numeric column encoded: every row's scalar and mode (0 without modes), which rows
/// were null (`None`: none), and the scalar's dtype.
pub struct Encoded {
    pub alpha: Vec<f64>,
    pub mode: Vec<u32>,
    pub nulls: Option<Bitmap>,
}

/// Every value of `s` as `f64`, and its validity; NaN and ±inf are errors.
fn numbers(s: &Series, name: &str) -> PolarsResult<(Vec<f64>, Option<Bitmap>)> {
    let physical = s.to_physical_repr();
    polars_ensure!(
        physical.dtype().is_primitive_numeric(),
        InvalidOperation: "the numeric column '{}' expects numbers, got {}", name, s.dtype()
    );
    let ca = physical.cast(&DataType::Float64)?;
    let ca = ca.f64()?.rechunk();
    let arr = ca.downcast_as_array();
    let values = arr.values().as_slice().to_vec();
    let validity = arr.validity().filter(|v| v.unset_bits() > 0).cloned();
    let bad = values
        .iter()
        .enumerate()
        .find(|(r, v)| !v.is_finite() && validity.as_ref().is_none_or(|b| b.get_bit(*r)));
    if let Some((_, v)) = bad {
        polars_bail!(ComputeError: "the numeric column '{}' holds {}; expected finite numbers", name, v);
    }
    Ok((values, validity))
}

/// Per mode, what its log posterior needs: `ln w − ln σ`, the mean and `1 / σ`.
struct Posterior(Vec<(f64, f64, f64)>);

impl Posterior {
    fn of(column: &NumericColumn) -> Self {
        Self(
            column
                .modes
                .iter()
                .map(|m| (m.weight.ln() - m.std.ln(), m.mean, m.std.recip()))
                .collect(),
        )
    }

    /// The log posterior of mode `c` for the values `x`, up to a constant:
    /// `ln w − ln σ − ½ ((x − μ) / σ)²`.
    #[inline(always)]
    fn lanes<S: Isa>(&self, c: usize, x: S::F64) -> S::F64 {
        let splat = <S::F64 as Lane>::splat;
        let (head, mean, inv) = self.0[c];
        let z = (x - splat(mean)) * splat(inv);
        splat(head) - splat(0.5) * z * z
    }
}

/// Every value's most probable mode, the first of the largest log posteriors in `f64`
/// (as every argmax here), [`LANES`] values at a time.
struct ArgmaxModes<'a> {
    x: &'a [f64],
    posterior: &'a Posterior,
    modes: &'a mut [u32],
}

impl IsaFn<()> for ArgmaxModes<'_> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) {
        let splat = <S::F64 as Lane>::splat;
        let len = self.x.len();
        for (g, modes) in self.modes.chunks_mut(LANES).enumerate() {
            let at = g * LANES;
            let x = S::F64::from_array(std::array::from_fn(|l| self.x[(at + l).min(len - 1)]));
            let (mut top, mut best) = (splat(f64::NEG_INFINITY), splat(0.0));
            for c in 0..self.posterior.0.len() {
                let lp = self.posterior.lanes::<S>(c, x);
                let greater = lp.gt(top);
                top = S::F64::select(greater, lp, top);
                best = S::F64::select(greater, splat(c as f64), best);
            }
            for (m, b) in modes.iter_mut().zip(best.to_array()) {
                *m = b as u32;
            }
        }
    }
}

/// The log posteriors of a column's values as a block of `T` scores, computed in `f64`
/// and narrowed, [`LANES`] values at a time as the Gumbel-max draw reads them.
struct PosteriorLanes<'a> {
    x: &'a [f64],
    posterior: &'a Posterior,
}

impl<T: Real> LaneSource<T> for PosteriorLanes<'_> {
    fn width(&self) -> usize {
        self.posterior.0.len()
    }

    #[inline(always)]
    fn fill<S: Isa>(&self, at: usize, len: usize, p: &mut [T::V<S>]) {
        let x = S::F64::from_array(std::array::from_fn(|l| self.x[(at + l).min(len - 1)]));
        for (c, cell) in p.iter_mut().enumerate() {
            let lp = self.posterior.lanes::<S>(c, x);
            *cell = T::narrow_lanes::<S>(lp);
        }
    }
}

/// Every row of `s` encoded: its scalar and mode, by `method` with the noise of `seed`
/// keyed by `key` (or the row's position), as `T` scores are drawn: the log posteriors
/// of a row are a block of `T` scores, and the draw is [`gumbel::sample_from`]'s, the same as [`gumbel::sample`] of them.
pub fn encoded(
    s: &Series,
    key: Option<&Series>,
    column: &NumericColumn,
    method: Method,
    seed: Option<u64>,
    real: RealDtype,
) -> PolarsResult<Encoded> {
    let (mut x, nulls) = numbers(s, &column.name)?;
    if let Some(valid) = &nulls {
        let fill = column.fill();
        for (r, v) in x.iter_mut().enumerate() {
            if !valid.get_bit(r) {
                *v = fill;
            }
        }
    }
    let len = x.len();
    let k = column.mode_count();
    let posterior = Posterior::of(column);
    let mode = if k > 1 && method == Method::Argmax {
        let mut mode = vec![0u32; len];
        let pieces = mode.chunks_mut(ROWS_PER_TASK).collect();
        par_tasks(
            pieces,
            #[inline(always)]
            |task, modes: &mut [u32]| {
                let at = task * ROWS_PER_TASK;
                with_isa(ArgmaxModes {
                    x: &x[at..at + modes.len()],
                    posterior: &posterior,
                    modes,
                })
            },
        );
        mode
    } else if k > 1 {
        let ids = RowIds::from_key(key, len)?;
        let noise = Noise::seeded_or_fresh(seed);
        let scores = PosteriorLanes {
            x: &x,
            posterior: &posterior,
        };
        with_match_real!(real, |$T| {
            gumbel::sample_from::<$T>(&scores, len, 1.0, &noise, &ids).0
        })
    } else {
        // One mode (or none): every value takes mode 0.
        vec![0u32; len]
    };
    let mut alpha = vec![0f64; len];
    let pieces = alpha.chunks_mut(ROWS_PER_TASK).collect();
    par_tasks(
        pieces,
        #[inline(always)]
        |task, alpha: &mut [f64]| {
            let at = task * ROWS_PER_TASK;
            let n = alpha.len();
            with_isa(ScalarRows {
                column,
                x: &x[at..at + n],
                mode: &mode[at..at + n],
                alpha,
            })
        },
    );
    Ok(Encoded { alpha, mode, nulls })
}

/// Every value's scalar in its mode ([`NumericColumn::scalar`]): the `mode` transform's
/// [`LANES`] values at a time in vectors, with the scalar path's operations in its
/// order (so the same bits), the others and the last values one by one.
struct ScalarRows<'a> {
    column: &'a NumericColumn,
    x: &'a [f64],
    mode: &'a [u32],
    alpha: &'a mut [f64],
}

impl IsaFn<()> for ScalarRows<'_> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) {
        let Self {
            column,
            x,
            mode,
            alpha,
        } = self;
        let mut done = 0;
        if column.transform == Transform::Mode {
            let splat = <S::F64 as Lane>::splat;
            done = alpha.len() / LANES * LANES;
            for i in (0..done).step_by(LANES) {
                let (mean, std) = mode_lanes::<S>(column, &mode[i..i + LANES]);
                let v = S::F64::from_array(std::array::from_fn(|l| x[i + l]));
                // (x − μ) / (4σ): the one division of the scalar path, in every lane.
                let z = (v - mean).quotient(splat(STD_MULTIPLIER) * std);
                let z = S::F64::select(z.lt(splat(-CLIP)), splat(-CLIP), z);
                let z = S::F64::select(z.gt(splat(CLIP)), splat(CLIP), z);
                let z = S::F64::select(std.gt(splat(0.0)), z, splat(0.0));
                alpha[i..i + LANES].copy_from_slice(&z.to_array());
            }
        }
        for i in done..alpha.len() {
            alpha[i] = column.scalar(x[i], mode[i] as usize);
        }
    }
}

/// A numeric column encoded into its features: a Struct of them, or an Array, in
/// Float32 or Float64. A null value is the fitted mean with its null indicator 1, or a
/// null row when the column has no indicator.
pub fn normalize(
    s: &Series,
    key: Option<&Series>,
    options: &NormalizeOptions,
) -> PolarsResult<Series> {
    let column = &options.column;
    column.validate()?;
    let real = real_dtype(options.dtype, &column.name)?;
    let field = normalize_field(&s.field(), options)?;
    let e = encoded(s, key, column, options.method, options.seed, real)?;
    let len = s.len();
    let (width, k) = (column.width(), column.mode_count());
    let row_validity = if column.null_indicator {
        None
    } else {
        e.nulls.clone()
    };
    // The null indicator: 1 where the value was null.
    let null_flag = |r: usize| e.nulls.as_ref().is_some_and(|v| !v.get_bit(r));
    with_match_real!(real, |$T| {
        let (zero, one) = (<$T>::ZERO, <$T>::ONE);
        match options.layout {
            Layout::Array => {
                let mut values = vec![zero; len * width];
                let pieces = values.chunks_mut(ROWS_PER_TASK * width).collect();
                par_tasks(pieces, #[inline(always)] |task, piece: &mut [$T]| {
                    let at = task * ROWS_PER_TASK;
                    for (i, row) in piece.chunks_exact_mut(width).enumerate() {
                        let r = at + i;
                        row[0] = <$T>::narrow(e.alpha[r]);
                        if k > 0 {
                            row[1 + e.mode[r] as usize] = one;
                        }
                        if column.null_indicator && null_flag(r) {
                            row[width - 1] = one;
                        }
                    }
                });
                let values = ChunkedArray::<<$T as Real>::Polars>::from_vec(PlSmallStr::EMPTY, values).into_series();
                array_from_flat(field.name().clone(), values, width, len, row_validity)
            }
            _ => {
                let names = column.feature_names(&options.separator);
                let column_of = |values: Vec<$T>| {
                    ChunkedArray::<<$T as Real>::Polars>::from_vec(PlSmallStr::EMPTY, values).into_series()
                };
                // The scalar, the mode block written as `one_hot` writes its fields, the
                // null indicator.
                let mut fields = vec![column_of(e.alpha.iter().map(|&a| <$T>::narrow(a)).collect())];
                fields.extend(indicator_columns::<<$T as Real>::Polars>(&e.mode, k));
                if column.null_indicator {
                    fields.push(column_of((0..len).map(|r| if null_flag(r) { one } else { zero }).collect()));
                }
                let fields = fields
                    .into_iter()
                    .zip(&names)
                    .map(|(f, name)| f.with_name(name.as_str().into()))
                    .collect();
                struct_from_fields(field.name().clone(), len, fields, row_validity)
            }
        }
    })
}

/// Options of [`denormalize`]: the column's parameters and how a mode is chosen from
/// the generator's mode block, with the noise of `seed` (the column's decoding stream).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DenormalizeOptions {
    pub column: NumericColumn,
    pub method: Method,
    pub tau: f64,
    #[serde(with = "crate::rng::seed_bits")]
    pub seed: Option<u64>,
    /// Where the column's features start in each row of a matrix (0 for a block of
    /// its own).
    #[serde(default)]
    pub start: usize,
}

/// The output field of [`denormalize`]: the column's own dtype.
pub fn denormalize_field(field: &Field, options: &DenormalizeOptions) -> PolarsResult<Field> {
    let width = options.column.width();
    match field.dtype() {
        DataType::Struct(fields) => polars_ensure!(
            fields.len() == width,
            InvalidOperation: "the numeric column '{}' decodes from {} features, got a Struct of {} \
            (column '{}')", options.column.name, width, fields.len(), field.name()
        ),
        DataType::Array(_, w) => polars_ensure!(
            *w == width,
            InvalidOperation: "the numeric column '{}' decodes from {} features, got an Array of {} \
            (column '{}')", options.column.name, width, w, field.name()
        ),
        // Rows of another width are an error when the List is read as an Array.
        DataType::List(_) => {}
        other => polars_bail!(
            InvalidOperation: "the numeric column '{}' decodes from a Struct, an Array or a List \
            of its {} features, got {} (column '{}')", options.column.name, width, other, field.name()
        ),
    }
    compute_dtype(field.dtype(), "decode")?;
    Ok(Field::new(
        field.name().clone(),
        options.column.dtype.dtype()?,
    ))
}

/// A numeric column decoded from a block of its features (a Struct of them, or an
/// Array): see the module documentation.
pub fn denormalize(
    s: &Series,
    key: Option<&Series>,
    options: &DenormalizeOptions,
) -> PolarsResult<Series> {
    options.column.validate()?;
    let field = denormalize_field(&s.field(), options)?;
    let column = &options.column;
    let matrix = match s.dtype() {
        DataType::Struct(_) => {
            let decoded = from_fields(s, key, options)?;
            return Ok(decoded.with_name(field.name().clone()));
        }
        DataType::List(inner) => s.cast(&DataType::Array(inner.clone(), column.width()))?,
        _ => s.clone(),
    };
    let block = DenormalizeOptions {
        start: 0,
        ..options.clone()
    };
    let mut out = from_matrix(&matrix, key, &[block])?;
    Ok(out.remove(0).with_name(field.name().clone()))
}

/// A numeric column decoded from a Struct of its features, each field read in place:
/// the mode block as a Struct of its fields, as `decode` reads one.
fn from_fields(
    s: &Series,
    key: Option<&Series>,
    options: &DenormalizeOptions,
) -> PolarsResult<Series> {
    let column = &options.column;
    check_tau(options.tau)?;
    let fields = s.struct_()?.fields_as_series();
    let (len, k) = (s.len(), column.mode_count());
    let outer = s.rechunk_validity();
    // A field as one chunk of f64 and its validity.
    let numbers = |f: &Series| -> PolarsResult<Float64Chunked> {
        Ok(f.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
    };
    let alpha = numbers(&fields[0])?;
    let null = column
        .null_indicator
        .then(|| numbers(&fields[column.width() - 1]))
        .transpose()?;
    let mut validity = and_validity(outer, alpha.downcast_as_array().validity());
    if let Some(null) = &null {
        validity = and_validity(validity, null.downcast_as_array().validity());
    }
    let modes = if k > 0 {
        let block =
            StructChunked::from_series(s.name().clone(), len, fields[1..=k].iter())?.into_series();
        let ids = RowIds::from_key(key, len)?;
        let noise = Noise::seeded_or_fresh(options.seed);
        let (idx, valid) = decode::indices(&block, options.method, options.tau, &noise, &ids)?;
        validity = and_validity(validity, valid.as_ref());
        Some(idx)
    } else {
        None
    };
    let alpha = alpha.downcast_as_array().values().as_slice();
    let null = null
        .as_ref()
        .map(|n| n.downcast_as_array().values().as_slice());
    restore(column, alpha, null, modes.as_deref(), validity.as_ref())
}

/// Every numeric block of a matrix column decoded, each from its features starting at
/// its `start`: a column per block, in the blocks' dtypes. Every block is decoded with
/// one method and tau; each mode block draws with its own `seed`.
pub fn from_matrix(
    s: &Series,
    key: Option<&Series>,
    blocks: &[DenormalizeOptions],
) -> PolarsResult<Vec<Series>> {
    let Some(first) = blocks.first() else {
        return Ok(Vec::new());
    };
    let (method, tau) = (first.method, first.tau);
    check_tau(tau)?;
    polars_ensure!(
        blocks.iter().all(|b| b.method == method && b.tau == tau),
        InvalidOperation: "every numeric block is decoded with one method and tau"
    );
    with_match_real!(compute_dtype(s.dtype(), "decode")?, |$T| {
        blocks_from_matrix::<$T>(s, key, blocks, method, tau)
    })
}

/// The mode blocks' spans and noises of `blocks`, for those that have modes.
fn mode_spans(blocks: &[DenormalizeOptions]) -> (Vec<Range<usize>>, Vec<Noise>) {
    blocks
        .iter()
        .filter(|b| b.column.mode_count() > 0)
        .map(|b| {
            let span = b.start + 1..b.start + 1 + b.column.mode_count();
            (span, Noise::seeded_or_fresh(b.seed))
        })
        .unzip()
}

fn blocks_from_matrix<T: Argmax>(
    s: &Series,
    key: Option<&Series>,
    blocks: &[DenormalizeOptions],
    method: Method,
    tau: f64,
) -> PolarsResult<Vec<Series>> {
    let len = s.len();
    let ids = RowIds::from_key(key, len)?;
    let (spans, noises) = mode_spans(blocks);
    let choices = if spans.is_empty() {
        Vec::new()
    } else {
        decode::span_choices::<T>(s, &spans, method, tau, &noises, &ids)?
    };
    restore_matrix::<T>(s, blocks, choices)
}

/// Every numeric block of the matrix `s` decoded, given the choices of their mode
/// blocks (in the order of the blocks that have one), in one pass over the rows.
fn restore_matrix<T: Real>(
    s: &Series,
    blocks: &[DenormalizeOptions],
    choices: SpanChoices,
) -> PolarsResult<Vec<Series>> {
    let len = s.len();
    let s = array_of::<T>(s)?;
    let mut choices = choices.into_iter();
    // Each block's view of the rows, its modes and which rows are readable.
    let mut readers = Vec::with_capacity(blocks.len());
    for b in blocks {
        let column = &b.column;
        let (view, validity) = array_rows::<T>(&s, Some(b.start..b.start + column.width()))?;
        let (modes, mode_validity) = if column.mode_count() > 0 {
            let (idx, valid) = choices
                .next()
                .ok_or_else(|| polars_err!(ComputeError: "a mode block was not drawn from"))?;
            (Some(idx), valid)
        } else {
            (None, None)
        };
        let validity = and_validity(validity, mode_validity.as_ref());
        readers.push((column, view, modes, validity));
    }
    // One pass over the rows: every block of a row before the next row, so that the
    // matrix is read once.
    let mut values: Vec<Vec<f64>> = blocks.iter().map(|_| vec![0.0; len]).collect();
    let mut oks: Vec<Vec<bool>> = blocks.iter().map(|_| vec![false; len]).collect();
    let value_pieces = column_pieces(values.iter_mut().map(Vec::as_mut_slice).collect(), len);
    let ok_pieces = column_pieces(oks.iter_mut().map(Vec::as_mut_slice).collect(), len);
    let pieces = value_pieces.into_iter().zip(ok_pieces).collect();
    par_tasks(
        pieces,
        #[inline(always)]
        |task, (mut values, mut oks): (Vec<&mut [f64]>, Vec<&mut [bool]>)| {
            let at = task * ROWS_PER_TASK;
            let rows = values.first().map_or(0, |v| v.len());
            for i in 0..rows {
                let r = at + i;
                for ((column, view, modes, validity), (v, ok)) in
                    readers.iter().zip(values.iter_mut().zip(oks.iter_mut()))
                {
                    let null =
                        column.null_indicator && view.at(r, column.width() - 1).widen() > 0.5;
                    let c = modes.as_ref().map_or(0, |m| m[r] as usize);
                    let valid = validity.as_ref().is_none_or(|b| b.get_bit(r));
                    (v[i], ok[i]) = row_value(column, view.at(r, 0).widen(), null, c, valid);
                }
            }
        },
    );
    blocks
        .iter()
        .zip(values.into_iter().zip(oks))
        .map(|(b, (values, oks))| as_dtype(&b.column, values, &oks))
        .collect()
}

/// One row's number and whether it is one: null where the null indicator is set, the
/// scalar is NaN or the row's features are not readable.
#[inline(always)]
fn row_value(column: &NumericColumn, alpha: f64, null: bool, c: usize, valid: bool) -> (f64, bool) {
    let ok = valid && !null && !alpha.is_nan();
    (if ok { column.value(alpha, c) } else { 0.0 }, ok)
}

/// The numbers of the rows, each from its scalar `alpha`, its null indicator and its
/// mode, as the column's dtype; `validity` says which rows' features were all readable.
/// Written in the dtype as they are computed.
fn restore(
    column: &NumericColumn,
    alpha: &[f64],
    null: Option<&[f64]>,
    modes: Option<&[u32]>,
    validity: Option<&Bitmap>,
) -> PolarsResult<Series> {
    let len = alpha.len();
    let dtype = column.dtype.dtype()?;
    let physical = dtype.to_physical();
    let top = largest_below(&physical).unwrap_or(f64::INFINITY);
    let out = with_match_number!(&physical, |$P| {
        let mut values = vec![<$P as PolarsNumericType>::Native::default(); len];
        let mut oks = vec![false; len];
        let pieces = values
            .chunks_mut(ROWS_PER_TASK)
            .zip(oks.chunks_mut(ROWS_PER_TASK))
            .collect();
        par_tasks(pieces, #[inline(always)] |task, (values, oks): (&mut [_], &mut [bool])| {
            with_isa(RestoreRows {
                column,
                alpha,
                null,
                modes,
                validity,
                top,
                at: task * ROWS_PER_TASK,
                values,
                oks,
            })
        });
        number_column::<$P>(column, values, &oks)
    });
    logical(&dtype, out)
}

/// The rows `at..` of [`restore`] into `values` (in the dtype's physical type `V`) and
/// `oks`: the `mode` transform's [`LANES`] rows at a time in vectors, with the
/// operations of [`NumericColumn::value`] in its order (so the same bits), the others
/// and the last rows one by one.
struct RestoreRows<'a, V> {
    column: &'a NumericColumn,
    alpha: &'a [f64],
    null: Option<&'a [f64]>,
    modes: Option<&'a [u32]>,
    validity: Option<&'a Bitmap>,
    top: f64,
    at: usize,
    values: &'a mut [V],
    oks: &'a mut [bool],
}

impl<V> IsaFn<()> for RestoreRows<'_, V>
where
    V: Copy + 'static,
    f64: AsPrimitive<V>,
{
    #[inline(always)]
    fn call<S: Isa>(self, _: S) {
        let Self {
            column,
            alpha,
            null,
            modes,
            validity,
            top,
            at,
            values,
            oks,
        } = self;
        // A null indicator above one half makes a null, as does a NaN scalar.
        let is_null = |r: usize| null.is_some_and(|n| n[r] > 0.5);
        let ok_at =
            |r: usize, a: f64| validity.is_none_or(|b| b.get_bit(r)) && !is_null(r) && !a.is_nan();
        let every_row_readable = validity.is_none() && null.is_none();
        let mut done = 0;
        if let (Transform::Mode, Some(modes)) = (column.transform, modes) {
            let splat = <S::F64 as Lane>::splat;
            let [lo, hi] = column.range;
            done = values.len() / LANES * LANES;
            for i in (0..done).step_by(LANES) {
                let r = at + i;
                let a: [f64; LANES] = std::array::from_fn(|l| alpha[r + l]);
                let (mean, std) = mode_lanes::<S>(column, &modes[r..r + LANES]);
                let x = S::F64::from_array(a);
                let x = S::F64::select(x.lt(splat(-1.0)), splat(-1.0), x);
                let x = S::F64::select(x.gt(splat(1.0)), splat(1.0), x);
                let x = x * splat(STD_MULTIPLIER) * std + mean;
                let x = S::F64::select(x.lt(splat(lo)), splat(lo), x);
                let x = S::F64::select(x.gt(splat(hi)), splat(hi), x);
                let x = if column.round {
                    round_ties_even_lanes::<S>(x)
                } else {
                    x
                };
                let x = S::F64::select(splat(top).lt(x), splat(top), x).to_array();
                if every_row_readable && S::F64::from_array(a).is_nan().movemask() == 0 {
                    for l in 0..LANES {
                        values[i + l] = x[l].as_();
                    }
                    oks[i..i + LANES].fill(true);
                    continue;
                }
                for l in 0..LANES {
                    let ok = ok_at(r + l, a[l]);
                    values[i + l] = if ok { x[l] } else { 0.0 }.as_();
                    oks[i + l] = ok;
                }
            }
        }
        for i in done..values.len() {
            let r = at + i;
            let c = modes.map_or(0, |m| m[r] as usize);
            let a = alpha[r];
            let ok = ok_at(r, a);
            let x = if ok { column.value(a, c) } else { 0.0 };
            (values[i], oks[i]) = (x.min(top).as_(), ok);
        }
    }
}

/// The means and standard deviations of the modes `modes` ([`LANES`] of them) in
/// lanes; a mode the column lacks reads as 0 (an encoder never draws one; a decoder
/// sees one only on a row it does not keep).
#[inline(always)]
fn mode_lanes<S: Isa>(column: &NumericColumn, modes: &[u32]) -> (S::F64, S::F64) {
    let m: [(f64, f64); LANES] = std::array::from_fn(|l| {
        column
            .modes
            .get(modes[l] as usize)
            .map_or((0.0, 0.0), |m| (m.mean, m.std))
    });
    (
        S::F64::from_array(m.map(|m| m.0)),
        S::F64::from_array(m.map(|m| m.1)),
    )
}

/// [`round_ties_even`] of every lane.
#[inline(always)]
fn round_ties_even_lanes<S: Isa>(x: S::F64) -> S::F64 {
    const BIG: f64 = 4_503_599_627_370_496.0; // 2⁵²
    let splat = <S::F64 as Lane>::splat;
    let sign = <S::U64 as Lane>::splat(1 << 63);
    let bits = x.to_bits();
    let a = S::F64::from_bits(bits.and(<S::U64 as Lane>::splat(!(1 << 63))));
    let rounded = (a + splat(BIG)) - splat(BIG);
    let signed = S::F64::from_bits(rounded.to_bits().or(bits.and(sign)));
    S::F64::select(a.lt(splat(BIG)), signed, x)
}

/// A column's numbers as its dtype, null where not `ok`.
fn as_dtype(column: &NumericColumn, values: Vec<f64>, oks: &[bool]) -> PolarsResult<Series> {
    let dtype = column.dtype.dtype()?;
    let physical = dtype.to_physical();
    let top = largest_below(&physical).unwrap_or(f64::INFINITY);
    let out = with_match_number!(&physical, |$P| {
        let values = values.iter().map(|&x| x.min(top).as_()).collect();
        number_column::<$P>(column, values, oks)
    });
    logical(&dtype, out)
}

/// `values` as the column's physical `P`, null where not `ok` (a bitmap only when some
/// row is null). Every value is a whole number in the dtype's range where its dtype is
/// an integer one (rounded, clipped to the fitted range and below [`largest_below`]),
/// so that `as` converts it exactly.
fn number_column<P: PolarsNumericType>(
    column: &NumericColumn,
    values: Vec<P::Native>,
    oks: &[bool],
) -> Series {
    let valid = oks
        .contains(&false)
        .then(|| Bitmap::from_iter(oks.iter().copied()));
    ChunkedArray::<P>::from_vec_validity(column.name.as_str().into(), values, valid).into_series()
}

/// A physical column as the logical `dtype`.
fn logical(dtype: &DataType, out: Series) -> PolarsResult<Series> {
    Ok(match dtype {
        DataType::Datetime(unit, zone) => out
            .i64()?
            .clone()
            .into_datetime(*unit, zone.clone())
            .into_series(),
        DataType::Duration(unit) => out.i64()?.clone().into_duration(*unit).into_series(),
        DataType::Date => out.i32()?.clone().into_date().into_series(),
        _ => out,
    })
}

/// The largest float a 64-bit integer dtype holds (its maximum rounds up to a float it
/// cannot hold); `None` for the narrower dtypes, whose maxima are floats.
fn largest_below(physical: &DataType) -> Option<f64> {
    match physical {
        DataType::Int64 => Some(9_223_372_036_854_774_784.0),
        DataType::UInt64 => Some(18_446_744_073_709_549_568.0),
        _ => None,
    }
}

/// Options of [`decode_table`]: the codec's matrix, every column decoded from its span.
/// `names` is the output order; `labels` the categorical blocks (named in it), decoded
/// by [`decode::decode_matrix`]; `numbers` the numeric ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TableOptions {
    pub names: Vec<String>,
    pub labels: MatrixDecodeOptions,
    pub numbers: Vec<DenormalizeOptions>,
}

impl TableOptions {
    /// Errors unless every name is decoded by one block.
    fn check(&self) -> PolarsResult<()> {
        let mut blocks: PlHashSet<&str> = self.labels.names.iter().map(String::as_str).collect();
        for n in &self.numbers {
            polars_ensure!(
                blocks.insert(n.column.name.as_str()),
                InvalidOperation: "decode_matrix: the column '{}' is decoded twice", n.column.name
            );
        }
        polars_ensure!(
            blocks.len() == self.names.len() && self.names.iter().all(|n| blocks.contains(n.as_str())),
            InvalidOperation: "decode_matrix: the names {:?} are not those of the blocks", self.names
        );
        Ok(())
    }
}

/// The output field of [`decode_table`]: a Struct of the decoded columns.
pub fn decode_table_field(field: &Field, options: &TableOptions) -> PolarsResult<Field> {
    options.check()?;
    let mut dtypes: PlHashMap<&str, DataType> = PlHashMap::new();
    if !options.labels.blocks.is_empty() {
        let labels = decode::decode_matrix_field(field, &options.labels)?;
        if let DataType::Struct(fields) = labels.dtype() {
            for (name, f) in options.labels.names.iter().zip(fields) {
                dtypes.insert(name.as_str(), f.dtype().clone());
            }
        }
    }
    compute_dtype(field.dtype(), "decode")?;
    for n in &options.numbers {
        dtypes.insert(n.column.name.as_str(), n.column.dtype.dtype()?);
    }
    let fields = options
        .names
        .iter()
        .map(|name| {
            let dtype = dtypes.get(name.as_str()).cloned().unwrap_or(DataType::Null);
            Field::new(name.as_str().into(), dtype)
        })
        .collect();
    Ok(Field::new(field.name().clone(), DataType::Struct(fields)))
}

/// Every column of a codec's matrix decoded from its span: the categorical ones to
/// their labels ([`decode::decode_matrix`]), the numeric ones to numbers ([`from_matrix`]);
/// a Struct of them in the order of `names`.
pub fn decode_table(
    s: &Series,
    key: Option<&Series>,
    options: &TableOptions,
) -> PolarsResult<Series> {
    options.check()?;
    for c in &options.numbers {
        c.column.validate()?;
    }
    let mut columns: PlHashMap<String, Series> = PlHashMap::new();
    let numbers = if options.labels.blocks.is_empty() {
        from_matrix(s, key, &options.numbers)?
    } else {
        // The labels and the numbers' mode blocks chosen in one pass over the matrix.
        let (method, tau) = options
            .labels
            .blocks
            .first()
            .map_or((Method::Argmax, 1.0), |b| (b.method, b.tau));
        polars_ensure!(
            options.numbers.iter().all(|b| b.method == method && b.tau == tau),
            InvalidOperation: "decode_matrix: every block is decoded with one method and tau"
        );
        let (spans, noises) = mode_spans(&options.numbers);
        let (decoded, choices) =
            decode::decode_matrix_and(s, key, &options.labels, &spans, noises)?;
        for field in decoded.struct_()?.fields_as_series() {
            columns.insert(field.name().to_string(), field);
        }
        with_match_real!(compute_dtype(s.dtype(), "decode")?, |$T| {
            restore_matrix::<$T>(s, &options.numbers, choices)?
        })
    };
    for (n, decoded) in options.numbers.iter().zip(numbers) {
        columns.insert(n.column.name.clone(), decoded);
    }
    let fields = options
        .names
        .iter()
        .map(|name| {
            columns.remove(name).ok_or_else(
                || polars_err!(ComputeError: "decode_matrix: no column '{}' was decoded", name),
            )
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(StructChunked::from_series(s.name().clone(), s.len(), fields.iter())?.into_series())
}

#[cfg(test)]
mod tests {
    use super::round_ties_even;

    #[test]
    fn rounding_is_the_standard_librarys() {
        let big = 4_503_599_627_370_496.0_f64;
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            big - 0.5,
            big - 1.5,
            big,
            big + 1.0,
            2.0 * big + 2.0,
            -big + 0.5,
            9.2e18,
            -9.2e18,
            1e308,
        ];
        // Scattered values of every magnitude, halves among them.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let x = f64::from_bits(state >> 2) * if state & 1 == 0 { 1.0 } else { -1.0 };
            if x.is_finite() {
                xs.push(x);
                xs.push((x * 2.0).round() / 2.0);
            }
        }
        for x in xs {
            let (got, want) = (round_ties_even(x), x.round_ties_even());
            assert!(got == want, "{x}: {got} != {want}");
        }
    }
}
