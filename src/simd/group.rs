//! [`Group`]: `N` vectors that go through one function step by step together, so that
//! the compiler lays their `N` independent chains of operations side by side. A long
//! chain such as a logarithm is bound by the latency of its steps; `N` chains
//! interleaved keep the vector units busy while each waits. Every operation is the
//! element's own, vector by vector, so a group gives the same bits as its vectors one
//! at a time.

use std::ops::{Add, Mul, Sub};

use super::{FloatV, IntV, Lane};

/// `N` vectors of one type, operated on together.
#[derive(Clone, Copy, Debug)]
pub struct Group<V, const N: usize>(pub [V; N]);

/// `op` vector by vector, in a plain loop: no closure, so nothing stands between the
/// kernels' target features and the operation (a closure the compiler declines to
/// inline would run without them).
macro_rules! each {
    ($n:expr, $out:expr, |$i:ident| $e:expr) => {{
        let mut out = $out;
        let mut $i = 0;
        while $i < $n {
            out[$i] = $e;
            $i += 1;
        }
        out
    }};
}

impl<V: Lane, const N: usize> Lane for Group<V, N> {
    type Elem = V::Elem;
    #[inline(always)]
    fn splat(x: V::Elem) -> Self {
        Self([V::splat(x); N])
    }
}

impl<V: IntV, const N: usize> IntV for Group<V, N> {
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::and(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::or(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::xor(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::add(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::sub(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        Self(each!(N, self.0, |i| self.0[i].shr::<S>()))
    }
    #[inline(always)]
    fn shl<const S: i32>(self) -> Self {
        Self(each!(N, self.0, |i| self.0[i].shl::<S>()))
    }
}

impl<V: FloatV, const N: usize> Add for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::add(self.0[i], o.0[i])))
    }
}

impl<V: FloatV, const N: usize> Sub for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::sub(self.0[i], o.0[i])))
    }
}

impl<V: FloatV, const N: usize> Mul for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::mul(self.0[i], o.0[i])))
    }
}

impl<V: FloatV, const N: usize> FloatV for Group<V, N> {
    type Bits = Group<V::Bits, N>;
    #[inline(always)]
    fn gt(self, o: Self) -> Self::Bits {
        Group(each!(N, [self.0[0].gt(o.0[0]); N], |i| self.0[i].gt(o.0[i])))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::Bits {
        Group(each!(N, [self.0[0].lt(o.0[0]); N], |i| self.0[i].lt(o.0[i])))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::Bits {
        Group(each!(N, [self.0[0].eq(o.0[0]); N], |i| self.0[i].eq(o.0[i])))
    }
    #[inline(always)]
    fn is_nan(self) -> Self::Bits {
        Group(each!(N, [self.0[0].is_nan(); N], |i| self.0[i].is_nan()))
    }
    #[inline(always)]
    fn select(m: Self::Bits, a: Self, b: Self) -> Self {
        Self(each!(N, b.0, |i| V::select(m.0[i], a.0[i], b.0[i])))
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Self(each!(N, b.0, |i| self.0[i].mul_add(a.0[i], b.0[i])))
    }
    #[inline(always)]
    fn quotient(self, o: Self) -> Self {
        Self(each!(N, self.0, |i| V::quotient(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn to_bits(self) -> Self::Bits {
        Group(each!(N, [self.0[0].to_bits(); N], |i| self.0[i].to_bits()))
    }
    #[inline(always)]
    fn from_bits(b: Self::Bits) -> Self {
        Self(each!(N, [V::from_bits(b.0[0]); N], |i| V::from_bits(
            b.0[i]
        )))
    }
}
