//! argmax kernels: the index of a row's largest score, lowest on ties, and the same for
//! eight rows at once. Each has a portable build and an explicit AVX2 one ([`avx2`]),
//! taken when the CPU has AVX2; both give the same results.
//!
//! A kernel module: imports the leaves [`crate::real`] and [`crate::simd`].

use crate::real::Real;
pub use crate::simd::LANES;
#[cfg(target_arch = "x86_64")]
use crate::simd::USE_AVX2;

/// A float type with argmax kernels: [`Real`] and its explicit AVX2 builds.
pub trait Argmax: Real {
    /// [`argmax_lanes`] in explicit AVX2 vectors.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn lanes_avx2(
        width: usize,
        zero_is_null: bool,
        score: impl Fn(usize) -> [Self; LANES],
    ) -> ([u32; LANES], u8);
    /// The argmax of a long row in explicit AVX2 vectors, lanes merged in vectors too.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    unsafe fn wide_row_avx2(x: &[Self]) -> Option<usize>;
}

macro_rules! impl_argmax {
    ($t:ty, $lanes:ident, $wide:ident) => {
        impl Argmax for $t {
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            unsafe fn lanes_avx2(
                width: usize,
                zero_is_null: bool,
                score: impl Fn(usize) -> [Self; LANES],
            ) -> ([u32; LANES], u8) {
                // SAFETY: the caller promises AVX2.
                unsafe { avx2::$lanes(width, zero_is_null, score) }
            }
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            unsafe fn wide_row_avx2(x: &[Self]) -> Option<usize> {
                // SAFETY: the caller promises AVX2.
                unsafe { avx2::$wide(x) }
            }
        }
    };
}
impl_argmax!(f32, argmax_lanes_f32, wide_row_f32);
impl_argmax!(f64, argmax_lanes_f64, wide_row_f64);

/// Index of the largest score, lowest on ties; `None` for a row that is to be null.
/// One pass, without early exits, so that short rows run branch-light.
#[inline(always)]
pub fn argmax_row<T: Argmax>(x: &[T]) -> Option<usize> {
    if x.len() >= 2 * LANES {
        return argmax_wide_row(x);
    }
    let mut best = 0;
    let mut max = T::NEG_INFINITY;
    let mut bad = false;
    for (j, &v) in x.iter().enumerate() {
        bad |= v.is_nan() | (v.widen() == f64::INFINITY);
        if v > max {
            max = v;
            best = j;
        }
    }
    (!bad && max > T::NEG_INFINITY).then_some(best)
}

/// `[f(0), f(1), …, f(LANES - 1)]`, always inlined: `std::array::from_fn` may be left
/// as a call, compiled without the caller's AVX2, which stops the lanes vectorising.
#[inline(always)]
pub fn lanes_of<T>(f: impl Fn(usize) -> T) -> [T; LANES] {
    [f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)]
}

/// A running argmax in [`LANES`] independent lanes, with no branch per score: the
/// portable build. [`avx2`] takes the same steps in explicit vectors.
struct Lanes<T> {
    best: [T; LANES],
    idx: [u32; LANES],
    bad: [bool; LANES],
    nonzero: [bool; LANES],
}

impl<T: Real> Lanes<T> {
    /// The lanes after seeing `score(0), …, score(width - 1)`, numbered by position.
    #[inline(always)]
    fn run(width: usize, score: impl Fn(usize) -> [T; LANES]) -> Self {
        let mut lanes = Self {
            best: [T::NEG_INFINITY; LANES],
            idx: [0; LANES],
            bad: [false; LANES],
            nonzero: [false; LANES],
        };
        for j in 0..width {
            lanes.update(j as u32, score(j));
        }
        lanes
    }

    /// Lane `l` sees score `v[l]`, numbered `j`; the first of equal scores stays.
    #[inline(always)]
    fn update(&mut self, j: u32, v: [T; LANES]) {
        for (l, &v) in v.iter().enumerate() {
            let greater = v > self.best[l];
            self.best[l] = if greater { v } else { self.best[l] };
            self.idx[l] = if greater { j } else { self.idx[l] };
            self.bad[l] |= v.is_nan() | (v == T::INFINITY);
            self.nonzero[l] |= v != T::ZERO;
        }
    }
}

/// The argmax of [`LANES`] rows at once, with the rules of [`argmax_row`]: `score(j)`
/// gives the rows' scores of category `j`. Returns each row's index (0 for a null row)
/// and a mask with bit `l` set when row `l` has one: not for a row with NaN or `+inf`
/// or no score above `-inf`, nor, when `zero_is_null`, for an all-zero row. `score`
/// should be `#[inline(always)]`, to be inlined into the AVX2 build.
#[inline(always)]
pub fn argmax_lanes<T: Argmax>(
    width: usize,
    zero_is_null: bool,
    score: impl Fn(usize) -> [T; LANES],
) -> ([u32; LANES], u8) {
    #[cfg(target_arch = "x86_64")]
    if *USE_AVX2 {
        // SAFETY: the CPU was found to support AVX2.
        return unsafe { T::lanes_avx2(width, zero_is_null, score) };
    }
    portable_lanes(width, zero_is_null, score)
}

/// [`argmax_lanes`] in the portable build.
#[inline(always)]
fn portable_lanes<T: Real>(
    width: usize,
    zero_is_null: bool,
    score: impl Fn(usize) -> [T; LANES],
) -> ([u32; LANES], u8) {
    let lanes = Lanes::run(width, score);
    let ok = lanes_of(|l| {
        !lanes.bad[l] && lanes.best[l] > T::NEG_INFINITY && (!zero_is_null || lanes.nonzero[l])
    });
    let mask = ok.iter().rev().fold(0u8, |m, &ok| (m << 1) | u8::from(ok));
    (lanes_of(|l| if ok[l] { lanes.idx[l] } else { 0 }), mask)
}

/// [`argmax_lanes`] and the long-row argmax in explicit AVX2 vectors: the steps of
/// [`Lanes::update`], lane for lane, with the state in registers.
#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    use super::LANES;

    /// Eight lanes of `f32`: the best score, its index (as float bits), NaN seen, and
    /// the OR of every score's bits, which is all zeros but the sign bit only when every
    /// score was ±0. A `+inf` needs no watch of its own: it ends as the best.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn run_f32(width: usize, score: impl Fn(usize) -> [f32; LANES]) -> [__m256; 4] {
        let zero = _mm256_setzero_ps();
        let (mut best, mut idx) = (_mm256_set1_ps(f32::NEG_INFINITY), zero);
        let (mut nan, mut bits_or) = (zero, zero);
        for j in 0..width {
            let scores = score(j);
            // SAFETY: `scores` holds LANES = 8 floats.
            let v = unsafe { _mm256_loadu_ps(scores.as_ptr()) };
            let greater = _mm256_cmp_ps::<_CMP_GT_OQ>(v, best);
            best = _mm256_blendv_ps(best, v, greater);
            let j = _mm256_castsi256_ps(_mm256_set1_epi32(j as i32));
            idx = _mm256_blendv_ps(idx, j, greater);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
            bits_or = _mm256_or_ps(bits_or, v);
        }
        [best, idx, nan, bits_or]
    }

    /// Lanes that hold an argmax: no NaN, no `+inf`, a best above `-inf`, and (when
    /// `zero_is_null`) a score other than ±0.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn ok_f32([best, _, nan, bits_or]: [__m256; 4], zero_is_null: bool) -> __m256 {
        let inf = _mm256_cmp_ps::<_CMP_EQ_OQ>(best, _mm256_set1_ps(f32::INFINITY));
        let finite = _mm256_cmp_ps::<_CMP_GT_OQ>(best, _mm256_set1_ps(f32::NEG_INFINITY));
        let mut ok = _mm256_andnot_ps(_mm256_or_ps(nan, inf), finite);
        if zero_is_null {
            let magnitude =
                _mm256_and_ps(bits_or, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)));
            let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(magnitude, _mm256_setzero_ps());
            ok = _mm256_and_ps(ok, nonzero);
        }
        ok
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn argmax_lanes_f32(
        width: usize,
        zero_is_null: bool,
        score: impl Fn(usize) -> [f32; LANES],
    ) -> ([u32; LANES], u8) {
        let state = run_f32(width, score);
        let ok = ok_f32(state, zero_is_null);
        let mut idx = [0u32; LANES];
        // SAFETY: `idx` holds 8 values of 4 bytes.
        unsafe { _mm256_storeu_ps(idx.as_mut_ptr().cast(), _mm256_and_ps(state[1], ok)) };
        (idx, _mm256_movemask_ps(ok) as u8)
    }

    /// [`super::argmax_row`] of a row of at least [`LANES`] scores: eight at a time
    /// along the row, the lanes merged in vectors (largest score, then lowest index),
    /// the scores past the last full group compared one by one.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn wide_row_f32(x: &[f32]) -> Option<usize> {
        let groups = x.len() / LANES;
        let body = &x[..groups * LANES];
        let state = run_f32(groups, |c| {
            let g = &body[c * LANES..(c + 1) * LANES];
            super::lanes_of(|l| g[l])
        });
        let [best, idx, nan, _] = state;
        // The largest of the lanes' bests, in every lane.
        let mut max = _mm256_max_ps(best, _mm256_permute2f128_ps::<1>(best, best));
        max = _mm256_max_ps(max, _mm256_permute_ps::<0b01_00_11_10>(max));
        max = _mm256_max_ps(max, _mm256_permute_ps::<0b10_11_00_01>(max));
        // Among the lanes that hold it, the lowest category: group * LANES + lane.
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let category = _mm256_add_epi32(_mm256_slli_epi32::<3>(_mm256_castps_si256(idx)), lane);
        let holds = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_EQ_OQ>(best, max));
        let mut low = _mm256_blendv_epi8(_mm256_set1_epi32(-1), category, holds);
        low = _mm256_min_epu32(low, _mm256_permute2x128_si256::<1>(low, low));
        low = _mm256_min_epu32(low, _mm256_shuffle_epi32::<0b01_00_11_10>(low));
        low = _mm256_min_epu32(low, _mm256_shuffle_epi32::<0b10_11_00_01>(low));
        let at = _mm256_cvtsi256_si32(low) as u32 as usize;
        let nan = _mm256_movemask_ps(nan) != 0;
        super::with_tail(x, body.len(), at, _mm256_cvtss_f32(max), nan)
    }

    /// [`wide_row_f32`] for `f64`: the same steps, each lane a pair of four-wide halves.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn wide_row_f64(x: &[f64]) -> Option<usize> {
        let groups = x.len() / LANES;
        let body = &x[..groups * LANES];
        let [best, idx, nan, _] = run_f64(groups, |c| {
            let g = &body[c * LANES..(c + 1) * LANES];
            super::lanes_of(|l| g[l])
        });
        // The largest of the eight lanes' bests, in every lane of both halves.
        let mut max = _mm256_max_pd(best[0], best[1]);
        max = _mm256_max_pd(max, _mm256_permute2f128_pd::<1>(max, max));
        max = _mm256_max_pd(max, _mm256_permute_pd::<0b0101>(max));
        // Among the lanes that hold it, the lowest category: group * LANES + lane.
        let mut low = _mm256_set1_epi64x(-1);
        for h in 0..2 {
            let lane = _mm256_setr_epi64x(
                4 * h as i64,
                4 * h as i64 + 1,
                4 * h as i64 + 2,
                4 * h as i64 + 3,
            );
            let group = _mm256_castpd_si256(idx[h]);
            let category = _mm256_add_epi64(_mm256_slli_epi64::<3>(group), lane);
            let holds = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_EQ_OQ>(best[h], max));
            let candidate = _mm256_blendv_epi8(_mm256_set1_epi64x(-1), category, holds);
            // Categories are far below 2^63: a signed compare orders them, and -1
            // (no candidate) is made the largest by the unsigned view below.
            let below = _mm256_cmpgt_epi64(
                _mm256_xor_si256(low, _mm256_set1_epi64x(i64::MIN)),
                _mm256_xor_si256(candidate, _mm256_set1_epi64x(i64::MIN)),
            );
            low = _mm256_blendv_epi8(low, candidate, below);
        }
        let mut lanes = [0u64; 4];
        // SAFETY: `lanes` holds 4 values of 8 bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), low) };
        let at = lanes.iter().copied().min().unwrap_or(u64::MAX) as usize;
        let nan = (_mm256_movemask_pd(nan[0]) | _mm256_movemask_pd(nan[1])) != 0;
        super::with_tail(x, body.len(), at, _mm256_cvtsd_f64(max), nan)
    }

    /// Eight lanes of `f64` as two halves of four: the state of [`run_f32`], the index
    /// kept in 64-bit lanes beside its score.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn run_f64(width: usize, score: impl Fn(usize) -> [f64; LANES]) -> [[__m256d; 2]; 4] {
        let zero = _mm256_setzero_pd();
        let mut best = [_mm256_set1_pd(f64::NEG_INFINITY); 2];
        let mut idx = [zero; 2];
        let (mut nan, mut bits_or) = ([zero; 2], [zero; 2]);
        for j in 0..width {
            let scores = score(j);
            let jv = _mm256_castsi256_pd(_mm256_set1_epi64x(j as i64));
            for h in 0..2 {
                // SAFETY: `scores` holds 8 doubles; each half reads four of them.
                let v = unsafe { _mm256_loadu_pd(scores.as_ptr().add(4 * h)) };
                let greater = _mm256_cmp_pd::<_CMP_GT_OQ>(v, best[h]);
                best[h] = _mm256_blendv_pd(best[h], v, greater);
                idx[h] = _mm256_blendv_pd(idx[h], jv, greater);
                nan[h] = _mm256_or_pd(nan[h], _mm256_cmp_pd::<_CMP_UNORD_Q>(v, v));
                bits_or[h] = _mm256_or_pd(bits_or[h], v);
            }
        }
        [best, idx, nan, bits_or]
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn argmax_lanes_f64(
        width: usize,
        zero_is_null: bool,
        score: impl Fn(usize) -> [f64; LANES],
    ) -> ([u32; LANES], u8) {
        let zero = _mm256_setzero_pd();
        let [best, idx, nan, bits_or] = run_f64(width, score);
        let magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
        let (mut mask, mut wide) = (0u8, [0u64; LANES]);
        for h in 0..2 {
            let inf = _mm256_cmp_pd::<_CMP_EQ_OQ>(best[h], _mm256_set1_pd(f64::INFINITY));
            let finite = _mm256_cmp_pd::<_CMP_GT_OQ>(best[h], _mm256_set1_pd(f64::NEG_INFINITY));
            let mut ok = _mm256_andnot_pd(_mm256_or_pd(nan[h], inf), finite);
            if zero_is_null {
                let bits = _mm256_and_pd(bits_or[h], magnitude);
                ok = _mm256_and_pd(ok, _mm256_cmp_pd::<_CMP_NEQ_UQ>(bits, zero));
            }
            mask |= (_mm256_movemask_pd(ok) as u8) << (4 * h);
            // SAFETY: `wide` holds 8 values of 8 bytes; each half writes four.
            unsafe {
                _mm256_storeu_pd(
                    wide.as_mut_ptr().add(4 * h).cast(),
                    _mm256_and_pd(idx[h], ok),
                )
            };
        }
        (super::lanes_of(|l| wide[l] as u32), mask)
    }
}

/// [`argmax_row`] of a long row: [`LANES`] scores at a time, lane `l` holding the
/// categories `l, l + LANES, …`; the lanes' winners are then merged, lowest index on
/// ties, and the scores past the last full group of lanes compared one by one.
#[inline(always)]
fn argmax_wide_row<T: Argmax>(x: &[T]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if *USE_AVX2 {
        // SAFETY: the CPU was found to support AVX2.
        return unsafe { T::wide_row_avx2(x) };
    }
    portable_wide_row(x)
}

/// [`argmax_wide_row`] in the portable build.
#[inline(always)]
fn portable_wide_row<T: Real>(x: &[T]) -> Option<usize> {
    let tail = x.chunks_exact(LANES).remainder();
    let body = &x[..x.len() - tail.len()];
    let lanes = Lanes::run(
        body.len() / LANES,
        #[inline(always)]
        |c| {
            let group = &body[c * LANES..(c + 1) * LANES];
            lanes_of(|l| group[l])
        },
    );
    let (mut best, mut max) = (0, T::NEG_INFINITY);
    for l in 0..LANES {
        let (v, j) = (lanes.best[l], lanes.idx[l] as usize * LANES + l);
        if v > max || (v == max && v > T::NEG_INFINITY && j < best) {
            (best, max) = (j, v);
        }
    }
    with_tail(x, body.len(), best, max, lanes.bad.contains(&true))
}

/// The argmax of a long row from that of its first `body` scores (index `at`, score
/// `top`, `bad` when they held NaN): the scores past them compared one by one. `None`
/// for NaN anywhere, `+inf` anywhere (it ends as the top) or no score above `-inf`.
#[inline(always)]
fn with_tail<T: Real>(
    x: &[T],
    body: usize,
    mut at: usize,
    mut top: T,
    mut bad: bool,
) -> Option<usize> {
    for (t, &v) in x[body..].iter().enumerate() {
        bad |= v.is_nan();
        if v > top {
            (at, top) = (body + t, v);
        }
    }
    (!bad && top > T::NEG_INFINITY && top < T::INFINITY).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules of [`argmax_row`], written plainly: `None` for NaN or `+inf` anywhere,
    /// for no score above `-inf`, and (when `zero_is_null`) for a row of zeros; else the
    /// first index of the largest score.
    fn reference(x: &[f64], zero_is_null: bool) -> Option<usize> {
        if x.iter().any(|v| v.is_nan() || *v == f64::INFINITY) {
            return None;
        }
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY || (zero_is_null && x.iter().all(|&v| v == 0.0)) {
            return None;
        }
        x.iter().position(|&v| v == max)
    }

    /// Rows of `width` scores drawn from values that tie, the special values and
    /// plain numbers, by a fixed linear congruential sequence.
    fn rows(width: usize, count: usize, seed: u64) -> Vec<Vec<f64>> {
        const POOL: [f64; 12] = [
            0.0,
            -0.0,
            1.0,
            1.0,
            -1.0,
            2.5,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NAN,
            1e300,
            -1e-300,
        ];
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..count)
            .map(|r| {
                (0..width)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let pick = (state >> 33) as usize;
                        // Most rows hold no NaN or +inf, so their argmax is tested too;
                        // every fourth row is all zeros.
                        match r % 4 {
                            0 => 0.0,
                            1 => POOL[pick % 12],
                            _ => POOL[pick % 8] + (pick % 5) as f64,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn check_lanes<T: Argmax>(narrow: impl Fn(f64) -> T, widen: impl Fn(T) -> f64) {
        for width in 1..=40 {
            for zero_is_null in [false, true] {
                let rows: Vec<Vec<T>> = rows(width, 4 * LANES, width as u64)
                    .into_iter()
                    .map(|r| r.into_iter().map(&narrow).collect())
                    .collect();
                for group in rows.chunks_exact(LANES) {
                    let score = |j: usize| lanes_of(|l| group[l][j]);
                    let expected: Vec<Option<usize>> = group
                        .iter()
                        .map(|r| {
                            let wide: Vec<f64> = r.iter().map(|&v| widen(v)).collect();
                            reference(&wide, zero_is_null)
                        })
                        .collect();
                    let mut builds = vec![portable_lanes(width, zero_is_null, score)];
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        builds.push(unsafe { T::lanes_avx2(width, zero_is_null, score) });
                    }
                    for (idx, mask) in builds {
                        let got: Vec<Option<usize>> = (0..LANES)
                            .map(|l| (mask >> l & 1 == 1).then_some(idx[l] as usize))
                            .collect();
                        assert_eq!(got, expected, "width {width}, zero_is_null {zero_is_null}");
                    }
                }
            }
        }
    }

    fn check_rows<T: Argmax>(narrow: impl Fn(f64) -> T, widen: impl Fn(T) -> f64) {
        for width in 1..=40 {
            for row in rows(width, 64, 100 + width as u64) {
                let x: Vec<T> = row.iter().map(|&v| narrow(v)).collect();
                let wide: Vec<f64> = x.iter().map(|&v| widen(v)).collect();
                let expected = reference(&wide, false);
                assert_eq!(argmax_row(&x), expected, "{wide:?}");
                if width >= LANES {
                    assert_eq!(portable_wide_row(&x), expected, "{wide:?}");
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        assert_eq!(unsafe { T::wide_row_avx2(&x) }, expected, "{wide:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn lane_kernels_match_the_reference_at_every_width() {
        check_lanes::<f32>(|v| v as f32, f64::from);
        check_lanes::<f64>(|v| v, |v| v);
    }

    #[test]
    fn row_kernels_match_the_reference_at_every_width() {
        check_rows::<f32>(|v| v as f32, f64::from);
        check_rows::<f64>(|v| v, |v| v);
    }

    #[test]
    fn ties_go_to_the_lowest_index_across_lanes() {
        // The largest score in every lane of a long row, and past the lanes.
        for width in [16, 17, 24, 40] {
            let mut x = vec![1.0f64; width];
            x[width - 1] = 3.0;
            x[9] = 3.0;
            assert_eq!(argmax_row(&x), Some(9));
            assert_eq!(portable_wide_row(&x), Some(9));
        }
    }
}
