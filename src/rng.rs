//! Counter-based Gumbel noise: the noise of (row `r`, category `j`) under `seed` is a
//! pure function of the three, so it does not depend on how rows are chunked, batched,
//! threaded or partitioned.
//!
//! The function, a SplitMix64 stream per row (Steele, Lea and Flood, 2014):
//!
//! ```text
//! mix(z)      = SplitMix64's finaliser (xor-shift-multiply, constants 0xBF58476D1CE4E5B9
//!               and 0x94D049BB133111EB, shifts 30, 27, 31)
//! key         = mix(seed ^ 0x6A09E667F3BCC909)
//! state(r)    = mix(key ^ mix(r + γ))                     γ = 0x9E3779B97F4A7C15
//! word(r, j)  = mix(state(r) + (j + 1)·γ)                 (wrapping u64 arithmetic)
//! u(r, j)     = ((word >> 12) + 0.5) · 2⁻⁵²               in [2⁻⁵³, 1 − 2⁻⁵³], exact
//! g(r, j)     = −ln(−ln u(r, j))                          standard Gumbel, in [−3.6, 36.7]
//! ```
//!
//! `r` is the row's position in the evaluated column, or its `key` value: an integer as
//! its two's-complement `u64` bits, a string as its FNV-1a 64-bit hash ([`hash_str`]).
//! Noise is computed in `f64` and rounded once for `Float32` blocks. These values are
//! pinned by value-stability tests: changing them is a breaking change.

use crate::fastmath;
use crate::real::Real;

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// Separates the seed's domain from the row counter's.
const SEED_DOMAIN: u64 = 0x6A09_E667_F3BC_C909;
const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;

/// SplitMix64's output function: a bijection of `u64` with full avalanche.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bits, of the UTF-8 bytes: the row counter of a String `key`.
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// A seeded noise source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noise {
    key: u64,
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self {
            key: mix64(seed ^ SEED_DOMAIN),
        }
    }

    /// A source seeded from the operating system's entropy.
    pub fn from_entropy() -> Self {
        Self::new(rand::random())
    }

    /// A seed for the named stream of `seed`: distinct columns of one table get
    /// unrelated noise under one user seed.
    pub fn derive_seed(seed: u64, stream: &str) -> u64 {
        mix64(seed ^ mix64(hash_str(stream)))
    }

    #[inline(always)]
    fn row_state(&self, row: u64) -> u64 {
        mix64(self.key ^ mix64(row.wrapping_add(GAMMA)))
    }

    /// The raw 64-bit word of (row, category).
    #[inline(always)]
    pub fn word(&self, row: u64, category: usize) -> u64 {
        word(self.row_state(row), category)
    }

    /// The uniform of (row, category), in (0, 1).
    #[inline(always)]
    pub fn uniform(&self, row: u64, category: usize) -> f64 {
        to_open_unit(self.word(row, category))
    }

    /// Fills `out` with the Gumbel noise of `row`'s categories `0..out.len()`.
    #[inline(always)]
    pub fn fill_gumbel<T: Real>(&self, row: u64, out: &mut [T]) {
        self.fill_gumbel_from(row, 0, out);
    }

    /// Fills `out` with the Gumbel noise of `row`'s categories `first..first + out.len()`.
    #[inline(always)]
    pub fn fill_gumbel_from<T: Real>(&self, row: u64, first: usize, out: &mut [T]) {
        let state = self.row_state(row);
        for (j, slot) in out.iter_mut().enumerate() {
            *slot = T::narrow(gumbel(to_open_unit(word(state, first + j))));
        }
    }

    /// The Gumbel noise of `row`'s categories 0, 1, 2, …
    #[inline(always)]
    pub fn gumbels(&self, row: u64) -> impl Iterator<Item = f64> {
        let state = self.row_state(row);
        (0..).map(move |j| gumbel(to_open_unit(word(state, j))))
    }
}

#[inline(always)]
fn word(state: u64, category: usize) -> u64 {
    mix64(state.wrapping_add((category as u64).wrapping_add(1).wrapping_mul(GAMMA)))
}

/// The top 52 bits of `w` as a uniform in the open interval (0, 1): the midpoints
/// `(k + 0.5) / 2⁵²`, every one exact in `f64`, from 2⁻⁵³ to 1 − 2⁻⁵³.
#[inline(always)]
pub fn to_open_unit(w: u64) -> f64 {
    ((w >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// Standard Gumbel by inversion: finite for every `u` in (0, 1). The logarithms are
/// [`fastmath::ln`], within two units in the last place of the exact value.
#[inline(always)]
pub fn gumbel(u: f64) -> f64 {
    -fastmath::ln(-fastmath::ln(u))
}

/// Serde form of an optional seed: its two's-complement `i64`, so that seeds of 2⁶³ and
/// more pass through formats whose integers are signed (Python's pickled kwargs).
pub mod seed_bits {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(seed: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        seed.map(|v| v as i64).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(|v| v as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_outputs() {
        // SplitMix64 seeded with 1234567 (state += γ, then mix), as published with the
        // reference C implementation.
        let mut state: u64 = 1_234_567;
        let expected = [
            6_457_827_717_110_365_317u64,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for e in expected {
            state = state.wrapping_add(GAMMA);
            assert_eq!(mix64(state), e);
        }
    }

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(hash_str(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_str("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash_str("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn uniforms_stay_inside_the_open_interval() {
        assert_eq!(to_open_unit(0), 2f64.powi(-53));
        assert_eq!(to_open_unit(u64::MAX), 1.0 - 2f64.powi(-53));
        assert!(gumbel(to_open_unit(0)).is_finite());
        assert!(gumbel(to_open_unit(u64::MAX)).is_finite());
    }
}
