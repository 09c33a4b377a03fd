//! Counter-based Gumbel noise (noise function F, version 3): the noise of (row `r`,
//! category `j`) under `seed` is a pure function of the three, so it does not depend on
//! how rows are chunked, batched, threaded or partitioned.
//!
//! The generator is Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random
//! numbers: as easy as 1, 2, 3", SC 2011), as in Random123, JAX and cuRAND: ten rounds
//! of 32 × 32 → 64-bit multiplies on a 128-bit counter under a 64-bit key. It reproduces
//! the authors' known-answer vectors (see the tests).
//!
//! ```text
//! key            = (seed mod 2³², seed >> 32)
//! counter(r, c)  = (r mod 2³², r >> 32, c, 0)     c: a group of a row's cells
//! (w₀, w₁, w₂, w₃) = Philox4x32-10(counter, key)
//!
//! Float32 blocks: one 32-bit word per cell, four cells per counter
//!   w          = w_(j mod 4) of counter(r, ⌊j / 4⌋)
//!   u(r, j)    = (w >> 9) · 2⁻²³ + 2⁻²⁴                 in [2⁻²⁴, 1 − 2⁻²⁴], exact in f32
//! Float64 blocks: two words (64 bits, of which 52 are used) per cell, two cells per counter
//!   w          = w_(2k) · 2³² + w_(2k+1),  k = j mod 2, of counter(r, ⌊j / 2⌋)
//!   u(r, j)    = (w >> 12) · 2⁻⁵² + 2⁻⁵³                in [2⁻⁵³, 1 − 2⁻⁵³], exact in f64
//! g(r, j)      = −ln(−ln u(r, j))                       in the block's float type
//! ```
//!
//! The logarithms are [`fastmath`]'s: fdlibm's (`f64`) and Cephes' (`f32`) reductions and
//! polynomials, in IEEE-754 multiplies, adds, fused multiply-adds and one division, each
//! correctly rounded, so every CPU and every vector width gives the same bits (version 3
//! brought the fused multiply-adds and the division; version 2 had neither).
//!
//! `r` is the row's position in the evaluated column, or its `key` value: an integer as
//! its two's-complement `u64` bits, a string as its FNV-1a 64-bit hash ([`hash_str`]).
//! These values are pinned by value-stability tests: changing them is a breaking change.
//!
//! A leaf: owns the noise ([`Noise`], [`NoiseFloat`], [`RowIds`]); imports only
//! [`crate::simd`] and [`crate::fastmath`].

use polars::prelude::*;

use crate::fastmath;
use crate::simd::{FloatV, Group, IntV, Isa, Lane, MaskV, Portable, Vector, LANES};

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;

/// SplitMix64's output function (Steele, Lea and Flood, 2014): a bijection of `u64`
/// with full avalanche. Derives per-column seeds; it is not the noise generator.
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

/// Philox4x32-10 of `counter` under `key`, as Random123 defines it.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let out = philox::<Portable>(counter.map(Lane::splat), key);
    out.map(|w| w.to_array()[0])
}

/// Philox4x32-10 of [`LANES`] counters at once, word-major: lane `l` of `ctr[i]` is
/// word `i` of counter `l`, and so for the output.
#[inline(always)]
pub fn philox<S: Isa>(ctr: [S::U32; 4], key: [u32; 2]) -> [S::U32; 4] {
    let mut x = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(PHILOX_W0);
            k1 = k1.wrapping_add(PHILOX_W1);
        }
        let (hi0, lo0) = S::mul_hilo(x[0], PHILOX_M0);
        let (hi1, lo1) = S::mul_hilo(x[2], PHILOX_M1);
        x = [
            hi1.xor(x[1]).xor(Lane::splat(k0)),
            lo1,
            hi0.xor(x[3]).xor(Lane::splat(k1)),
            lo0,
        ];
    }
    x
}

/// The uniform of a 32-bit word: its top 23 bits as `(k + ½) · 2⁻²³`, in the open
/// interval (0, 1). `1 + k · 2⁻²³` is built from bits, and the subtraction is exact.
#[inline(always)]
pub fn uniform_f32<F: FloatV<Elem = f32>>(w: F::Bits) -> F
where
    F::Bits: Lane<Elem = u32>,
{
    F::from_bits(w.shr::<9>().or(Lane::splat(0x3F80_0000))) - F::splat(1.0 - 2f32.powi(-24))
}

/// The uniform of a 64-bit word: its top 52 bits as `(k + ½) · 2⁻⁵²`, in (0, 1).
#[inline(always)]
pub fn uniform_f64<F: FloatV<Elem = f64>>(w: F::Bits) -> F
where
    F::Bits: Lane<Elem = u64>,
{
    F::from_bits(w.shr::<12>().or(Lane::splat(0x3FF0_0000_0000_0000)))
        - F::splat(1.0 - 2f64.powi(-53))
}

/// Standard Gumbel by inversion, `−ln(−ln u)`, in `f32`: finite for every `u` in (0, 1).
#[inline(always)]
pub fn gumbel_f32<F: FloatV<Elem = f32>>(u: F) -> F
where
    F::Bits: Lane<Elem = u32>,
{
    let zero = F::splat(0.0);
    zero - fastmath::ln_f32(zero - fastmath::ln_f32(u))
}

/// Standard Gumbel by inversion, `−ln(−ln u)`, in `f64`: finite for every `u` in (0, 1).
#[inline(always)]
pub fn gumbel_f64<F: FloatV<Elem = f64>>(u: F) -> F
where
    F::Bits: Lane<Elem = u64>,
{
    let zero = F::splat(0.0);
    zero - fastmath::ln(zero - fastmath::ln(u))
}

/// The noise of the first `cells` `f32` cells of [`LANES`] counters whose outputs are
/// `w`: cell `k` of counter `l` in lane `l` of `out[k]`.
#[inline(always)]
pub fn gumbel_lanes_f32<S: Isa>(w: &[S::U32; 4], out: &mut [S::F32; 4], cells: usize) {
    if cells == 4 {
        *out = gumbel_f32(uniform_f32::<Group<S::F32, 4>>(Group(*w))).0;
        return;
    }
    for (out, &w) in out.iter_mut().zip(w).take(cells) {
        *out = gumbel_f32(uniform_f32::<S::F32>(w));
    }
}

/// The noise of the first `cells` `f64` cells of [`LANES`] counters whose outputs are
/// `w`: words 0 and 1 make cell 0, words 2 and 3 cell 1.
#[inline(always)]
pub fn gumbel_lanes_f64<S: Isa>(w: &[S::U32; 4], out: &mut [S::F64; 4], cells: usize) {
    let first = S::join(w[0], w[1]);
    if cells > 1 {
        let both = Group([first, S::join(w[2], w[3])]);
        [out[0], out[1]] = gumbel_f64(uniform_f64::<Group<S::F64, 2>>(both)).0;
    } else {
        out[0] = gumbel_f64(uniform_f64::<S::F64>(first));
    }
}

/// A float type the noise is drawn in: `f32` from one Philox word a cell, `f64` from
/// two.
pub trait NoiseFloat: Copy + Default + Send + Sync + 'static {
    /// Eight lanes of the type in the build `S` of the vectors.
    type V<S: Isa>: FloatV<Elem = Self, Bits: MaskV> + Vector;
    /// Noise cells per Philox counter: 4 for `f32` (a word each), 2 for `f64` (two).
    const CELLS_PER_COUNTER: usize;
    /// The noise of the first `cells` cells of [`LANES`] Philox outputs `w`: cell `k`
    /// of counter `l` in lane `l` of `out[k]`, for `k` below `cells` (at most
    /// [`NoiseFloat::CELLS_PER_COUNTER`]); the rest of `out` is left as it was.
    fn gumbel_lanes<S: Isa>(w: &[S::U32; 4], out: &mut [Self::V<S>; 4], cells: usize);
    /// Every cell of two counters whose outputs are `w`, their logarithms together:
    /// the first counter's cells in `out[..C]`, the second's in `out[C..2C]`.
    fn gumbel_pair<S: Isa>(w: &[[S::U32; 4]; 2], out: &mut [Self::V<S>; 8]);
}

impl NoiseFloat for f32 {
    type V<S: Isa> = S::F32;
    const CELLS_PER_COUNTER: usize = 4;
    #[inline(always)]
    fn gumbel_lanes<S: Isa>(w: &[S::U32; 4], out: &mut [S::F32; 4], cells: usize) {
        gumbel_lanes_f32::<S>(w, out, cells)
    }
    #[inline(always)]
    fn gumbel_pair<S: Isa>(w: &[[S::U32; 4]; 2], out: &mut [S::F32; 8]) {
        let [a, b] = *w;
        let words = Group([a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]);
        *out = gumbel_f32(uniform_f32::<Group<S::F32, 8>>(words)).0;
    }
}

impl NoiseFloat for f64 {
    type V<S: Isa> = S::F64;
    const CELLS_PER_COUNTER: usize = 2;
    #[inline(always)]
    fn gumbel_lanes<S: Isa>(w: &[S::U32; 4], out: &mut [S::F64; 4], cells: usize) {
        gumbel_lanes_f64::<S>(w, out, cells)
    }
    #[inline(always)]
    fn gumbel_pair<S: Isa>(w: &[[S::U32; 4]; 2], out: &mut [S::F64; 8]) {
        let [a, b] = *w;
        let words = Group([
            S::join(a[0], a[1]),
            S::join(a[2], a[3]),
            S::join(b[0], b[1]),
            S::join(b[2], b[3]),
        ]);
        let g = gumbel_f64(uniform_f64::<Group<S::F64, 4>>(words)).0;
        out[..4].copy_from_slice(&g);
    }
}

/// A seeded noise source: the Philox key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noise {
    key: [u32; 2],
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self {
            key: [seed as u32, (seed >> 32) as u32],
        }
    }

    /// A source seeded from the operating system's entropy.
    pub fn from_entropy() -> Self {
        Self::new(rand::random())
    }

    /// The source of one evaluation: seeded, or fresh entropy.
    pub fn seeded_or_fresh(seed: Option<u64>) -> Self {
        seed.map_or_else(Self::from_entropy, Self::new)
    }

    /// A seed for the named stream of `seed`: distinct columns of one table get
    /// unrelated noise under one user seed.
    pub fn derive_seed(seed: u64, stream: &str) -> u64 {
        mix64(seed ^ mix64(hash_str(stream)))
    }

    /// The four Philox words of counter `(row, group)`.
    pub fn words(&self, row: u64, group: u32) -> [u32; 4] {
        philox4x32([row as u32, (row >> 32) as u32, group, 0], self.key)
    }

    /// The noise of [`LANES`] rows' cells `group · C .. group · C + cells`, where `C`
    /// is [`NoiseFloat::CELLS_PER_COUNTER`] and `cells` at most `2C`: the counters of
    /// groups `group` and `group + 1`, whose logarithms run together ([`Group`]), and
    /// only the cells asked for (a block's last cells are never computed past its
    /// width). Row `l`'s cell `group · C + k` in lane `l` of `out[k]`.
    #[inline(always)]
    pub fn rows<T: NoiseFloat, S: Isa>(
        &self,
        rows: &[u64; LANES],
        group: u32,
        cells: usize,
        out: &mut [T::V<S>; 8],
    ) {
        let lo = S::U32::from_array(rows.map(|r| r as u32));
        let hi = S::U32::from_array(rows.map(|r| (r >> 32) as u32));
        // No closure here: one the compiler declined to inline would run without the
        // kernels' target features.
        let w0 = philox::<S>([lo, hi, Lane::splat(group), Lane::splat(0)], self.key);
        let per = T::CELLS_PER_COUNTER;
        if cells == 2 * per {
            let w1 = philox::<S>([lo, hi, Lane::splat(group + 1), Lane::splat(0)], self.key);
            T::gumbel_pair::<S>(&[w0, w1], out);
            return;
        }
        let mut g = [out[0]; 4];
        let first = cells.min(per);
        T::gumbel_lanes::<S>(&w0, &mut g, first);
        out[..first].copy_from_slice(&g[..first]);
        if cells > per {
            let w1 = philox::<S>([lo, hi, Lane::splat(group + 1), Lane::splat(0)], self.key);
            T::gumbel_lanes::<S>(&w1, &mut g, cells - per);
            out[per..cells].copy_from_slice(&g[..cells - per]);
        }
    }

    /// The noise of one row's cells `first · C .. (first + LANES) · C`, the counters of
    /// [`LANES`] groups: cell `(first + l) · C + k` in lane `l` of `out[k]`.
    #[inline(always)]
    pub fn counters<T: NoiseFloat, S: Isa>(&self, row: u64, first: u32, out: &mut [T::V<S>; 4]) {
        let mut groups = [first; LANES];
        for (l, b) in groups.iter_mut().enumerate() {
            *b = first.wrapping_add(l as u32);
        }
        let ctr = [
            Lane::splat(row as u32),
            Lane::splat((row >> 32) as u32),
            S::U32::from_array(groups),
            Lane::splat(0),
        ];
        T::gumbel_lanes::<S>(&philox::<S>(ctr, self.key), out, T::CELLS_PER_COUNTER);
    }

    /// The Float64 uniforms `u(row, 2g)` and `u(row, 2g + 1)` of group `g`, as Float64
    /// blocks draw them: the words `w₀ · 2³² + w₁` and `w₂ · 2³² + w₃` of counter
    /// `(row, g)`, each then `(w >> 12) · 2⁻⁵² + 2⁻⁵³`. So `⌊u · 2⁵²⌋` is the uniform
    /// 52-bit integer `w >> 12`, recovered exactly.
    pub fn uniform_pair_f64(&self, row: u64, group: u32) -> [f64; 2] {
        let w = self.words(row, group);
        [
            uniform_f64::<f64>((u64::from(w[0]) << 32) | u64::from(w[1])),
            uniform_f64::<f64>((u64::from(w[2]) << 32) | u64::from(w[3])),
        ]
    }

    /// Fills `out` with the Float64 uniforms `u(row, j)` for `j` in `0..out.len()`
    /// ([`Noise::uniform_pair_f64`] of group `⌊j / 2⌋`). Covers `j` below 2³³ (the
    /// group is a 32-bit word); the caller checks the length.
    pub fn fill_uniform_f64(&self, row: u64, out: &mut [f64]) {
        for (group, cells) in out.chunks_mut(2).enumerate() {
            let pair = self.uniform_pair_f64(row, group as u32);
            for (cell, u) in cells.iter_mut().zip(pair) {
                *cell = u;
            }
        }
    }

    /// Fills `out` with the noise of `row`'s categories `0..out.len()`, in `T`.
    pub fn fill_row<T: NoiseFloat>(&self, row: u64, out: &mut [T]) {
        let per = T::CELLS_PER_COUNTER;
        let mut g = [<T::V<Portable> as Lane>::splat(T::default()); 4];
        for (c, cells) in out.chunks_mut(LANES * per).enumerate() {
            self.counters::<T, Portable>(row, (c * LANES) as u32, &mut g);
            let g = g.map(Vector::to_array);
            for (i, cell) in cells.iter_mut().enumerate() {
                *cell = g[i % per][i / per];
            }
        }
    }
}

/// The noise counter of every row: its position, or its `key`.
pub enum RowIds {
    Position,
    Keys(Vec<u64>),
}

impl RowIds {
    /// Reads a key column: integers as their two's-complement bits, strings by
    /// [`hash_str`]; a null key or a length mismatch is an error.
    pub fn from_key(key: Option<&Series>, len: usize) -> PolarsResult<Self> {
        let Some(key) = key else {
            return Ok(Self::Position);
        };
        polars_ensure!(
            key.len() == len,
            ShapeMismatch: "key column '{}' has {} rows, the scores have {}", key.name(), key.len(), len
        );
        polars_ensure!(
            key.null_count() == 0,
            ComputeError: "key column '{}' has {} null values; every row needs a key",
            key.name(), key.null_count()
        );
        let ids = match key.dtype() {
            DataType::String => key.str()?.iter().map(|v| v.map_or(0, hash_str)).collect(),
            DataType::UInt64 => key.u64()?.into_no_null_iter().collect(),
            d if d.is_integer() => key
                .cast(&DataType::Int64)?
                .i64()?
                .into_no_null_iter()
                .map(|v| v as u64)
                .collect(),
            d => polars_bail!(
                InvalidOperation: "key must be an integer or String column, got {} for '{}'", d, key.name()
            ),
        };
        Ok(Self::Keys(ids))
    }

    #[inline(always)]
    pub fn get(&self, row: usize) -> u64 {
        match self {
            Self::Position => row as u64,
            Self::Keys(ids) => ids[row],
        }
    }

    /// The counters of rows `at..at + LANES`; rows past `len` repeat the last one.
    #[inline(always)]
    pub fn lanes(&self, at: usize, len: usize) -> [u64; LANES] {
        let mut rows = [0u64; LANES];
        for (l, r) in rows.iter_mut().enumerate() {
            *r = self.get((at + l).min(len - 1));
        }
        rows
    }
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
    fn philox4x32_10_known_answers() {
        // Random123's kat_vectors, the three philox4x32 10 lines: counter, key, output.
        let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0; 4],
                [0; 2],
                [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
            ),
            (
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0],
                [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
            ),
        ];
        for (counter, key, want) in cases {
            assert_eq!(philox4x32(counter, key), want);
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
        assert_eq!(uniform_f32::<f32>(0), 2f32.powi(-24));
        assert_eq!(uniform_f32::<f32>(u32::MAX), 1.0 - 2f32.powi(-24));
        assert_eq!(uniform_f32::<f32>(1 << 9), 2f32.powi(-23) + 2f32.powi(-24));
        assert_eq!(uniform_f64::<f64>(0), 2f64.powi(-53));
        assert_eq!(uniform_f64::<f64>(u64::MAX), 1.0 - 2f64.powi(-53));
        assert_eq!(uniform_f64::<f64>(1 << 12), 2f64.powi(-52) + 2f64.powi(-53));
        for w in [0, u32::MAX] {
            assert!(gumbel_f32(uniform_f32::<f32>(w)).is_finite());
        }
        for w in [0, u64::MAX] {
            assert!(gumbel_f64(uniform_f64::<f64>(w)).is_finite());
        }
    }

    #[test]
    fn uniforms_are_the_float64_noise_before_its_logarithms() {
        let noise = Noise::new(0xDEAD_BEEF_0042);
        for row in [0u64, 1, 12345, u64::MAX] {
            let mut u = vec![0f64; 7];
            let mut g = vec![0f64; 7];
            noise.fill_uniform_f64(row, &mut u);
            noise.fill_row(row, &mut g);
            for (u, g) in u.iter().zip(&g) {
                assert!(*u > 0.0 && *u < 1.0);
                assert_eq!(gumbel_f64(*u).to_bits(), g.to_bits());
                // The 52-bit integer behind the uniform comes back exactly.
                let k = (*u * 2f64.powi(52)).floor();
                assert_eq!(k + 0.5, *u * 2f64.powi(52));
            }
        }
        let w = noise.words(7, 1);
        let mut u = [0f64; 4];
        noise.fill_uniform_f64(7, &mut u);
        let k = ((u64::from(w[2]) << 32) | u64::from(w[3])) >> 12;
        assert_eq!((u[3] * 2f64.powi(52)) as u64, k);
    }

    /// The noise of eight rows side by side, two counters at a time (every cell of
    /// both, or the first few), against one row at a time.
    fn rows_equal_counters<S: Isa>() {
        let noise = Noise::new(0x0123_4567_89AB_CDEF);
        let rows: [u64; LANES] = [0, 1, 7, u64::MAX, 1 << 40, 12345, 3, 3];
        for group in [0u32, 1, 9] {
            for cells in 1..=8 {
                let mut g32 = [<<f32 as NoiseFloat>::V<S> as Lane>::splat(0.0); 8];
                let mut g64 = [<<f64 as NoiseFloat>::V<S> as Lane>::splat(0.0); 8];
                noise.rows::<f32, S>(&rows, group, cells, &mut g32);
                noise.rows::<f64, S>(&rows, group, cells.min(4), &mut g64);
                let (g32, g64) = (g32.map(Vector::to_array), g64.map(Vector::to_array));
                for (l, &r) in rows.iter().enumerate() {
                    let mut row32 = vec![0f32; 4 * (group as usize + 2)];
                    let mut row64 = vec![0f64; 2 * (group as usize + 2)];
                    noise.fill_row(r, &mut row32);
                    noise.fill_row(r, &mut row64);
                    for k in 0..cells {
                        assert_eq!(g32[k][l].to_bits(), row32[4 * group as usize + k].to_bits());
                    }
                    for k in 0..cells.min(4) {
                        assert_eq!(g64[k][l].to_bits(), row64[2 * group as usize + k].to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn lanes_equal_rows() {
        rows_equal_counters::<Portable>();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            rows_equal_counters::<crate::simd::Avx2>();
        }
    }
}
