//! A variational Bayesian Gaussian mixture of one variable, with a Dirichlet-process
//! (stick-breaking) prior on its weights: the model of mode-specific normalisation
//! (Xu et al. 2019, CTGAN; RDT's `ClusterBasedNormalizer`), fitted on distinct values
//! weighted by their counts, which is the likelihood of the values repeated.
//!
//! The updates are the variational ones of Bishop, *Pattern Recognition and Machine
//! Learning* §10.2, in one dimension (the Wishart of eq. 10.59 becomes a Gamma):
//!
//! - responsibilities (10.46–10.49): `ln ρ_ik = E[ln π_k] + ½ E[ln Λ_k] − ½ ln 2π
//!   − ½ E[(x_i − μ_k)² Λ_k]`, with `E[ln Λ_k] = ψ(ν_k / 2) + ln 2 + ln W_k` (10.65) and
//!   `E[(x − μ_k)² Λ_k] = 1/β_k + ν_k W_k (x − m_k)²` (10.64);
//! - the Gaussian-Gamma factors (10.58–10.63): `β_k = β₀ + N_k`,
//!   `m_k = (β₀ m₀ + N_k x̄_k) / β_k`, `ν_k = ν₀ + N_k`,
//!   `W_k⁻¹ = W₀⁻¹ + N_k S_k + β₀ N_k (x̄_k − m₀)² / β_k`;
//! - the weights' stick-breaking factors (Blei and Jordan 2006, §3):
//!   `q(v_k) = Beta(1 + N_k, γ + Σ_{j>k} N_j)`, so that
//!   `E[ln π_k] = E[ln v_k] + Σ_{j<k} E[ln(1 − v_j)]`;
//! - the evidence lower bound, up to constants, to decide convergence (10.70–10.77).
//!
//! The priors are the usual defaults (those of scikit-learn's
//! `BayesianGaussianMixture`): `m₀` the data's mean, `β₀ = 1`, `ν₀ = 1`, `W₀⁻¹` the
//! data's variance (ddof 1); each component's variance gets `reg_covar` added. The
//! initial responsibilities are a weighted k-means (k-means++ seeding from the crate's
//! Philox stream, then Lloyd's iterations), so a fit is a pure function of (values,
//! counts, options). [`fit`] returns plain serde-able modes and a [`FitReport`];
//! nothing is printed, and not converging is a field of the report.
//!
//! A kernel: imports the leaves [`crate::rng`] (the seeded draws), [`crate::fastmath`]
//! and [`crate::simd`] (the E step's exponentials and vectors) and [`crate::par`] and `statrs`'s special
//! functions.

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::function::beta::ln_beta;
use statrs::function::gamma::{digamma, ln_gamma};

use crate::fastmath;
use crate::par::par_tasks;
use crate::rng::Noise;
use crate::simd::{with_isa, FloatV, Isa, IsaFn, Lane, Vector, LANES};

/// Options of [`fit`], checked by [`MixtureOptions::check`] before any value is read.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureOptions {
    /// At most this many components (CTGAN: 10).
    pub max_components: usize,
    /// The stick-breaking concentration `γ` (CTGAN: 0.001): small values leave unused
    /// components with no weight.
    pub concentration: f64,
    pub max_iter: usize,
    /// Convergence: the change of the lower bound between two iterations.
    pub tol: f64,
    /// Added to every component's variance.
    pub reg_covar: f64,
    /// Initialisations tried, each its own seeded k-means followed by [`SHORT_RUN`]
    /// iterations; the one of the largest lower bound then runs on to convergence (the
    /// "short EM" start of Biernacki, Celeux and Govaert 2003). One start can land in a
    /// poorer optimum: on Adult's hours-per-week, −2.149 nats per value against
    /// scikit-learn's −2.102 with one, −2.073 with the four of the default.
    pub n_init: usize,
    pub seed: u64,
}

impl Default for MixtureOptions {
    fn default() -> Self {
        Self {
            max_components: 10,
            concentration: 0.001,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            n_init: 4,
            seed: 0,
        }
    }
}

impl MixtureOptions {
    /// Errors naming the first option out of its range.
    pub fn check(&self) -> PolarsResult<()> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        polars_ensure!(
            (1..=1_000).contains(&self.max_components),
            InvalidOperation: "max_components must be in 1..=1000, got {}", self.max_components
        );
        polars_ensure!(
            positive(self.concentration),
            InvalidOperation: "the weights' concentration must be finite and > 0, got {}", self.concentration
        );
        polars_ensure!(self.max_iter >= 1, InvalidOperation: "max_iter must be >= 1, got 0");
        polars_ensure!(
            self.tol.is_finite() && self.tol >= 0.0,
            InvalidOperation: "tol must be finite and >= 0, got {}", self.tol
        );
        polars_ensure!(
            positive(self.reg_covar),
            InvalidOperation: "reg_covar must be finite and > 0, got {}", self.reg_covar
        );
        polars_ensure!(self.n_init >= 1, InvalidOperation: "n_init must be >= 1, got 0");
        Ok(())
    }
}

/// One component of a fitted mixture.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mode {
    pub weight: f64,
    pub mean: f64,
    pub std: f64,
}

/// Iterations every start runs before the best is chosen to run on.
pub const SHORT_RUN: usize = 10;

/// Values per task of the E step: fixed, so that its sums, added task by task in
/// order, do not depend on the threads.
const ROWS_PER_STEP: usize = 64 * 1024;

/// A small floor on every component's weight, as usual: an empty component's statistics
/// stay defined.
const FLOOR: f64 = 10.0 * f64::EPSILON;

/// How a fit went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitReport {
    /// Iterations of the kept initialisation (0 for data of one value).
    pub iterations: usize,
    pub converged: bool,
    /// The evidence lower bound, up to constants (0 for data of one value).
    pub lower_bound: f64,
}

/// The weighted data: values, their counts, and the priors taken from them.
struct Data<'a> {
    x: &'a [f64],
    c: &'a [f64],
    mean: f64,
    var: f64,
}

/// The variational factors of every component.
#[derive(Clone)]
struct Factors {
    /// Stick-breaking Beta parameters.
    alpha: Vec<f64>,
    beta: Vec<f64>,
    /// The mean's precision scale `β_k`, the mean `m_k`, the Gamma's degrees of freedom
    /// `ν_k`, and the normalised variance `1 / (ν_k W_k)`.
    lambda: Vec<f64>,
    m: Vec<f64>,
    nu: Vec<f64>,
    var: Vec<f64>,
}

/// Fits the mixture to `values` weighted by `counts` (every count > 0): at most
/// `max_components` modes, in component order, their weights the expected stick
/// lengths (summing to 1). Data of one value is one mode of standard deviation 0; data
/// of one count, or whose spread squares to nothing, one mode of its own variance plus
/// `reg_covar`; neither iterates. NaN, ±inf and counts that are not > 0 are errors.
pub fn fit(
    values: &[f64],
    counts: &[f64],
    options: &MixtureOptions,
) -> PolarsResult<(Vec<Mode>, FitReport)> {
    options.check()?;
    polars_ensure!(
        values.len() == counts.len(),
        ShapeMismatch: "the mixture's values and counts differ in length: {} and {}", values.len(), counts.len()
    );
    polars_ensure!(!values.is_empty(), ComputeError: "a mixture needs at least one value");
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        polars_bail!(ComputeError: "a mixture's values must be finite, got {}", v);
    }
    if let Some(c) = counts.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
        polars_bail!(ComputeError: "a mixture's counts must be finite and > 0, got {}", c);
    }
    let total: f64 = counts.iter().sum();
    let mean = values.iter().zip(counts).map(|(x, c)| x * c).sum::<f64>() / total;
    let ss: f64 = values
        .iter()
        .zip(counts)
        .map(|(x, c)| c * (x - mean) * (x - mean))
        .sum();
    let one_value = values.iter().all(|&x| x == values[0]);
    if one_value || total <= 1.0 || ss <= 0.0 {
        // One value has no spread. Distinct values that weigh one row at most, or whose
        // spread squares to nothing (below about 1e-154), are one component with their
        // own variance plus `reg_covar`, as a fit would give them: never a standard
        // deviation of 0, which would decode every one of them to their mean.
        let std = if one_value {
            0.0
        } else {
            (ss / total + options.reg_covar).sqrt()
        };
        let mode = Mode {
            weight: 1.0,
            mean,
            std,
        };
        let report = FitReport {
            iterations: 0,
            converged: true,
            lower_bound: 0.0,
        };
        return Ok((vec![mode], report));
    }
    // In ascending order: the fit does not depend on the order the values come in, and
    // k-means assigns them to their centres in one sweep.
    let mut pairs: Vec<(f64, f64)> = values.iter().copied().zip(counts.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (values, counts): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    let data = Data {
        x: &values,
        c: &counts,
        mean,
        var: ss / (total - 1.0),
    };
    let distinct = distinct_count(&values);
    let k = options.max_components.min(distinct);
    // The starts run side by side for a few iterations; the best, chosen in start
    // order so that the fit does not depend on the threads, runs on.
    let short = options.max_iter.min(SHORT_RUN);
    let starts = par_tasks((0..options.n_init).collect(), |_, init| {
        let seed = Noise::derive_seed(options.seed, &format!("mixture init {init}"));
        let labels = kmeans(&data, k, seed);
        let mut fit = Run::new(m_step(&data, &labels, k, options));
        fit.iterate(&data, options, short);
        fit
    });
    let mut best: Option<Run> = None;
    for start in starts {
        if best
            .as_ref()
            .is_none_or(|b| start.report.lower_bound > b.report.lower_bound)
        {
            best = Some(start);
        }
    }
    let Some(mut fit) = best else {
        polars_bail!(ComputeError: "the mixture was not initialised");
    };
    fit.iterate(&data, options, options.max_iter);
    Ok((modes(&fit.factors), fit.report))
}

/// The number of distinct values.
fn distinct_count(values: &[f64]) -> usize {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted.dedup();
    sorted.len()
}

/// A fit in progress: its factors and how far it has come.
struct Run {
    factors: Factors,
    report: FitReport,
}

impl Run {
    fn new(factors: Factors) -> Self {
        let report = FitReport {
            iterations: 0,
            converged: false,
            lower_bound: f64::NEG_INFINITY,
        };
        Self { factors, report }
    }

    /// Alternating E and M steps until the lower bound moves less than `tol` or
    /// `until` iterations in all.
    fn iterate(&mut self, data: &Data<'_>, options: &MixtureOptions, until: usize) {
        let k = self.factors.m.len();
        while !self.report.converged && self.report.iterations < until {
            let (entropy, moments) = e_step(data, &self.factors, k);
            self.factors = factors_of(data, &moments, options);
            let lower = lower_bound(&self.factors, entropy, k);
            self.report = FitReport {
                iterations: self.report.iterations + 1,
                converged: (lower - self.report.lower_bound).abs() < options.tol,
                lower_bound: lower,
            };
        }
    }
}

/// The first M step, from the hard responsibilities of each value's cluster `labels`.
fn m_step(data: &Data<'_>, labels: &[usize], k: usize, options: &MixtureOptions) -> Factors {
    let mut nk = vec![FLOOR; k];
    let mut sx = vec![0.0; k];
    for ((&x, &c), &l) in data.x.iter().zip(data.c).zip(labels) {
        nk[l] += c;
        sx[l] += c * x;
    }
    let xk: Vec<f64> = sx.iter().zip(&nk).map(|(s, n)| s / n).collect();
    let mut ss = vec![0.0; k];
    for ((&x, &c), &l) in data.x.iter().zip(data.c).zip(labels) {
        let d = x - xk[l];
        ss[l] += c * d * d;
    }
    factors_from(data, &nk, &xk, &ss, options)
}

/// The M step from an E step's [`Moments`]: about its shift `a`, a component's mean is
/// `x̄ = a + t` with `t = Σ c r d / N`, and `Σ c r (x − x̄)² = Σ c r d² − 2 t Σ c r d +
/// t² Σ c r`.
fn factors_of(data: &Data<'_>, m: &Moments, options: &MixtureOptions) -> Factors {
    let k = m.weight.len();
    let (mut nk, mut xk, mut ss) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    for j in 0..k {
        nk[j] = FLOOR + m.weight[j];
        let t = m.first[j] / nk[j];
        xk[j] = m.shift[j] + t;
        ss[j] = (m.second[j] - 2.0 * t * m.first[j] + t * t * m.weight[j]).max(0.0);
    }
    factors_from(data, &nk, &xk, &ss, options)
}

/// The factors (10.58–10.63 and the stick-breaking ones) from every component's weight
/// `N_k`, mean `x̄_k` and scatter `N_k S_k`.
fn factors_from(
    data: &Data<'_>,
    nk: &[f64],
    xk: &[f64],
    ss: &[f64],
    options: &MixtureOptions,
) -> Factors {
    let k = nk.len();
    let (beta0, nu0) = (1.0, 1.0);
    let mut later = 0.0;
    let mut beta = vec![0.0; k];
    for j in (0..k).rev() {
        beta[j] = options.concentration + later;
        later += nk[j];
    }
    let alpha = nk.iter().map(|n| 1.0 + n).collect();
    let lambda: Vec<f64> = nk.iter().map(|n| beta0 + n).collect();
    let m = (0..k)
        .map(|j| (beta0 * data.mean + nk[j] * xk[j]) / lambda[j])
        .collect();
    let nu: Vec<f64> = nk.iter().map(|n| nu0 + n).collect();
    let var = (0..k)
        .map(|j| {
            let sk = ss[j] / nk[j] + options.reg_covar;
            let d = xk[j] - data.mean;
            (data.var + nk[j] * sk + nk[j] * beta0 / lambda[j] * d * d) / nu[j]
        })
        .collect();
    Factors {
        alpha,
        beta,
        lambda,
        m,
        nu,
        var,
    }
}

/// `E[ln π_k]` of the stick-breaking weights.
fn log_weights(f: &Factors) -> Vec<f64> {
    let mut before = 0.0;
    f.alpha
        .iter()
        .zip(&f.beta)
        .map(|(&a, &b)| {
            let sum = digamma(a + b);
            let w = digamma(a) - sum + before;
            before += digamma(b) - sum;
            w
        })
        .collect()
}

/// The E step (10.46–10.49, 10.64, 10.65) and the statistics the next M step needs:
/// each value's responsibilities, computed and summed without being stored, as their
/// entropy `−Σ c r ln r` and every component's [`Moments`] about its current mean.
#[inline(always)]
fn e_step(data: &Data<'_>, f: &Factors, k: usize) -> (f64, Moments) {
    let log_w = log_weights(f);
    let ln_2pi = (2.0 * std::f64::consts::PI).ln();
    // Per component: everything but the squared distance.
    let constant: Vec<f64> = (0..k)
        .map(|j| {
            let e_ln_lambda =
                digamma(0.5 * f.nu[j]) + std::f64::consts::LN_2 - (f.nu[j] * f.var[j]).ln();
            log_w[j] + 0.5 * e_ln_lambda - 0.5 * ln_2pi - 0.5 / f.lambda[j]
        })
        .collect();
    let precision: Vec<f64> = f.var.iter().map(|v| 1.0 / v).collect();
    let step = |(x, c)| {
        with_isa(EStep {
            x,
            c,
            constant: &constant,
            mean: &f.m,
            precision: &precision,
        })
    };
    let pieces = data
        .x
        .chunks(ROWS_PER_STEP)
        .zip(data.c.chunks(ROWS_PER_STEP));
    // One piece runs here; more run side by side.
    let steps: Vec<(f64, Moments)> = if data.x.len() <= ROWS_PER_STEP {
        pieces.map(step).collect()
    } else {
        par_tasks(pieces.collect(), |_, piece| step(piece))
    };
    let none = Moments {
        weight: vec![0.0; k],
        first: vec![0.0; k],
        second: vec![0.0; k],
        shift: f.m.clone(),
    };
    steps.into_iter().fold((0.0, none), add_steps)
}

/// The sums of two pieces of the E step, in order.
fn add_steps((entropy, mut m): (f64, Moments), (e, n): (f64, Moments)) -> (f64, Moments) {
    let add = |a: &mut Vec<f64>, b: &[f64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    add(&mut m.weight, &n.weight);
    add(&mut m.first, &n.first);
    add(&mut m.second, &n.second);
    (entropy + e, m)
}

/// Per component: the responsibilities' total weight `Σ c r`, and the first and second
/// moments `Σ c r d`, `Σ c r d²` of the distances `d = x − shift` to its `shift`.
struct Moments {
    weight: Vec<f64>,
    first: Vec<f64>,
    second: Vec<f64>,
    shift: Vec<f64>,
}

/// The E step's rows, [`LANES`] at a time in vectors: each component's log
/// responsibility, the row's largest and the exponentials ([`fastmath`], the same bits
/// in every build); then the row's entropy and moments, summed lane by lane and the
/// lanes added in a fixed order at the end.
struct EStep<'a> {
    x: &'a [f64],
    c: &'a [f64],
    /// Per component: everything of the log responsibility but the squared distance.
    constant: &'a [f64],
    mean: &'a [f64],
    precision: &'a [f64],
}

impl IsaFn<(f64, Moments)> for EStep<'_> {
    #[inline(always)]
    fn call<S: Isa>(self, _: S) -> (f64, Moments) {
        let (n, k) = (self.x.len(), self.constant.len());
        let splat = <S::F64 as Lane>::splat;
        let zero = splat(0.0);
        let (mut r, mut d) = (vec![zero; k], vec![zero; k]);
        let (mut weight, mut first, mut second) = (vec![zero; k], vec![zero; k], vec![zero; k]);
        let mut entropy = zero;
        for at in (0..n).step_by(LANES) {
            let rows = (n - at).min(LANES);
            // Lanes past the last row repeat it with no weight.
            let x = S::F64::from_array(std::array::from_fn(|l| self.x[at + l.min(rows - 1)]));
            let c = S::F64::from_array(std::array::from_fn(|l| {
                if l < rows {
                    self.c[at + l]
                } else {
                    0.0
                }
            }));
            let mut max = splat(f64::NEG_INFINITY);
            for j in 0..k {
                let dj = x - splat(self.mean[j]);
                let v = splat(self.constant[j]) - splat(0.5) * dj * dj * splat(self.precision[j]);
                (r[j], d[j]) = (v, dj);
                max = S::F64::select(v.gt(max), v, max);
            }
            let (mut sum, mut weighted) = (zero, zero);
            for rj in r.iter_mut() {
                let shifted = *rj - max;
                let e = fastmath::exp_nonpositive(shifted);
                sum = sum + e;
                weighted = weighted + e * shifted;
                *rj = e;
            }
            // r_j = e_j / sum, and ln r_j = shifted_j − ln sum, so that
            // Σ r ln r = Σ e^shifted · shifted / sum − ln sum (sum ≥ 1: its largest term
            // is e⁰).
            let inv = S::F64::splat(1.0).quotient(sum);
            entropy = entropy + c * (weighted * inv - fastmath::ln(sum));
            let scale = c * inv;
            for j in 0..k {
                let w = r[j] * scale;
                let wd = w * d[j];
                weight[j] = weight[j] + w;
                first[j] = first[j] + wd;
                second[j] = second[j] + wd * d[j];
            }
        }
        let total = |v: S::F64| v.to_array().iter().sum::<f64>();
        let moments = Moments {
            weight: weight.into_iter().map(total).collect(),
            first: first.into_iter().map(total).collect(),
            second: second.into_iter().map(total).collect(),
            shift: self.mean.to_vec(),
        };
        (-total(entropy), moments)
    }
}

/// The evidence lower bound, up to constants (10.70–10.77): the responsibilities'
/// entropy, and the normalisers of the Gamma, Gaussian and stick-breaking factors.
fn lower_bound(f: &Factors, entropy: f64, k: usize) -> f64 {
    let mut bound = entropy;
    for j in 0..k {
        // ln of the Gamma's normaliser, in the normalised variance's terms.
        let ln_w = -(f.nu[j] * f.var[j]).ln();
        let log_norm = -(0.5 * f.nu[j] * ln_w
            + 0.5 * f.nu[j] * std::f64::consts::LN_2
            + ln_gamma(0.5 * f.nu[j]));
        bound -= log_norm;
        bound += ln_beta(f.alpha[j], f.beta[j]);
        bound -= 0.5 * f.lambda[j].ln();
    }
    bound
}

/// The fitted modes: the expected stick lengths as weights, the means, the standard
/// deviations of the normalised variances.
fn modes(f: &Factors) -> Vec<Mode> {
    let mut rest = 1.0;
    let mut weights: Vec<f64> = f
        .alpha
        .iter()
        .zip(&f.beta)
        .map(|(&a, &b)| {
            let v = a / (a + b);
            let w = v * rest;
            rest *= 1.0 - v;
            w
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= total);
    weights
        .iter()
        .zip(&f.m)
        .zip(&f.var)
        .map(|((&weight, &mean), &var)| Mode {
            weight,
            mean,
            std: var.sqrt(),
        })
        .collect()
}

/// A uniform draw in `[0, 1)` from the seeded stream, its `i`-th.
fn uniform(noise: &Noise, i: u64) -> f64 {
    let w = noise.words(i, 0);
    let bits = (u64::from(w[0]) << 21) ^ u64::from(w[1] >> 11);
    bits as f64 / (1u64 << 53) as f64
}

/// Every value's nearest centre, ties to the smaller centre (of equal ones, the earliest),
/// into `labels`, for values in ascending order: the nearest centre in ascending order
/// never moves back, so one sweep finds them all. Returns whether a label changed.
fn assign_sorted(x: &[f64], centres: &[f64], labels: &mut [usize]) -> bool {
    let mut order: Vec<usize> = (0..centres.len()).collect();
    order.sort_by(|&a, &b| centres[a].total_cmp(&centres[b]).then(a.cmp(&b)));
    // Of equal centres, the earliest takes the values.
    order.dedup_by(|b, a| centres[*a] == centres[*b]);
    let mut at = 0;
    let mut changed = false;
    for (&v, label) in x.iter().zip(labels.iter_mut()) {
        while at + 1 < order.len()
            && (v - centres[order[at + 1]]).abs() < (v - centres[order[at]]).abs()
        {
            at += 1;
        }
        changed |= *label != order[at];
        *label = order[at];
    }
    changed
}

/// Each value's cluster in a weighted k-means with `k` clusters: k-means++ seeding
/// (each centre drawn with probability ∝ count × squared distance to the nearest
/// centre), then Lloyd's iterations until no value changes cluster or the centres
/// barely move.
fn kmeans(data: &Data<'_>, k: usize, seed: u64) -> Vec<usize> {
    let noise = Noise::new(seed);
    let n = data.x.len();
    let mut centres: Vec<f64> = Vec::with_capacity(k);
    let mut nearest = vec![f64::INFINITY; n];
    for draw in 0..k {
        let weight = |i: usize| {
            if centres.is_empty() {
                data.c[i]
            } else {
                data.c[i] * nearest[i]
            }
        };
        let total: f64 = (0..n).map(weight).sum();
        let target = uniform(&noise, draw as u64) * total;
        let mut acc = 0.0;
        let mut pick = n - 1;
        for i in 0..n {
            acc += weight(i);
            if acc > target {
                pick = i;
                break;
            }
        }
        let centre = data.x[pick];
        centres.push(centre);
        for (d, &x) in nearest.iter_mut().zip(data.x) {
            *d = d.min((x - centre) * (x - centre));
        }
    }
    let mut labels = vec![0usize; n];
    assign_sorted(data.x, &centres, &mut labels);
    // scikit-learn's criterion besides: the centres' squared moves add up to at most
    // 1e-4 of the variance.
    let still = 1e-4 * data.var;
    for _ in 0..300 {
        let mut sums = vec![0.0; k];
        let mut weights = vec![0.0; k];
        for ((&x, &c), &l) in data.x.iter().zip(data.c).zip(&labels) {
            sums[l] += c * x;
            weights[l] += c;
        }
        let mut moved = 0.0;
        for j in 0..k {
            if weights[j] > 0.0 {
                let centre = sums[j] / weights[j];
                moved += (centre - centres[j]) * (centre - centres[j]);
                centres[j] = centre;
            }
        }
        if !assign_sorted(data.x, &centres, &mut labels) || moved <= still {
            break;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` draws of a normal law, by Box–Muller from the crate's stream.
    fn normal(n: usize, mean: f64, std: f64, seed: u64) -> Vec<f64> {
        let noise = Noise::new(seed);
        (0..n as u64)
            .map(|i| {
                let u1 = uniform(&noise, 2 * i).max(1e-300);
                let u2 = uniform(&noise, 2 * i + 1);
                mean + std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect()
    }

    /// Well-separated components are found again: each true component's fitted
    /// components (the kept ones nearest to it; the stick-breaking prior merges split
    /// components slowly, as in every implementation of the model) hold its weight, its
    /// mean and its variance.
    #[test]
    fn recovers_well_separated_components() {
        let truth = [(-10.0, 0.2, 6_000), (0.0, 0.5, 15_000), (10.0, 0.3, 9_000)];
        let mut x = Vec::new();
        for (i, &(mean, _, n)) in truth.iter().enumerate() {
            x.extend(normal(n, mean, 1.0, i as u64 + 1));
        }
        let c = vec![1.0; x.len()];
        let (modes, report) = fit(&x, &c, &MixtureOptions::default()).expect("fit");
        assert!(
            report.iterations >= 1 && report.lower_bound.is_finite(),
            "{report:?}"
        );
        let kept: Vec<&Mode> = modes.iter().filter(|m| m.weight > 0.005).collect();
        for &(mean, weight, _) in &truth {
            let near: Vec<&&Mode> = kept
                .iter()
                .filter(|m| {
                    let nearest = truth.iter().map(|t| (m.mean - t.0).abs());
                    nearest.fold(f64::INFINITY, f64::min) == (m.mean - mean).abs()
                })
                .collect();
            let w: f64 = near.iter().map(|m| m.weight).sum();
            let mu = near.iter().map(|m| m.weight * m.mean).sum::<f64>() / w;
            assert!((w - weight).abs() < 0.02, "{mean}: weight {w}, {kept:?}");
            assert!(
                (mu - mean).abs() < 0.02 * 20.0,
                "{mean}: mean {mu}, {kept:?}"
            );
            // The group's own variance, its second moment about its mean: the true 1.
            let second = near
                .iter()
                .map(|m| m.weight * (m.std * m.std + m.mean * m.mean))
                .sum::<f64>()
                / w;
            let var = second - mu * mu;
            assert!((var - 1.0).abs() < 0.1, "{mean}: variance {var}, {kept:?}");
        }
    }

    #[test]
    fn counts_weigh_as_repeated_values() {
        let distinct = [1.0, 2.0, 3.0, 7.0, 8.0, 9.5];
        let counts = [30.0, 50.0, 20.0, 40.0, 45.0, 15.0];
        let repeated: Vec<f64> = distinct
            .iter()
            .zip(counts)
            .flat_map(|(&x, c)| std::iter::repeat_n(x, c as usize))
            .collect();
        let options = MixtureOptions::default();
        let (a, _) = fit(&distinct, &counts, &options).expect("weighted");
        let (b, _) = fit(&repeated, &vec![1.0; repeated.len()], &options).expect("repeated");
        for (a, b) in a.iter().zip(&b) {
            assert!((a.weight - b.weight).abs() < 1e-9, "{a:?} {b:?}");
            assert!((a.mean - b.mean).abs() < 1e-9, "{a:?} {b:?}");
            assert!((a.std - b.std).abs() < 1e-9, "{a:?} {b:?}");
        }
    }

    #[test]
    fn a_seed_fixes_the_fit() {
        let mut x = normal(2_000, 0.0, 1.0, 4);
        x.extend(normal(2_000, 3.0, 0.5, 5));
        let c = vec![1.0; x.len()];
        let options = MixtureOptions {
            seed: 9,
            ..Default::default()
        };
        assert_eq!(
            fit(&x, &c, &options).expect("a"),
            fit(&x, &c, &options).expect("b")
        );
    }

    #[test]
    fn degenerate_data_is_one_mode_or_an_error() {
        let options = MixtureOptions::default();
        let (modes, report) = fit(&[4.0, 4.0], &[3.0, 1.0], &options).expect("constant");
        assert_eq!(
            modes,
            vec![Mode {
                weight: 1.0,
                mean: 4.0,
                std: 0.0
            }]
        );
        assert_eq!(report.iterations, 0);
        let (modes, _) = fit(&[2.5], &[1.0], &options).expect("one row");
        assert_eq!(modes.len(), 1);
        assert!(fit(&[1.0, f64::NAN], &[1.0, 1.0], &options).is_err());
        assert!(fit(&[1.0, f64::INFINITY], &[1.0, 1.0], &options).is_err());
        assert!(fit(&[1.0, 2.0], &[1.0, 0.0], &options).is_err());
        assert!(fit(&[], &[], &options).is_err());
        let bad = MixtureOptions {
            concentration: 0.0,
            ..Default::default()
        };
        assert!(fit(&[1.0, 2.0], &[1.0, 1.0], &bad).is_err());
    }
}
