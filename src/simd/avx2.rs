//! The AVX2 build. Its operations are plain functions around AVX2 and FMA intrinsics,
//! always inlined: they may only run inside a function compiled with both enabled, on a CPU
//! that has them ([`super::with_isa`] ensures both).

use std::arch::x86_64::*;
use std::ops::{Add, Mul, Sub};

use super::{FloatV, IntV, Isa, Lane, MaskV, Vector, LANES};

#[derive(Clone, Copy, Debug, Default)]
pub struct Avx2;

#[derive(Clone, Copy, Debug)]
pub struct U32x8(__m256i);
#[derive(Clone, Copy, Debug)]
pub struct U64x8([__m256i; 2]);
#[derive(Clone, Copy, Debug)]
pub struct F32x8(__m256);
#[derive(Clone, Copy, Debug)]
pub struct F64x8([__m256d; 2]);

// SAFETY (every `unsafe` block below): the intrinsics need AVX2, which the callers
// guarantee (see the module's doc); loads and stores go through arrays of exactly
// the vector's size.

// The vectors are plain register values: moving them between threads is sound.
unsafe impl Send for U32x8 {}
unsafe impl Sync for U32x8 {}
unsafe impl Send for U64x8 {}
unsafe impl Sync for U64x8 {}
unsafe impl Send for F32x8 {}
unsafe impl Sync for F32x8 {}
unsafe impl Send for F64x8 {}
unsafe impl Sync for F64x8 {}

impl Lane for U32x8 {
    type Elem = u32;
    #[inline(always)]
    fn splat(x: u32) -> Self {
        unsafe { Self(_mm256_set1_epi32(x as i32)) }
    }
}

impl Vector for U32x8 {
    #[inline(always)]
    fn from_array(a: [u32; LANES]) -> Self {
        unsafe { Self(_mm256_loadu_si256(a.as_ptr().cast())) }
    }
    #[inline(always)]
    fn to_array(self) -> [u32; LANES] {
        let mut a = [0; LANES];
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), self.0) };
        a
    }
}

impl IntV for U32x8 {
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        unsafe { Self(_mm256_and_si256(self.0, o.0)) }
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        unsafe { Self(_mm256_or_si256(self.0, o.0)) }
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        unsafe { Self(_mm256_xor_si256(self.0, o.0)) }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        unsafe { Self(_mm256_add_epi32(self.0, o.0)) }
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        unsafe { Self(_mm256_sub_epi32(self.0, o.0)) }
    }
    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        unsafe { Self(_mm256_srli_epi32::<N>(self.0)) }
    }
    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        unsafe { Self(_mm256_slli_epi32::<N>(self.0)) }
    }
}

impl MaskV for U32x8 {
    #[inline(always)]
    fn movemask(self) -> u8 {
        unsafe { _mm256_movemask_ps(_mm256_castsi256_ps(self.0)) as u8 }
    }
}

impl Lane for U64x8 {
    type Elem = u64;
    #[inline(always)]
    fn splat(x: u64) -> Self {
        unsafe { Self([_mm256_set1_epi64x(x as i64); 2]) }
    }
}

impl Vector for U64x8 {
    #[inline(always)]
    fn from_array(a: [u64; LANES]) -> Self {
        unsafe {
            Self([
                _mm256_loadu_si256(a.as_ptr().cast()),
                _mm256_loadu_si256(a[4..].as_ptr().cast()),
            ])
        }
    }
    #[inline(always)]
    fn to_array(self) -> [u64; LANES] {
        let mut a = [0; LANES];
        unsafe {
            _mm256_storeu_si256(a.as_mut_ptr().cast(), self.0[0]);
            _mm256_storeu_si256(a[4..].as_mut_ptr().cast(), self.0[1]);
        }
        a
    }
}

macro_rules! halves {
    ($a:expr, $b:expr, $f:ident) => {
        unsafe { U64x8([$f($a.0[0], $b.0[0]), $f($a.0[1], $b.0[1])]) }
    };
}

impl IntV for U64x8 {
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        halves!(self, o, _mm256_and_si256)
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        halves!(self, o, _mm256_or_si256)
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        halves!(self, o, _mm256_xor_si256)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        halves!(self, o, _mm256_add_epi64)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        halves!(self, o, _mm256_sub_epi64)
    }
    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        unsafe {
            Self([
                _mm256_srli_epi64::<N>(self.0[0]),
                _mm256_srli_epi64::<N>(self.0[1]),
            ])
        }
    }
    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        unsafe {
            Self([
                _mm256_slli_epi64::<N>(self.0[0]),
                _mm256_slli_epi64::<N>(self.0[1]),
            ])
        }
    }
}

impl MaskV for U64x8 {
    #[inline(always)]
    fn movemask(self) -> u8 {
        unsafe {
            let lo = _mm256_movemask_pd(_mm256_castsi256_pd(self.0[0])) as u8;
            let hi = _mm256_movemask_pd(_mm256_castsi256_pd(self.0[1])) as u8;
            lo | (hi << 4)
        }
    }
}

impl Lane for F32x8 {
    type Elem = f32;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        unsafe { Self(_mm256_set1_ps(x)) }
    }
}

impl Vector for F32x8 {
    #[inline(always)]
    fn from_array(a: [f32; LANES]) -> Self {
        unsafe { Self(_mm256_loadu_ps(a.as_ptr())) }
    }
    #[inline(always)]
    fn to_array(self) -> [f32; LANES] {
        let mut a = [0.0; LANES];
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), self.0) };
        a
    }
}

macro_rules! pd {
    ($a:expr, $b:expr, $f:ident) => {
        unsafe { F64x8([$f($a.0[0], $b.0[0]), $f($a.0[1], $b.0[1])]) }
    };
}

macro_rules! op {
    ($ty:ident, $tr:ident, $m:ident, $e:expr) => {
        impl $tr for $ty {
            type Output = Self;
            #[inline(always)]
            fn $m(self, o: Self) -> Self {
                #[allow(clippy::redundant_closure_call)]
                $e(self, o)
            }
        }
    };
}
op!(F32x8, Add, add, |a: F32x8, b: F32x8| unsafe {
    F32x8(_mm256_add_ps(a.0, b.0))
});
op!(F32x8, Sub, sub, |a: F32x8, b: F32x8| unsafe {
    F32x8(_mm256_sub_ps(a.0, b.0))
});
op!(F32x8, Mul, mul, |a: F32x8, b: F32x8| unsafe {
    F32x8(_mm256_mul_ps(a.0, b.0))
});
op!(F64x8, Add, add, |a: F64x8, b: F64x8| pd!(
    a,
    b,
    _mm256_add_pd
));
op!(F64x8, Sub, sub, |a: F64x8, b: F64x8| pd!(
    a,
    b,
    _mm256_sub_pd
));
op!(F64x8, Mul, mul, |a: F64x8, b: F64x8| pd!(
    a,
    b,
    _mm256_mul_pd
));

impl FloatV for F32x8 {
    type Bits = U32x8;
    #[inline(always)]
    fn gt(self, o: Self) -> U32x8 {
        unsafe {
            U32x8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(
                self.0, o.0,
            )))
        }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> U32x8 {
        unsafe {
            U32x8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(
                self.0, o.0,
            )))
        }
    }
    #[inline(always)]
    fn eq(self, o: Self) -> U32x8 {
        unsafe {
            U32x8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_EQ_OQ>(
                self.0, o.0,
            )))
        }
    }
    #[inline(always)]
    fn is_nan(self) -> U32x8 {
        unsafe {
            U32x8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(
                self.0, self.0,
            )))
        }
    }
    #[inline(always)]
    fn select(m: U32x8, a: Self, b: Self) -> Self {
        unsafe { Self(_mm256_blendv_ps(b.0, a.0, _mm256_castsi256_ps(m.0))) }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        unsafe { Self(_mm256_fmadd_ps(self.0, a.0, b.0)) }
    }
    #[inline(always)]
    fn quotient(self, o: Self) -> Self {
        unsafe { Self(_mm256_div_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn larger(self, o: Self) -> Self {
        // `vmaxps a, b` is `a > b ? a : b`, lane by lane.
        unsafe { Self(_mm256_max_ps(self.0, o.0)) }
    }
    #[inline(always)]
    fn to_bits(self) -> U32x8 {
        unsafe { U32x8(_mm256_castps_si256(self.0)) }
    }
    #[inline(always)]
    fn from_bits(b: U32x8) -> Self {
        unsafe { Self(_mm256_castsi256_ps(b.0)) }
    }
}

impl Lane for F64x8 {
    type Elem = f64;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        unsafe { Self([_mm256_set1_pd(x); 2]) }
    }
}

impl Vector for F64x8 {
    #[inline(always)]
    fn from_array(a: [f64; LANES]) -> Self {
        unsafe {
            Self([
                _mm256_loadu_pd(a.as_ptr()),
                _mm256_loadu_pd(a[4..].as_ptr()),
            ])
        }
    }
    #[inline(always)]
    fn to_array(self) -> [f64; LANES] {
        let mut a = [0.0; LANES];
        unsafe {
            _mm256_storeu_pd(a.as_mut_ptr(), self.0[0]);
            _mm256_storeu_pd(a[4..].as_mut_ptr(), self.0[1]);
        }
        a
    }
}

macro_rules! pd_cmp {
    ($a:expr, $b:expr, $c:ident) => {
        unsafe {
            U64x8([
                _mm256_castpd_si256(_mm256_cmp_pd::<$c>($a.0[0], $b.0[0])),
                _mm256_castpd_si256(_mm256_cmp_pd::<$c>($a.0[1], $b.0[1])),
            ])
        }
    };
}

impl FloatV for F64x8 {
    type Bits = U64x8;
    #[inline(always)]
    fn gt(self, o: Self) -> U64x8 {
        pd_cmp!(self, o, _CMP_GT_OQ)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> U64x8 {
        pd_cmp!(self, o, _CMP_LT_OQ)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> U64x8 {
        pd_cmp!(self, o, _CMP_EQ_OQ)
    }
    #[inline(always)]
    fn is_nan(self) -> U64x8 {
        pd_cmp!(self, self, _CMP_UNORD_Q)
    }
    #[inline(always)]
    fn select(m: U64x8, a: Self, b: Self) -> Self {
        unsafe {
            Self([
                _mm256_blendv_pd(b.0[0], a.0[0], _mm256_castsi256_pd(m.0[0])),
                _mm256_blendv_pd(b.0[1], a.0[1], _mm256_castsi256_pd(m.0[1])),
            ])
        }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        unsafe {
            Self([
                _mm256_fmadd_pd(self.0[0], a.0[0], b.0[0]),
                _mm256_fmadd_pd(self.0[1], a.0[1], b.0[1]),
            ])
        }
    }
    #[inline(always)]
    fn quotient(self, o: Self) -> Self {
        unsafe {
            Self([
                _mm256_div_pd(self.0[0], o.0[0]),
                _mm256_div_pd(self.0[1], o.0[1]),
            ])
        }
    }
    #[inline(always)]
    fn larger(self, o: Self) -> Self {
        // `vmaxpd a, b` is `a > b ? a : b`, lane by lane.
        unsafe {
            Self([
                _mm256_max_pd(self.0[0], o.0[0]),
                _mm256_max_pd(self.0[1], o.0[1]),
            ])
        }
    }
    #[inline(always)]
    fn to_bits(self) -> U64x8 {
        unsafe {
            U64x8([
                _mm256_castpd_si256(self.0[0]),
                _mm256_castpd_si256(self.0[1]),
            ])
        }
    }
    #[inline(always)]
    fn from_bits(b: U64x8) -> Self {
        unsafe { Self([_mm256_castsi256_pd(b.0[0]), _mm256_castsi256_pd(b.0[1])]) }
    }
}

impl Isa for Avx2 {
    type U32 = U32x8;
    type U64 = U64x8;
    type F32 = F32x8;
    type F64 = F64x8;
    #[inline(always)]
    fn mul_hilo(a: U32x8, m: u32) -> (U32x8, U32x8) {
        unsafe {
            let m = _mm256_set1_epi64x(i64::from(m));
            // Products of the even lanes, then of the odd ones, as 64-bit lanes.
            let even = _mm256_mul_epu32(a.0, m);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a.0), m);
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
            (U32x8(hi), U32x8(lo))
        }
    }
    #[inline(always)]
    fn join(hi: U32x8, lo: U32x8) -> U64x8 {
        unsafe {
            // Lanes 0-3 and 4-7 of each, widened to 64 bits, then hi · 2³² | lo.
            let h0 = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(hi.0));
            let h1 = _mm256_cvtepu32_epi64(_mm256_extracti128_si256::<1>(hi.0));
            let l0 = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(lo.0));
            let l1 = _mm256_cvtepu32_epi64(_mm256_extracti128_si256::<1>(lo.0));
            U64x8([
                _mm256_or_si256(_mm256_slli_epi64::<32>(h0), l0),
                _mm256_or_si256(_mm256_slli_epi64::<32>(h1), l1),
            ])
        }
    }
    #[inline(always)]
    fn widen(x: F32x8) -> F64x8 {
        unsafe {
            F64x8([
                _mm256_cvtps_pd(_mm256_castps256_ps128(x.0)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x.0)),
            ])
        }
    }
    #[inline(always)]
    fn narrow(x: F64x8) -> F32x8 {
        unsafe {
            F32x8(_mm256_set_m128(
                _mm256_cvtpd_ps(x.0[1]),
                _mm256_cvtpd_ps(x.0[0]),
            ))
        }
    }
    #[inline(always)]
    fn transpose_f32(rows: [F32x8; LANES]) -> [F32x8; LANES] {
        unsafe {
            let r = rows.map(|v| v.0);
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            [
                F32x8(_mm256_permute2f128_ps::<0x20>(u0, u4)),
                F32x8(_mm256_permute2f128_ps::<0x20>(u1, u5)),
                F32x8(_mm256_permute2f128_ps::<0x20>(u2, u6)),
                F32x8(_mm256_permute2f128_ps::<0x20>(u3, u7)),
                F32x8(_mm256_permute2f128_ps::<0x31>(u0, u4)),
                F32x8(_mm256_permute2f128_ps::<0x31>(u1, u5)),
                F32x8(_mm256_permute2f128_ps::<0x31>(u2, u6)),
                F32x8(_mm256_permute2f128_ps::<0x31>(u3, u7)),
            ]
        }
    }
    #[inline(always)]
    fn transpose_f64(rows: [F64x8; LANES]) -> [F64x8; LANES] {
        /// The 4 × 4 transpose of `a`, `b`, `c`, `d`.
        #[inline(always)]
        fn four(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> [__m256d; 4] {
            unsafe {
                let t0 = _mm256_unpacklo_pd(a, b);
                let t1 = _mm256_unpackhi_pd(a, b);
                let t2 = _mm256_unpacklo_pd(c, d);
                let t3 = _mm256_unpackhi_pd(c, d);
                [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ]
            }
        }
        let r = rows.map(|v| v.0);
        // Columns 0-3 of rows 0-3 and of rows 4-7, then columns 4-7 of each.
        let a = four(r[0][0], r[1][0], r[2][0], r[3][0]);
        let b = four(r[4][0], r[5][0], r[6][0], r[7][0]);
        let c = four(r[0][1], r[1][1], r[2][1], r[3][1]);
        let d = four(r[4][1], r[5][1], r[6][1], r[7][1]);
        [
            F64x8([a[0], b[0]]),
            F64x8([a[1], b[1]]),
            F64x8([a[2], b[2]]),
            F64x8([a[3], b[3]]),
            F64x8([c[0], d[0]]),
            F64x8([c[1], d[1]]),
            F64x8([c[2], d[2]]),
            F64x8([c[3], d[3]]),
        ]
    }
}
