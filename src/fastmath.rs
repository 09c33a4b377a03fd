//! Branch-free `ln` and `exp` for `f64` that the compiler can vectorise: plain
//! multiplies and adds (no fused multiply-add), so every CPU and vector width gives the
//! same bits. Accurate to about one unit in the last place over the ranges the kernels
//! use them on.

// The polynomial and ln 2 constants are fdlibm's, kept digit for digit as published.
#![allow(clippy::excessive_precision)]

const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const SQRT2: f64 = std::f64::consts::SQRT_2;
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Natural logarithm of a positive, normal, finite `x` (fdlibm's `__ieee754_log`
/// reduction and polynomial, without its branches).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    let bits = x.to_bits();
    let exponent = ((bits >> 52) as i64 - 1023) as f64;
    let m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    // m in [1, 2) → [√½, √2), so that f = m − 1 is small.
    let big = m > SQRT2;
    let m = if big { m * 0.5 } else { m };
    let k = exponent + if big { 1.0 } else { 0.0 };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// `e^x` for `x ≤ 0` (softmax exponents): exact 1 at 0, 0 below −708 and at −∞.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    let clamped = if x < -708.0 { -708.0 } else { x };
    let t = clamped * LOG2E + ROUND;
    let k = t - ROUND;
    let ki = t.to_bits() as i64 - ROUND.to_bits() as i64;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
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
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = C[0] + C[1] * r;
    let q1 = C[2] + C[3] * r;
    let q2 = C[4] + C[5] * r;
    let q3 = C[6] + C[7] * r;
    let q4 = C[8] + C[9] * r;
    let q5 = C[10] + C[11] * r;
    let q6 = C[12] + C[13] * r;
    let s0 = q0 + q1 * r2;
    let s1 = q2 + q3 * r2;
    let s2 = q4 + q5 * r2;
    let p = (s0 + s1 * r4) + (s2 + q6 * r4) * r8;
    let scale = f64::from_bits(((ki + 1023) as u64) << 52);
    if x < -708.0 {
        0.0
    } else {
        p * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn ln_is_within_two_ulps_of_std() {
        let mut x = 1e-300;
        while x < 1e300 {
            for y in [x, x * 1.000_000_1, x * 1.5, x * 1.999_999] {
                let (got, want) = (ln(y), y.ln());
                assert!(
                    ulps(got, want) <= 2 || (got - want).abs() < 1e-300,
                    "ln({y}) = {got}, std {want}"
                );
            }
            x *= 1.37;
        }
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
        let mut x = 0.0;
        while x > -708.0 {
            let (got, want) = (exp_nonpositive(x), x.exp());
            assert!(ulps(got, want) <= 2, "exp({x}) = {got}, std {want}");
            x -= 0.013_7;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(-1e300), 0.0);
    }
}
