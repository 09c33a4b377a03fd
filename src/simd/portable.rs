//! The portable build of the vectors: plain arrays, an operation a loop over the lanes;
//! and the scalar `f32` / `f64` / `u32` / `u64`, which the same traits cover.

use std::ops::{Add, Mul, Sub};

use super::{FloatV, IntV, Isa, Lane, MaskV, Vector, LANES};

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
            fn mul_add(self, a: Self, b: Self) -> Self {
                Self(std::array::from_fn(|l| self.0[l].mul_add(a.0[l], b.0[l])))
            }
            #[inline(always)]
            fn quotient(self, o: Self) -> Self {
                zip(self.0, o.0, |a, b| a / b)
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
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn quotient(self, o: Self) -> Self {
                self / o
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
    fn narrow(x: Arr<f64>) -> Arr<f32> {
        map(x.0, |x| x as f32)
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
