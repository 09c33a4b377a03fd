//! Eight-lane vectors, in three builds chosen once per task: explicit AVX2 ([`Avx2`]),
//! the same AVX2 code compiled for AVX-512 (F, VL, DQ, BW: 32 vector registers, so the
//! kernels' interleaved chains stay in registers, and EVEX forms of the same operations;
//! [`USE_AVX512`]), and plain arrays ([`Portable`]). Kernels are written once, generic
//! over the build ([`Isa`]); every operation here is an exact IEEE-754 operation (fused
//! multiply-add included: it rounds once, on every build), an integer operation or a
//! select, lane by lane, so every build gives the same bits.
//!
//! A leaf: owns CPU detection ([`USE_AVX2`], [`USE_AVX512`]), the build helpers
//! ([`with_best_simd`], [`with_isa`]), the lane count ([`LANES`]) and [`Group`]; imports
//! nothing of this crate.

use std::ops::{Add, Mul, Sub};

/// Lanes of one vector: eight `f32` or `u32` make one AVX2 register, eight `f64` two.
pub const LANES: usize = 8;

/// Whether kernels take their AVX2 build: when the CPU has AVX2 and FMA, unless the
/// environment sets `POLARS_GUMBEL_BASELINE_SIMD` (which tests use to compare the
/// builds).
#[cfg(target_arch = "x86_64")]
pub static USE_AVX2: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::env::var_os("POLARS_GUMBEL_BASELINE_SIMD").is_none()
});

/// Whether the AVX2 build is compiled for AVX-512: when [`USE_AVX2`] holds and the CPU
/// has AVX-512 F, VL, DQ and BW, unless the environment sets `POLARS_GUMBEL_NO_AVX512`.
#[cfg(target_arch = "x86_64")]
pub static USE_AVX512: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    *USE_AVX2
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::env::var_os("POLARS_GUMBEL_NO_AVX512").is_none()
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
    /// `self · a + b` rounded once (IEEE-754 fused multiply-add): the same bits on
    /// every build.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self / o`, correctly rounded.
    fn quotient(self, o: Self) -> Self;
    /// `self` where `self > o`, `o` elsewhere (so `o` where either is NaN, and between
    /// zeros of either sign): the x86 `max`, one instruction where the build has it.
    #[inline(always)]
    fn larger(self, o: Self) -> Self {
        Self::select(self.gt(o), self, o)
    }
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
    /// Each `f64` lane rounded to `f32`, to nearest with ties to even (as `as f32`).
    fn narrow(x: Self::F64) -> Self::F32;
    /// The transpose of eight vectors: lane `l` of `out[j]` is lane `j` of `rows[l]`.
    fn transpose_f32(rows: [Self::F32; LANES]) -> [Self::F32; LANES];
    /// The same for `f64` lanes.
    fn transpose_f64(rows: [Self::F64; LANES]) -> [Self::F64; LANES];
}

mod group;
mod portable;
pub use group::Group;
pub use portable::{Arr, Portable};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;

/// Runs `f`, compiled again for AVX2 and for AVX-512 and taken when [`USE_AVX2`] and
/// [`USE_AVX512`] say so. Kernels are inlined into it; Rust never fuses a multiply and
/// an add by itself, so every build gives the same bits.
#[inline(always)]
pub fn with_best_simd<R, F: FnOnce() -> R>(f: F) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")]
        fn avx512<R, F: FnOnce() -> R>(f: F) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R, F: FnOnce() -> R>(f: F) -> R {
            f()
        }
        if *USE_AVX512 {
            // SAFETY: the CPU was found to support AVX2, FMA and AVX-512 F, VL, DQ, BW.
            return unsafe { avx512(f) };
        }
        if *USE_AVX2 {
            // SAFETY: the CPU was found to support AVX2 and FMA.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Runs `f` with the best build of the vectors: [`Avx2`] inside a function compiled for
/// AVX-512 or for AVX2 when [`USE_AVX512`] or [`USE_AVX2`] says so, [`Portable`]
/// otherwise. `f` should be `#[inline(always)]`, to be compiled into that function.
#[inline(always)]
pub fn with_isa<R>(f: impl IsaFn<R>) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")]
        fn avx512<R>(f: impl IsaFn<R>) -> R {
            f.call(Avx2)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl IsaFn<R>) -> R {
            f.call(Avx2)
        }
        if *USE_AVX512 {
            // SAFETY: the CPU was found to support AVX2, FMA and AVX-512 F, VL, DQ, BW.
            return unsafe { avx512(f) };
        }
        if *USE_AVX2 {
            // SAFETY: the CPU was found to support AVX2 and FMA.
            return unsafe { avx2(f) };
        }
    }
    f.call(Portable)
}

/// The build [`with_isa`] takes on this CPU and environment: `"avx512"`, `"avx2"` or
/// `"portable"`.
pub fn build_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if *USE_AVX512 {
            return "avx512";
        }
        if *USE_AVX2 {
            return "avx2";
        }
    }
    "portable"
}

/// Asks the CPU to bring the cache line that holds `p` into its nearest cache: a hint,
/// which reads nothing and never faults, so `p` may point anywhere (past the end of its
/// slice included).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch neither reads nor faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
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
