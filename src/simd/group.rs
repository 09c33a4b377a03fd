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

#[inline(always)]
fn zip<V: Copy, const N: usize>(a: [V; N], b: [V; N], f: impl Fn(V, V) -> V) -> [V; N] {
    std::array::from_fn(|i| f(a[i], b[i]))
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
        Self(zip(self.0, o.0, V::and))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::or))
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::xor))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::add))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::sub))
    }
    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        Self(self.0.map(V::shr::<S>))
    }
    #[inline(always)]
    fn shl<const S: i32>(self) -> Self {
        Self(self.0.map(V::shl::<S>))
    }
}

impl<V: FloatV, const N: usize> Add for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::add))
    }
}

impl<V: FloatV, const N: usize> Sub for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::sub))
    }
}

impl<V: FloatV, const N: usize> Mul for Group<V, N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::mul))
    }
}

impl<V: FloatV, const N: usize> FloatV for Group<V, N> {
    type Bits = Group<V::Bits, N>;
    #[inline(always)]
    fn gt(self, o: Self) -> Self::Bits {
        Group(std::array::from_fn(|i| self.0[i].gt(o.0[i])))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::Bits {
        Group(std::array::from_fn(|i| self.0[i].lt(o.0[i])))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self::Bits {
        Group(std::array::from_fn(|i| self.0[i].eq(o.0[i])))
    }
    #[inline(always)]
    fn is_nan(self) -> Self::Bits {
        Group(self.0.map(V::is_nan))
    }
    #[inline(always)]
    fn select(m: Self::Bits, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| V::select(m.0[i], a.0[i], b.0[i])))
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i].mul_add(a.0[i], b.0[i])))
    }
    #[inline(always)]
    fn quotient(self, o: Self) -> Self {
        Self(zip(self.0, o.0, V::quotient))
    }
    #[inline(always)]
    fn to_bits(self) -> Self::Bits {
        Group(self.0.map(V::to_bits))
    }
    #[inline(always)]
    fn from_bits(b: Self::Bits) -> Self {
        Self(b.0.map(V::from_bits))
    }
}
