//! Pearson correlations of pairs of Float64 columns, every pair of one frame in one
//! call: each over the rows where both values are present (null, and NaN, is missing),
//! with what decides whether it is defined, each column's least and largest values.
//!
//! Each pair is summed in two passes over its rows, the means first and then the
//! centred products, so that columns of large values with a small spread (a weight
//! near 10^5 ± 10, say) keep their digits: `Σxy − n·x̄·ȳ` would cancel them. Each
//! column is summed times a power of two that brings its largest magnitude near 1, so
//! that values near 1e300 or 1e-300 give the r of any other scale, not 0 or ±1.
//!
//! An operation ([`correlations`], [`correlations_field`], [`CorrelationOptions`]);
//! imports only the leaf [`crate::par`], whose tasks run in the best SIMD build.

use std::borrow::Cow;

use polars::prelude::*;
use serde::Deserialize;

use crate::par::par_tasks;

/// The pairs to correlate, as positions of the inputs.
#[derive(Deserialize, Debug, Clone)]
pub struct CorrelationOptions {
    pub pairs: Vec<[usize; 2]>,
}

/// The output of [`correlations`]: one row per pair, in the order of
/// [`CorrelationOptions::pairs`].
/// - `pair`: its position;
/// - `corr`: Pearson's r over the rows holding both values, clamped to [−1, 1]; NaN
///   where it is undefined (fewer than two such rows, a spread of zero, or an infinite
///   value);
/// - `rows`: how many rows hold both values;
/// - `constant`: a column of the pair has values and they are all one value;
/// - `finite`: neither column holds ±inf.
pub fn correlations_field(fields: &[Field], options: &CorrelationOptions) -> PolarsResult<Field> {
    for f in fields {
        polars_ensure!(
            f.dtype() == &DataType::Float64,
            InvalidOperation: "correlations expects Float64 columns, got {} (column '{}')",
            f.dtype(), f.name()
        );
    }
    for &[a, b] in &options.pairs {
        polars_ensure!(
            a < fields.len() && b < fields.len(),
            InvalidOperation: "correlations got the pair ({a}, {b}) of {} columns", fields.len()
        );
    }
    let name = fields
        .first()
        .map_or(PlSmallStr::from("correlations"), |f| f.name().clone());
    Ok(Field::new(
        name,
        DataType::Struct(vec![
            Field::new("pair".into(), DataType::UInt32),
            Field::new("corr".into(), DataType::Float64),
            Field::new("rows".into(), DataType::UInt64),
            Field::new("constant".into(), DataType::Boolean),
            Field::new("finite".into(), DataType::Boolean),
        ]),
    ))
}

/// A column's values with NaN for every missing one, whether none is missing, and its
/// range.
struct Column<'a> {
    values: Cow<'a, [f64]>,
    complete: bool,
    /// A power of two that brings the largest magnitude near 1 ([`unit_scale`]): the
    /// sums are taken of the values times it, which is exact, so that squares of values
    /// near 1e300 or 1e-300 neither overflow nor vanish (r does not change with scale).
    scale: f64,
    /// The scaled values' mean, when none is missing.
    mean: f64,
    /// The least and largest present values; `None` for a column with none.
    range: Option<(f64, f64)>,
}

impl<'a> Column<'a> {
    #[inline(always)]
    fn new(s: &'a Series) -> PolarsResult<Self> {
        let ca = s.f64()?;
        let values = match ca.downcast_iter().next() {
            // One chunk and no null: its own values, read in place.
            Some(arr) if ca.chunks().len() == 1 && ca.null_count() == 0 => {
                Cow::Borrowed(arr.values().as_slice())
            }
            _ => {
                let mut values = Vec::with_capacity(ca.len());
                for arr in ca.downcast_iter() {
                    match arr.validity().filter(|v| v.unset_bits() > 0) {
                        None => values.extend_from_slice(arr.values()),
                        Some(_) => {
                            values.extend(arr.iter().map(|v| v.copied().unwrap_or(f64::NAN)))
                        }
                    }
                }
                Cow::Owned(values)
            }
        };
        // `f64::min` and `max` pass over a NaN; in lanes, so that they vectorise.
        let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let mut missing = [false; LANES];
        let mut chunks = values.chunks_exact(LANES);
        for c in &mut chunks {
            for l in 0..LANES {
                lo[l] = lo[l].min(c[l]);
                hi[l] = hi[l].max(c[l]);
                missing[l] |= c[l].is_nan();
            }
        }
        let rest = chunks.remainder();
        let lo = rest.iter().chain(&lo).fold(f64::INFINITY, |m, &v| m.min(v));
        let hi = rest
            .iter()
            .chain(&hi)
            .fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let complete = !missing.contains(&true) && !rest.iter().any(|v| v.is_nan());
        let present = complete || values.iter().any(|v| !v.is_nan());
        let scale = unit_scale(lo.abs().max(hi.abs()));
        Ok(Self {
            mean: if complete {
                mean(&values, scale)
            } else {
                f64::NAN
            },
            scale,
            values,
            complete,
            range: present.then_some((lo, hi)),
        })
    }

    fn constant(&self) -> bool {
        self.range.is_some_and(|(lo, hi)| lo == hi)
    }

    fn finite(&self) -> bool {
        self.range
            .is_none_or(|(lo, hi)| lo.is_finite() && hi.is_finite())
    }
}

/// Lanes of the running sums, so that the additions of neighbouring rows do not wait
/// on each other and vectorise.
const LANES: usize = 8;

/// Rows summed by one task, and by every pair in turn while they stay in cache.
const ROWS_PER_TASK: usize = 64 * 1024;
const ROWS_PER_PASS: usize = 2048;

/// Σdx·dy, Σdx² and Σdy² in lanes.
type Sums = [[f64; LANES]; 3];

/// The power of two that takes a magnitude `m` into [1, 4), or a subnormal one into
/// [2^−52, 2), whose squares are still normal (1 for 0, ±inf or NaN).
fn unit_scale(m: f64) -> f64 {
    if !(m.is_finite() && m > 0.0) {
        return 1.0;
    }
    // m < 2^(e − 1022) for its biased exponent e, and 2^(1023 − e) is a normal number
    // for e ≤ 2045: past it, 2^−1022 takes m into [2, 4).
    let e = ((m.to_bits() >> 52) & 0x7ff).min(2045);
    f64::from_bits((2046 - e) << 52)
}

/// The mean of `v` times `scale`.
#[inline(always)]
fn mean(v: &[f64], scale: f64) -> f64 {
    let mut lanes = [0.0; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v * scale;
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|v| v * scale).sum();
    (lanes.iter().sum::<f64>() + rest) / v.len() as f64
}

/// Adds the centred products of `x` and `y`, each scaled and about its scaled mean
/// (`(scale, mean)`), to `sums`, row `i` to lane `i mod LANES`.
#[inline(always)]
fn accumulate(sums: &mut Sums, x: &[f64], y: &[f64], (sx, mx): (f64, f64), (sy, my): (f64, f64)) {
    let (mut xc, mut yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let mut add = |l: usize, a: f64, b: f64| {
        let (dx, dy) = (a * sx - mx, b * sy - my);
        sums[0][l] += dx * dy;
        sums[1][l] += dx * dx;
        sums[2][l] += dy * dy;
    };
    for (a, b) in (&mut xc).zip(&mut yc) {
        for l in 0..LANES {
            add(l, a[l], b[l]);
        }
    }
    for (l, (&a, &b)) in xc.remainder().iter().zip(yc.remainder()).enumerate() {
        add(l, a, b);
    }
}

/// Pearson's r of the sums of at least two rows: NaN for a spread of zero or an
/// infinite value (which stays NaN through the clamp).
fn r_of(sums: &Sums) -> f64 {
    let [xy, xx, yy] = sums.map(|lanes| lanes.iter().sum::<f64>());
    if xx == 0.0 || yy == 0.0 {
        return f64::NAN;
    }
    (xy / (xx * yy).sqrt()).clamp(-1.0, 1.0)
}

/// Pearson's r of the rows where both columns are present (not NaN), and how many
/// there are, the means taken over those rows: for a pair with a missing value.
fn sparse_pearson(x: &Column, y: &Column) -> (f64, u64) {
    let (sx, sy) = (x.scale, y.scale);
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .values
        .iter()
        .zip(y.values.iter())
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|(a, b)| (a * sx, b * sy))
        .unzip();
    let n = x.len() as u64;
    if n < 2 {
        return (f64::NAN, n);
    }
    let mut sums = [[0.0; LANES]; 3];
    accumulate(
        &mut sums,
        &x,
        &y,
        (1.0, mean(&x, 1.0)),
        (1.0, mean(&y, 1.0)),
    );
    (r_of(&sums), n)
}

/// The sums of each pair of complete columns about the columns' means, over blocks of
/// rows on every core, added block by block in order.
fn dense_sums(columns: &[Column], pairs: &[[usize; 2]], len: usize) -> Vec<Sums> {
    let blocks: Vec<usize> = (0..len.div_ceil(ROWS_PER_TASK)).collect();
    let partial = par_tasks(
        blocks,
        #[inline(always)]
        |_, block| {
            let mut sums = vec![[[0.0; LANES]; 3]; pairs.len()];
            let end = ((block + 1) * ROWS_PER_TASK).min(len);
            for start in (block * ROWS_PER_TASK..end).step_by(ROWS_PER_PASS) {
                let rows = start..(start + ROWS_PER_PASS).min(end);
                for (s, &[a, b]) in sums.iter_mut().zip(pairs) {
                    let (x, y) = (&columns[a], &columns[b]);
                    let (xs, ys) = (&x.values[rows.clone()], &y.values[rows.clone()]);
                    accumulate(s, xs, ys, (x.scale, x.mean), (y.scale, y.mean));
                }
            }
            sums
        },
    );
    let mut total = vec![[[0.0; LANES]; 3]; pairs.len()];
    for p in &partial {
        for (t, s) in total.iter_mut().zip(p) {
            for (tl, sl) in t.iter_mut().zip(s) {
                for (a, b) in tl.iter_mut().zip(sl) {
                    *a += b;
                }
            }
        }
    }
    total
}

/// Every pair's correlation and what decides whether it is defined (see
/// [`correlations_field`]): the complete pairs together over blocks of rows on every
/// core, each pair with a missing value on its own.
pub fn correlations(inputs: &[Series], options: &CorrelationOptions) -> PolarsResult<Series> {
    let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
    let out = correlations_field(&fields, options)?;
    let len = inputs.first().map_or(0, |s| s.len());
    polars_ensure!(
        inputs.iter().all(|s| s.len() == len),
        ShapeMismatch: "correlations expects input columns of one length"
    );
    let columns = par_tasks(
        inputs.iter().collect(),
        #[inline(always)]
        |_, s| Column::new(s),
    )
    .into_iter()
    .collect::<PolarsResult<Vec<Column>>>()?;
    let complete = |&[a, b]: &[usize; 2]| columns[a].complete && columns[b].complete;
    let dense: Vec<[usize; 2]> = options.pairs.iter().copied().filter(complete).collect();
    let mut sums = dense_sums(&columns, &dense, len).into_iter();
    let sparse: Vec<[usize; 2]> = options
        .pairs
        .iter()
        .copied()
        .filter(|p| !complete(p))
        .collect();
    let mut missing =
        par_tasks(sparse, |_, [a, b]| sparse_pearson(&columns[a], &columns[b])).into_iter();
    let found: Vec<(f64, u64)> = options
        .pairs
        .iter()
        .map(|p| {
            if complete(p) {
                let s = sums.next().unwrap_or_default();
                (if len < 2 { f64::NAN } else { r_of(&s) }, len as u64)
            } else {
                missing.next().unwrap_or((f64::NAN, 0))
            }
        })
        .collect();
    let pick = |f: &dyn Fn(&Column) -> bool| -> Vec<bool> {
        options
            .pairs
            .iter()
            .map(|&[a, b]| f(&columns[a]) || f(&columns[b]))
            .collect()
    };
    let infinite = pick(&|c| !c.finite());
    let fields = [
        Series::new("pair".into(), (0..found.len() as u32).collect::<Vec<_>>()),
        Series::new("corr".into(), found.iter().map(|f| f.0).collect::<Vec<_>>()),
        Series::new("rows".into(), found.iter().map(|f| f.1).collect::<Vec<_>>()),
        Series::new("constant".into(), pick(&|c| c.constant())),
        Series::new(
            "finite".into(),
            infinite.iter().map(|i| !i).collect::<Vec<_>>(),
        ),
    ];
    Ok(StructChunked::from_series(out.name().clone(), found.len(), fields.iter())?.into_series())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One pair through [`correlations`]: its r and rows.
    fn pearson(x: &[f64], y: &[f64]) -> (f64, u64) {
        let inputs = [Series::new("x".into(), x), Series::new("y".into(), y)];
        let options = CorrelationOptions {
            pairs: vec![[0, 1]],
        };
        let out = correlations(&inputs, &options).unwrap();
        let out = out.struct_().unwrap();
        let corr = out.field_by_name("corr").unwrap().f64().unwrap().get(0);
        let rows = out.field_by_name("rows").unwrap().u64().unwrap().get(0);
        (corr.unwrap(), rows.unwrap())
    }

    /// Pearson's r as its definition reads, in f64: the reference the two passes are
    /// checked against.
    fn naive(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn pearson_drops_rows_missing_either_value() {
        let x = [1.0, 2.0, f64::NAN, 4.0, 5.0, 7.0];
        let y = [2.0, 1.0, 9.0, f64::NAN, 3.0, 8.0];
        let (r, n) = pearson(&x, &y);
        assert_eq!(n, 4);
        let want = naive(&[1.0, 2.0, 5.0, 7.0], &[2.0, 1.0, 3.0, 8.0]);
        assert!((r - want).abs() < 1e-15, "{r} against {want}");
    }

    #[test]
    fn pearson_of_a_line_is_one_and_of_large_values_keeps_their_digits() {
        let x: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i)).collect();
        let y: Vec<f64> = x.iter().map(|v| -3.0 * v).collect();
        assert_eq!(pearson(&x, &y).0, -1.0);
        let z: Vec<f64> = (0..1000).map(|i| f64::from((i * 7919) % 1000)).collect();
        let (r, _) = pearson(&x, &z);
        let want = naive(&(0..1000).map(f64::from).collect::<Vec<_>>(), &z);
        assert!((r - want).abs() < 1e-12, "{r} against {want}");
    }

    #[test]
    fn pairs_summed_over_many_blocks_agree_with_the_definition() {
        let n = 3 * ROWS_PER_TASK + 1234;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1013) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f64 + 0.5 * x[i])
            .collect();
        let (r, rows) = pearson(&x, &y);
        assert_eq!(rows, n as u64);
        let want = naive(&x, &y);
        assert!((r - want).abs() < 1e-13, "{r} against {want}");
        // One missing value sends the pair down the other path, to the same answer
        // over the other rows.
        let mut gap = x.clone();
        gap[5] = f64::NAN;
        let (r, rows) = pearson(&gap, &y);
        assert_eq!(rows, n as u64 - 1);
        let (xs, ys): (Vec<f64>, Vec<f64>) =
            (0..n).filter(|&i| i != 5).map(|i| (x[i], y[i])).unzip();
        let want = naive(&xs, &ys);
        assert!((r - want).abs() < 1e-13, "{r} against {want}");
    }

    #[test]
    fn r_does_not_change_with_the_scale_of_either_column() {
        let x = [1.0, 2.0, 4.0, 3.0, 7.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0];
        let want = naive(&x, &y);
        for k in [1e300, 1e200, 1e-200, 1e-300, 1e-310, f64::MAX / 8.0] {
            let big: Vec<f64> = x.iter().map(|v| v * k).collect();
            let (r, _) = pearson(&big, &y);
            assert!((r - want).abs() < 1e-12, "x · {k}: {r} against {want}");
            let (r, _) = pearson(&y, &big);
            assert!((r - want).abs() < 1e-12, "y · {k}: {r} against {want}");
        }
        // The same through the path of a pair with a missing value.
        let mut gap: Vec<f64> = x.iter().map(|v| v * 1e250).collect();
        gap.push(f64::NAN);
        let (r, n) = pearson(&gap, &[y.as_slice(), &[9.0]].concat());
        assert_eq!(n, 5);
        assert!((r - want).abs() < 1e-12, "{r} against {want}");
        for m in [1.0, 3.999, 1e300, 1e-300, f64::MAX] {
            let s = unit_scale(m) * m;
            assert!((1.0..4.0).contains(&s), "{m}: {s}");
        }
        for m in [5e-324, 1e-310] {
            let s = unit_scale(m) * m;
            assert!((2f64.powi(-52)..2.0).contains(&s), "{m}: {s}");
        }
    }

    #[test]
    fn undefined_correlations_are_nan() {
        assert!(pearson(&[1.0], &[2.0]).0.is_nan());
        assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).0.is_nan());
        assert!(pearson(&[1.0, f64::INFINITY, 3.0], &[1.0, 2.0, 3.0])
            .0
            .is_nan());
    }

    #[test]
    fn columns_know_their_ranges() {
        let s = Series::new("x".into(), [Some(2.0), None, Some(f64::NAN), Some(2.0)]);
        let c = Column::new(&s).unwrap();
        assert!(c.constant() && c.finite());
        let s = Series::new("x".into(), [None::<f64>, None]);
        let c = Column::new(&s).unwrap();
        assert!(!c.constant() && c.finite());
        let s = Series::new("x".into(), [Some(f64::NEG_INFINITY), Some(1.0)]);
        assert!(!Column::new(&s).unwrap().finite());
    }

    #[test]
    fn wrong_inputs_are_refused_by_name() {
        let x = Series::new("x".into(), [1i64, 2]);
        let options = CorrelationOptions {
            pairs: vec![[0, 0]],
        };
        let err = correlations(&[x], &options).unwrap_err().to_string();
        assert!(err.contains("Float64") && err.contains("i64"), "{err}");
        let y = Series::new("y".into(), [1.0, 2.0]);
        let options = CorrelationOptions {
            pairs: vec![[0, 3]],
        };
        let err = correlations(&[y], &options).unwrap_err().to_string();
        assert!(err.contains("(0, 3)"), "{err}");
    }
}
