//! Branch-free `ln` and `exp` for `f64` and `f32`, written once over [`FloatV`] so that
//! the same steps run on one value and on every build of the vectors: IEEE-754
//! multiplies, adds, fused multiply-adds, one division, selects and bit operations,
//! each correctly rounded, so every CPU and vector width gives the same bits. Accurate
//! to two units in the last place over the ranges the kernels use them on.
//!
//! A leaf: imports only [`crate::simd`] (the vector traits it is written over).

// The polynomial and ln 2 constants are fdlibm's (f64) and Cephes' (f32), kept digit
// for digit as published.
#![allow(clippy::excessive_precision)]

use crate::simd::{FloatV, IntV, Lane};

const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const TWO_52: f64 = 4_503_599_627_370_496.0;
const TWO_23: f32 = 8_388_608.0;
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// 1.5 · 2²³, the same for `f32`.
const ROUND_F32: f32 = 12_582_912.0;

#[inline(always)]
fn c<F: Lane>(x: F::Elem) -> F {
    F::splat(x)
}

/// Natural logarithm of a positive, normal, finite `x`: fdlibm's `__ieee754_log`
/// without its branches. `x = 2ᵏ · m` with `m` in [√½, √2), `f = m − 1`,
/// `s = f / (2 + f)`, and `ln m = 2 atanh s` from fdlibm's two polynomials in `s²`,
/// evaluated with fused multiply-adds in Estrin's scheme.
#[inline(always)]
pub fn ln<F>(x: F) -> F
where
    F: FloatV<Elem = f64>,
    F::Bits: Lane<Elem = u64>,
{
    const LG: [f64; 7] = [
        6.666_666_666_666_735_130e-1,
        3.999_999_999_940_941_908e-1,
        2.857_142_874_366_239_149e-1,
        2.222_219_843_214_978_396e-1,
        1.818_357_216_161_805_012e-1,
        1.531_383_769_920_937_332e-1,
        1.479_819_860_511_658_591e-1,
    ];
    let bits = x.to_bits();
    // The biased exponent e as `2⁵² + e` from bits, then less the bias: exact, with no
    // integer-to-float conversion (AVX2 has none for 64-bit integers).
    let exponent = F::from_bits(bits.shr::<52>().or(c(0x4330_0000_0000_0000))) - c(TWO_52 + 1023.0);
    let m = F::from_bits(
        bits.and(c(0x000F_FFFF_FFFF_FFFF))
            .or(c(0x3FF0_0000_0000_0000)),
    );
    // m in [1, 2) → [√½, √2), so that f = m − 1 is small.
    let big = m.gt(c(std::f64::consts::SQRT_2));
    let m = F::select(big, m * c(0.5), m);
    let k = exponent + F::select(big, c(1.0), c(0.0));
    let f = m - c(1.0);
    let s = f.quotient(c::<F>(2.0) + f);
    let z = s * s;
    let w = z * z;
    let w2 = w * w;
    let t1 = w * w2.mul_add(c(LG[5]), w.mul_add(c(LG[3]), c(LG[1])));
    let t2 = z * w2.mul_add(w.mul_add(c(LG[6]), c(LG[4])), w.mul_add(c(LG[2]), c(LG[0])));
    let r = t2 + t1;
    let hfsq = c::<F>(0.5) * f * f;
    k.mul_add(c(LN2_HI), f - (hfsq - s.mul_add(hfsq + r, k * c(LN2_LO))))
}
/// `e^x` for `x ≤ 0` (softmax exponents): exact 1 at 0, 0 below −708 and at −∞.
#[inline(always)]
pub fn exp_nonpositive<F>(x: F) -> F
where
    F: FloatV<Elem = f64>,
    F::Bits: Lane<Elem = u64>,
{
    // Taylor series of e^r to degree 13 (error below 1e-17 for |r| ≤ ln2 / 2), in
    // Estrin's scheme: four dependent steps instead of thirteen.
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    // Below −708 (−∞ included) the steps give anything, NaN among it: the last select
    // makes it 0.
    let under = x.lt(c(-708.0));
    let t = x.mul_add(c(std::f64::consts::LOG2_E), c(ROUND));
    // −k in one exact step: `t` and `ROUND` lie in one binade, whose floats are
    // whole numbers, so `ROUND − t` is exact, and +0 where `0 − (t − ROUND)` is.
    let minus_k = c::<F>(ROUND) - t;
    let r = minus_k.mul_add(c(LN2_LO), minus_k.mul_add(c(LN2_HI), x));
    let pair = |i: usize| r.mul_add(c(C[i + 1]), c(C[i]));
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let s0 = pair(2).mul_add(r2, pair(0));
    let s1 = pair(6).mul_add(r2, pair(4));
    let s2 = pair(10).mul_add(r2, pair(8));
    let p = pair(12).mul_add(r4, s2).mul_add(r8, s1.mul_add(r4, s0));
    // 2ᵏ: k + 1023 as the exponent field, where `t`'s low bits hold `ROUND` + k.
    let scale = F::from_bits(t.to_bits().sub(c(ROUND.to_bits() - 1023)).shl::<52>());
    F::select(under, c(0.0), p * scale)
}

/// Natural logarithm of a positive, normal, finite `x` in `f32`: Cephes' `logf`
/// reduction to [√½, √2) and its degree-8 polynomial.
#[inline(always)]
pub fn ln_f32<F>(x: F) -> F
where
    F: FloatV<Elem = f32>,
    F::Bits: Lane<Elem = u32>,
{
    const P: [f32; 9] = [
        7.037_683_629_2e-2,
        -1.151_461_031_0e-1,
        1.167_699_874_0e-1,
        -1.242_014_084_6e-1,
        1.424_932_278_7e-1,
        -1.666_805_766_5e-1,
        2.000_071_476_5e-1,
        -2.499_999_399_3e-1,
        3.333_333_117_4e-1,
    ];
    const LN2_HI_F32: f32 = 0.693_359_375;
    const LN2_LO_F32: f32 = -2.121_944_400_5e-4;
    let bits = x.to_bits();
    let exponent = F::from_bits(bits.shr::<23>().or(c(0x4B00_0000))) - c(TWO_23 + 127.0);
    let m = F::from_bits(bits.and(c(0x007F_FFFF)).or(c(0x3F80_0000)));
    let big = m.gt(c(std::f32::consts::SQRT_2));
    let m = F::select(big, m * c(0.5), m);
    let k = exponent + F::select(big, c(1.0), c(0.0));
    let f = m - c(1.0);
    // The degree-8 polynomial in Estrin's scheme: four dependent steps, not eight.
    let z = f * f;
    let z2 = z * z;
    let pair = |i: usize| f.mul_add(c(P[i]), c(P[i + 1]));
    let low = pair(5).mul_add(z, pair(7));
    let high = pair(1).mul_add(z, pair(3));
    let p = (z2 * z2).mul_add(c(P[0]), high.mul_add(z2, low));
    let y = (f * z).mul_add(p, z.mul_add(c(-0.5), k * c(LN2_LO_F32)));
    k.mul_add(c(LN2_HI_F32), f + y)
}

/// `e^x` in `f32` for `x ≤ 0`: exact 1 at 0, 0 below −87 and at −∞ (Cephes' `expf`
/// reduction and polynomial).
#[inline(always)]
pub fn exp_nonpositive_f32<F>(x: F) -> F
where
    F: FloatV<Elem = f32>,
    F::Bits: Lane<Elem = u32>,
{
    const P: [f32; 6] = [
        1.987_569_150_0e-4,
        1.398_199_950_7e-3,
        8.333_451_907_3e-3,
        4.166_579_589_4e-2,
        1.666_666_545_9e-1,
        5.000_000_120_1e-1,
    ];
    const C1: f32 = 0.693_359_375;
    const C2: f32 = -2.121_944_400_5e-4;
    // Below −87 (−∞ included) the steps give anything, NaN among it: the last select
    // makes it 0.
    let under = x.lt(c(-87.0));
    let t = x.mul_add(c(std::f32::consts::LOG2_E), c(ROUND_F32));
    // −k in one exact step: `t` and `ROUND_F32` lie in one binade, whose floats are
    // whole numbers, so `ROUND_F32 − t` is exact, and +0 where `0 − (t − ROUND_F32)` is.
    let minus_k = c::<F>(ROUND_F32) - t;
    let r = minus_k.mul_add(c(C2), minus_k.mul_add(c(C1), x));
    // The degree-5 polynomial in Estrin's scheme.
    let r2 = r * r;
    let pair = |i: usize| r.mul_add(c(P[i]), c(P[i + 1]));
    let p = pair(0).mul_add(r2, pair(2)).mul_add(r2, pair(4));
    let e = p.mul_add(r2, r) + c(1.0);
    // 2ᵏ: k + 127 as the exponent field, where `t`'s low bits hold `ROUND_F32` + k.
    let scale = F::from_bits(t.to_bits().sub(c(ROUND_F32.to_bits() - 127)).shl::<23>());
    F::select(under, c(0.0), e * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{Arr, Portable, Vector};

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    fn ulps32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i32 - b.to_bits() as i32).unsigned_abs()
    }

    /// Every value through the scalar and the portable eight-lane build, and the AVX2
    /// build where the CPU has it: the same bits from each.
    fn same_bits_f64(xs: &[f64], f: fn(f64) -> f64, v: fn(Arr<f64>) -> Arr<f64>) {
        for chunk in xs.chunks(8) {
            let mut a = [chunk[0]; 8];
            a[..chunk.len()].copy_from_slice(chunk);
            let lanes = v(Arr(a));
            for (l, &x) in a.iter().enumerate() {
                assert_eq!(lanes.0[l].to_bits(), f(x).to_bits(), "x = {x}");
            }
        }
    }

    #[test]
    fn ln_is_within_two_ulps_of_std() {
        let mut xs: Vec<f64> = Vec::new();
        let mut x = 1e-300;
        while x < 1e300 {
            xs.extend([x, x * 1.000_000_1, x * 1.5, x * 1.999_999]);
            x *= 1.37;
        }
        for &y in &xs {
            let (got, want) = (ln(y), y.ln());
            assert!(
                ulps(got, want) <= 2 || (got - want).abs() < 1e-300,
                "ln({y}) = {got}, std {want}"
            );
        }
        same_bits_f64(&xs, ln, ln::<Arr<f64>>);
        let near_one = [1.0 - 2f64.powi(-53), 1.0, 1.0 + 2f64.powi(-52), 0.5, 2.0];
        for y in near_one {
            assert!(
                (ln(y) - y.ln()).abs() <= 2.0 * f64::EPSILON * y.ln().abs().max(1e-300),
                "ln({y})"
            );
        }
    }

    #[test]
    fn exp_is_within_two_ulps_of_std() {
        let mut xs: Vec<f64> = Vec::new();
        let mut x: f64 = 0.0;
        while x > -708.0 {
            xs.push(x);
            let (got, want) = (exp_nonpositive(x), x.exp());
            assert!(ulps(got, want) <= 2, "exp({x}) = {got}, std {want}");
            x -= 0.013_7;
        }
        same_bits_f64(&xs, exp_nonpositive, exp_nonpositive::<Arr<f64>>);
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(-1e300), 0.0);
        assert_eq!(exp_nonpositive(-708.000_1), 0.0);
        // The kernels find a row's NaN by its sum: NaN must come through.
        assert!(exp_nonpositive(f64::NAN).is_nan());
    }

    #[test]
    fn ln_f32_is_within_two_ulps_of_exact() {
        let mut x = 1e-37f32;
        while x < 1e37 {
            for y in [x, x * 1.000_01, x * 1.5, x * 1.999_9] {
                let (got, want) = (ln_f32(y), (y as f64).ln() as f32);
                assert!(
                    ulps32(got, want) <= 2 || (got - want).abs() < 1e-37,
                    "ln_f32({y}) = {got}, exact {want}"
                );
                let lanes = ln_f32(<Portable as crate::simd::Isa>::F32::splat(y));
                assert_eq!(lanes.to_array()[3].to_bits(), got.to_bits());
            }
            x *= 1.37;
        }
        // Near 1, where the result is small: within two ulps of the result too.
        for y in [
            1.0 - 2f32.powi(-24),
            1.0,
            1.0 + 2f32.powi(-23),
            0.999,
            1.001,
        ] {
            let want = (y as f64).ln();
            assert!(
                ((ln_f32(y) as f64) - want).abs() <= 2.0 * f32::EPSILON as f64 * want.abs(),
                "ln_f32({y})"
            );
        }
    }

    #[test]
    fn exp_f32_is_within_two_ulps_of_exact() {
        let mut x = 0.0f32;
        while x > -87.0 {
            let (got, want) = (exp_nonpositive_f32(x), (x as f64).exp() as f32);
            assert!(ulps32(got, want) <= 2, "exp_f32({x}) = {got}, exact {want}");
            x -= 0.013_7;
        }
        assert_eq!(exp_nonpositive_f32(0.0f32), 1.0);
        assert_eq!(exp_nonpositive_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive_f32(-1e30f32), 0.0);
        assert_eq!(exp_nonpositive_f32(-87.000_01f32), 0.0);
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
    }

    /// `f` over every `f32` whose bits lie in `bits` (every `stride`-th of them), eight
    /// lanes at a time in the best build of the vectors, on two threads: the largest
    /// distance in ulps from `want`, and the input where it is.
    fn worst_f32(
        bits: std::ops::Range<u32>,
        stride: u32,
        f: fn(crate::simd::Arr<f32>) -> crate::simd::Arr<f32>,
        vector: fn([f32; 8]) -> [f32; 8],
        want: fn(f32) -> f64,
    ) -> (u32, f32) {
        let half = bits.start + (bits.end - bits.start) / 2;
        let part = |r: std::ops::Range<u32>| {
            let mut worst = (0u32, 0f32);
            let mut b = r.start;
            while b < r.end {
                let xs: [f32; 8] =
                    std::array::from_fn(|l| f32::from_bits((b + l as u32 * stride).min(r.end - 1)));
                let got = vector(xs);
                // The portable build, one lane in eight: the same bits.
                assert_eq!(
                    f(Arr(xs)).0[b as usize % 8].to_bits(),
                    got[b as usize % 8].to_bits()
                );
                for (l, &x) in xs.iter().enumerate() {
                    let exact = want(x);
                    let u = if exact.abs() < 1e-30 {
                        0
                    } else {
                        ulps32(got[l], exact as f32)
                    };
                    if u > worst.0 {
                        worst = (u, x);
                    }
                }
                b = b.saturating_add(8 * stride);
            }
            worst
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| part(bits.start..half));
            let b = part(half..bits.end);
            (a.join().unwrap(), b)
        });
        if a.0 >= b.0 {
            a
        } else {
            b
        }
    }

    /// Every `f32` in the kernels' own build, or every 61st in a debug build (the whole
    /// range runs in `make accuracy`, where it takes seconds).
    fn f32_stride() -> u32 {
        if cfg!(debug_assertions) {
            61
        } else {
            1
        }
    }

    struct Ln32([f32; 8]);
    impl crate::simd::IsaFn<[f32; 8]> for Ln32 {
        #[inline(always)]
        fn call<S: crate::simd::Isa>(self, _: S) -> [f32; 8] {
            ln_f32(S::F32::from_array(self.0)).to_array()
        }
    }
    struct Exp32([f32; 8]);
    impl crate::simd::IsaFn<[f32; 8]> for Exp32 {
        #[inline(always)]
        fn call<S: crate::simd::Isa>(self, _: S) -> [f32; 8] {
            exp_nonpositive_f32(S::F32::from_array(self.0)).to_array()
        }
    }

    #[test]
    fn ln_f32_is_within_two_ulps_on_every_normal_float() {
        let (worst, at) = worst_f32(
            f32::MIN_POSITIVE.to_bits()..f32::INFINITY.to_bits(),
            f32_stride(),
            ln_f32::<Arr<f32>>,
            |x| crate::simd::with_isa(Ln32(x)),
            |x| (x as f64).ln(),
        );
        assert!(worst <= 2, "{worst} ulps at {at:e}");
    }

    #[test]
    fn exp_f32_is_within_two_ulps_on_every_float_down_to_minus_87() {
        let (worst, at) = worst_f32(
            0x8000_0000..(-87.0f32).to_bits() + 1,
            f32_stride(),
            exp_nonpositive_f32::<Arr<f32>>,
            |x| crate::simd::with_isa(Exp32(x)),
            |x| (x as f64).exp(),
        );
        assert!(worst <= 2, "{worst} ulps at {at:e}");
        // Subnormal and zero inputs: e⁰ = 1 exactly.
        for x in [-f32::from_bits(1), -f32::MIN_POSITIVE, -0.0, 0.0] {
            assert_eq!(exp_nonpositive_f32(x), 1.0, "{x:e}");
        }
    }

    /// 10⁸ random `f64` inputs in the kernels' own build (10⁶ in a debug build), from
    /// SplitMix64: the largest distance in ulps from `std`.
    fn worst_f64(
        draw: impl Fn(u64) -> f64 + Sync,
        f: fn(f64) -> f64,
        want: fn(f64) -> f64,
    ) -> (u64, f64) {
        let n: u64 = if cfg!(debug_assertions) {
            1_000_000
        } else {
            100_000_000
        };
        let part = |r: std::ops::Range<u64>| {
            let mut worst = (0u64, 0f64);
            for i in r {
                let x = draw(i);
                let u = ulps(f(x), want(x));
                if u > worst.0 {
                    worst = (u, x);
                }
            }
            worst
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| part(0..n / 2));
            let b = part(n / 2..n);
            (a.join().unwrap(), b)
        });
        if a.0 >= b.0 {
            a
        } else {
            b
        }
    }

    /// The `i`-th output of SplitMix64 (Steele, Lea and Flood, 2014) from 0.
    fn bits_of(i: u64) -> u64 {
        let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn ln_is_within_two_ulps_on_random_doubles() {
        // Every positive normal double, its exponent uniform.
        let normal = |i| {
            let b = bits_of(i);
            let e = 1 + (b >> 52) % 2046;
            f64::from_bits((e << 52) | (b & 0x000F_FFFF_FFFF_FFFF))
        };
        let (worst, at) = worst_f64(normal, ln, f64::ln);
        assert!(worst <= 2, "{worst} ulps at {at:e}");
        // The noise's own inputs: u in (0, 1), then −ln u.
        let uniform = |i| (bits_of(i) >> 12) as f64 * 2f64.powi(-52) + 2f64.powi(-53);
        let (worst, at) = worst_f64(uniform, ln, f64::ln);
        assert!(worst <= 2, "{worst} ulps at {at:e}");
        let (worst, at) = worst_f64(|i| -uniform(i).ln(), ln, f64::ln);
        assert!(worst <= 2, "{worst} ulps at {at:e}");
    }

    #[test]
    fn exp_is_within_two_ulps_on_random_doubles() {
        let below = |i| -708.0 * (bits_of(i) >> 11) as f64 / (1u64 << 53) as f64;
        let (worst, at) = worst_f64(below, exp_nonpositive, f64::exp);
        assert!(worst <= 2, "{worst} ulps at {at:e}");
        for x in [-f64::from_bits(1), -f64::MIN_POSITIVE, -0.0, 0.0] {
            assert_eq!(exp_nonpositive(x), 1.0, "{x:e}");
        }
    }

    #[test]
    fn the_noise_edges_are_exact_to_two_ulps() {
        // The smallest and largest uniforms of both types, 1 ± ulp, and the logarithm of
        // the largest u < 1, whose −ln u is the smallest input the second logarithm sees.
        let u_lo = 2f64.powi(-53);
        let u_hi = 1.0 - 2f64.powi(-53);
        for x in [
            u_lo,
            u_hi,
            -u_hi.ln(),
            -u_lo.ln(),
            1.0,
            1.0 + f64::EPSILON,
            1.0 - f64::EPSILON / 2.0,
        ] {
            assert!(
                ulps(ln(x), x.ln()) <= 2 || (ln(x) - x.ln()).abs() < 1e-300,
                "ln({x:e})"
            );
        }
        let v_lo = 2f32.powi(-24);
        let v_hi = 1.0 - 2f32.powi(-24);
        for x in [
            v_lo,
            v_hi,
            -((v_hi as f64).ln() as f32),
            1.0 + f32::EPSILON,
            1.0 - f32::EPSILON / 2.0,
        ] {
            let exact = (x as f64).ln();
            assert!(
                ulps32(ln_f32(x), exact as f32) <= 2 || exact.abs() < 1e-30,
                "ln_f32({x:e}) = {}, exact {exact}",
                ln_f32(x)
            );
        }
        assert_eq!(ln(1.0f64), 0.0);
        assert_eq!(ln_f32(1.0f32), 0.0);
    }
}
