//! Eight-lane vectors, in two builds: explicit AVX2 ([`Avx2`]) and plain arrays
//! ([`Portable`]), chosen once per task by [`USE_AVX2`]. Kernels are written once,
//! generic over the build ([`Isa`]); every operation here is an exact IEEE-754
//! operation, an integer operation or a select, lane by lane, so both builds give the
//! same bits.
//!
//! A leaf: owns CPU detection ([`USE_AVX2`]), the dual-build helpers ([`with_best_simd`],
//! [`with_isa`]) and the lane count ([`LANES`]); imports nothing of this crate.

use std::ops::{Add, Mul, Sub};

/// Lanes of one vector: eight `f32` or `u32` make one AVX2 register, eight `f64` two.
pub const LANES: usize = 8;

/// Whether kernels take their AVX2 build: when the CPU has AVX2, unless the environment
/// sets `POLARS_GUMBEL_BASELINE_SIMD` (which tests use to compare the two builds).
#[cfg(target_arch = "x86_64")]
pub static USE_AVX2: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::arch::is_x86_feature_detected!("avx2")
        && std::env::var_os("POLARS_GUMBEL_BASELINE_SIMD").is_none()
});

/// One value or a vector of them: what the arithmetic below is written over, so that
/// one function serves a scalar and every build of the vectors.
pub trait Lane: Copy + Send + Sync {
    type Elem: Copy;
    fn splat(x: Self::Elem) -> Self;
}

/// Eight lanes of one element type.
pub trait Vector: Lane {
    fn from_array(a: [Self::Elem; LANES]) -> Self;
    fn to_array(self) -> [Self::Elem; LANES];
}

/// Unsigned integers; a mask is all ones or all zeros.
pub trait IntV: Lane {
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    /// Wrapping addition.
    fn add(self, o: Self) -> Self;
    /// Wrapping subtraction.
    fn sub(self, o: Self) -> Self;
    /// Logical shift right by `N`.
    fn shr<const N: i32>(self) -> Self;
    /// Shift left by `N`.
    fn shl<const N: i32>(self) -> Self;
}

/// Masks of eight lanes.
pub trait MaskV: IntV + Vector {
    /// The lanes' top bits, lane `l` in bit `l`.
    fn movemask(self) -> u8;
}

/// Floats: `+`, `−` and `×`; comparisons give masks in the float's bits.
pub trait FloatV: Lane + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    type Bits: IntV;
    /// `self > o`, false for NaN.
    fn gt(self, o: Self) -> Self::Bits;
    /// `self < o`, false for NaN.
    fn lt(self, o: Self) -> Self::Bits;
    /// `self == o`, false for NaN.
    fn eq(self, o: Self) -> Self::Bits;
    /// `self != self`.
    fn is_nan(self) -> Self::Bits;
    /// `a` where `m` is set, `b` elsewhere.
    fn select(m: Self::Bits, a: Self, b: Self) -> Self;
    fn to_bits(self) -> Self::Bits;
    fn from_bits(b: Self::Bits) -> Self;
}

/// A build of the vectors.
pub trait Isa: Copy + Send + Sync {
    type U32: MaskV<Elem = u32>;
    type U64: MaskV<Elem = u64>;
    type F32: FloatV<Elem = f32, Bits = Self::U32> + Vector;
    type F64: FloatV<Elem = f64, Bits = Self::U64> + Vector;
    /// The high and low 32 bits of each lane's `a · m`.
    fn mul_hilo(a: Self::U32, m: u32) -> (Self::U32, Self::U32);
    /// `hi · 2³² + lo`, lane by lane.
    fn join(hi: Self::U32, lo: Self::U32) -> Self::U64;
    /// Each `f32` lane as `f64`.
    fn widen(x: Self::F32) -> Self::F64;
    /// The transpose of eight vectors: lane `l` of `out[j]` is lane `j` of `rows[l]`.
    fn transpose_f32(rows: [Self::F32; LANES]) -> [Self::F32; LANES];
    /// The same for `f64` lanes.
    fn transpose_f64(rows: [Self::F64; LANES]) -> [Self::F64; LANES];
}

/// The transpose of eight arrays of eight.
#[inline(always)]
fn transpose<T: Copy>(rows: [Arr<T>; LANES]) -> [Arr<T>; LANES] {
    let mut out = rows;
    for (j, o) in out.iter_mut().enumerate() {
        for (l, r) in rows.iter().enumerate() {
            o.0[l] = r.0[j];
        }
    }
    out
}

// ---------------------------------------------------------------------------- portable

/// The portable build: plain arrays, an operation a loop over the lanes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

/// Eight lanes as a plain array.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arr<T>(pub [T; LANES]);

impl<T: Copy + Send + Sync> Lane for Arr<T> {
    type Elem = T;
    #[inline(always)]
    fn splat(x: T) -> Self {
        Self([x; LANES])
    }
}

impl<T: Copy + Send + Sync> Vector for Arr<T> {
    #[inline(always)]
    fn from_array(a: [T; LANES]) -> Self {
        Self(a)
    }
    #[inline(always)]
    fn to_array(self) -> [T; LANES] {
        self.0
    }
}

#[inline(always)]
fn zip<T: Copy, U: Copy>(a: [T; LANES], b: [T; LANES], f: impl Fn(T, T) -> U) -> Arr<U> {
    Arr([
        f(a[0], b[0]),
        f(a[1], b[1]),
        f(a[2], b[2]),
        f(a[3], b[3]),
        f(a[4], b[4]),
        f(a[5], b[5]),
        f(a[6], b[6]),
        f(a[7], b[7]),
    ])
}

#[inline(always)]
fn map<T: Copy, U: Copy>(a: [T; LANES], f: impl Fn(T) -> U) -> Arr<U> {
    zip(a, a, |x, _| f(x))
}

macro_rules! portable_int {
    ($t:ty) => {
        impl IntV for Arr<$t> {
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a & b)
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a | b)
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a ^ b)
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                zip(self.0, o.0, <$t>::wrapping_add)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                zip(self.0, o.0, <$t>::wrapping_sub)
            }
            #[inline(always)]
            fn shr<const N: i32>(self) -> Self {
                map(self.0, |a| a >> N)
            }
            #[inline(always)]
            fn shl<const N: i32>(self) -> Self {
                map(self.0, |a| a << N)
            }
        }
        impl MaskV for Arr<$t> {
            #[inline(always)]
            fn movemask(self) -> u8 {
                let top = <$t>::BITS - 1;
                (0..LANES).fold(0, |m, l| m | (((self.0[l] >> top) as u8) << l))
            }
        }
    };
}
portable_int!(u32);
portable_int!(u64);

macro_rules! portable_float {
    ($t:ty, $bits:ty) => {
        impl Add for Arr<$t> {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a + b)
            }
        }
        impl Sub for Arr<$t> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a - b)
            }
        }
        impl Mul for Arr<$t> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a * b)
            }
        }
        impl FloatV for Arr<$t> {
            type Bits = Arr<$bits>;
            #[inline(always)]
            fn gt(self, o: Self) -> Arr<$bits> {
                zip(self.0, o.0, |a, b| if a > b { <$bits>::MAX } else { 0 })
            }
            #[inline(always)]
            fn lt(self, o: Self) -> Arr<$bits> {
                zip(self.0, o.0, |a, b| if a < b { <$bits>::MAX } else { 0 })
            }
            #[inline(always)]
            fn eq(self, o: Self) -> Arr<$bits> {
                zip(self.0, o.0, |a, b| if a == b { <$bits>::MAX } else { 0 })
            }
            #[inline(always)]
            fn is_nan(self) -> Arr<$bits> {
                map(self.0, |a| if a.is_nan() { <$bits>::MAX } else { 0 })
            }
            #[inline(always)]
            fn select(m: Arr<$bits>, a: Self, b: Self) -> Self {
                let mut out = b;
                for l in 0..LANES {
                    if m.0[l] >> (<$bits>::BITS - 1) != 0 {
                        out.0[l] = a.0[l];
                    }
                }
                out
            }
            #[inline(always)]
            fn to_bits(self) -> Arr<$bits> {
                map(self.0, <$t>::to_bits)
            }
            #[inline(always)]
            fn from_bits(b: Arr<$bits>) -> Self {
                map(b.0, <$t>::from_bits)
            }
        }
    };
}
portable_float!(f32, u32);
portable_float!(f64, u64);

// ---------------------------------------------------------------------------- scalars

macro_rules! scalar {
    ($t:ty, $bits:ty) => {
        impl Lane for $t {
            type Elem = $t;
            #[inline(always)]
            fn splat(x: $t) -> Self {
                x
            }
        }
        impl Lane for $bits {
            type Elem = $bits;
            #[inline(always)]
            fn splat(x: $bits) -> Self {
                x
            }
        }
        impl IntV for $bits {
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                self | o
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn shr<const N: i32>(self) -> Self {
                self >> N
            }
            #[inline(always)]
            fn shl<const N: i32>(self) -> Self {
                self << N
            }
        }
        impl FloatV for $t {
            type Bits = $bits;
            #[inline(always)]
            fn gt(self, o: Self) -> $bits {
                if self > o {
                    <$bits>::MAX
                } else {
                    0
                }
            }
            #[inline(always)]
            fn lt(self, o: Self) -> $bits {
                if self < o {
                    <$bits>::MAX
                } else {
                    0
                }
            }
            #[inline(always)]
            fn eq(self, o: Self) -> $bits {
                if self == o {
                    <$bits>::MAX
                } else {
                    0
                }
            }
            #[inline(always)]
            fn is_nan(self) -> $bits {
                if <$t>::is_nan(self) {
                    <$bits>::MAX
                } else {
                    0
                }
            }
            #[inline(always)]
            fn select(m: $bits, a: Self, b: Self) -> Self {
                if m >> (<$bits>::BITS - 1) != 0 {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn to_bits(self) -> $bits {
                <$t>::to_bits(self)
            }
            #[inline(always)]
            fn from_bits(b: $bits) -> Self {
                <$t>::from_bits(b)
            }
        }
    };
}
scalar!(f32, u32);
scalar!(f64, u64);

impl Isa for Portable {
    type U32 = Arr<u32>;
    type U64 = Arr<u64>;
    type F32 = Arr<f32>;
    type F64 = Arr<f64>;
    #[inline(always)]
    fn mul_hilo(a: Arr<u32>, m: u32) -> (Arr<u32>, Arr<u32>) {
        let p = map(a.0, |a| u64::from(a) * u64::from(m));
        (map(p.0, |p| (p >> 32) as u32), map(p.0, |p| p as u32))
    }
    #[inline(always)]
    fn join(hi: Arr<u32>, lo: Arr<u32>) -> Arr<u64> {
        zip(hi.0, lo.0, |h, l| (u64::from(h) << 32) | u64::from(l))
    }
    #[inline(always)]
    fn widen(x: Arr<f32>) -> Arr<f64> {
        map(x.0, f64::from)
    }
    #[inline(always)]
    fn transpose_f32(rows: [Arr<f32>; LANES]) -> [Arr<f32>; LANES] {
        transpose(rows)
    }
    #[inline(always)]
    fn transpose_f64(rows: [Arr<f64>; LANES]) -> [Arr<f64>; LANES] {
        transpose(rows)
    }
}

// ---------------------------------------------------------------------------- AVX2

#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;

/// The AVX2 build. Its operations are plain functions around AVX2 intrinsics, always
/// inlined: they may only run inside a function compiled with AVX2 enabled, on a CPU
/// that has it ([`with_isa`] ensures both).
#[cfg(target_arch = "x86_64")]
mod avx2 {
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
}

/// Runs `f`, compiled a second time for AVX2 and taken when [`USE_AVX2`] says so.
/// Kernels are inlined into it; with no fused multiply-add anywhere, both builds give
/// the same bits.
#[inline(always)]
pub fn with_best_simd<R, F: FnOnce() -> R>(f: F) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<R, F: FnOnce() -> R>(f: F) -> R {
            f()
        }
        if *USE_AVX2 {
            // SAFETY: the CPU was found to support AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Runs `f` with the best build of the vectors: [`Avx2`] inside a function compiled for
/// AVX2 when [`USE_AVX2`] says so, [`Portable`] otherwise. `f` should be
/// `#[inline(always)]`, to be compiled into the AVX2 function.
#[inline(always)]
pub fn with_isa<R>(f: impl IsaFn<R>) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl IsaFn<R>) -> R {
            f.call(Avx2)
        }
        if *USE_AVX2 {
            // SAFETY: the CPU was found to support AVX2.
            return unsafe { avx2(f) };
        }
    }
    f.call(Portable)
}

/// A computation generic over the build of the vectors (a closure cannot be generic).
pub trait IsaFn<R> {
    fn call<S: Isa>(self, isa: S) -> R;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hilo_of<S: Isa>(a: [u32; LANES], m: u32) -> ([u32; LANES], [u32; LANES]) {
        let (hi, lo) = S::mul_hilo(S::U32::from_array(a), m);
        (hi.to_array(), lo.to_array())
    }

    fn transposed<S: Isa>() -> ([[f32; LANES]; LANES], [[f64; LANES]; LANES]) {
        let a32: [[f32; LANES]; LANES] =
            std::array::from_fn(|r| std::array::from_fn(|c| (r * 8 + c) as f32));
        let a64: [[f64; LANES]; LANES] =
            std::array::from_fn(|r| std::array::from_fn(|c| (r * 8 + c) as f64));
        (
            S::transpose_f32(a32.map(S::F32::from_array)).map(Vector::to_array),
            S::transpose_f64(a64.map(S::F64::from_array)).map(Vector::to_array),
        )
    }

    #[test]
    fn transposes_swap_rows_and_lanes() {
        let (t32, t64) = transposed::<Portable>();
        for j in 0..LANES {
            for l in 0..LANES {
                assert_eq!(t32[j][l], (l * 8 + j) as f32);
                assert_eq!(t64[j][l], (l * 8 + j) as f64);
            }
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert_eq!(transposed::<Avx2>(), (t32, t64));
        }
    }

    #[test]
    fn builds_agree_on_integer_steps() {
        let a = [
            0,
            1,
            2,
            u32::MAX,
            0x8000_0000,
            0xDEAD_BEEF,
            12345,
            0x7FFF_FFFF,
        ];
        for m in [0xD251_1F53, 0xCD9E_8D57, 1, u32::MAX] {
            let (hi, lo) = hilo_of::<Portable>(a, m);
            for l in 0..LANES {
                let p = u64::from(a[l]) * u64::from(m);
                assert_eq!((hi[l], lo[l]), ((p >> 32) as u32, p as u32));
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                assert_eq!(hilo_of::<Avx2>(a, m), (hi, lo));
            }
        }
    }
}
