//! Finding a string's slot: [`StrIndex`], by the string's 16-byte view when it is
//! short ([`ViewTable`]), by a hash of the string otherwise.

use polars::prelude::*;
use polars_arrow::array::{Utf8ViewArray, View};

use super::slots::UNKNOWN;

/// Finds a string's slot from its 16-byte view: a string of at most 12 bytes is held in
/// the view itself, so equal short strings have equal views and one integer lookup
/// settles them; longer strings are hashed.
pub(super) struct StrIndex<'a> {
    by_view: ViewTable,
    by_str: PlHashMap<&'a str, u32>,
}

impl<'a> StrIndex<'a> {
    pub(super) fn new(cats: &'a [String], slots: &[u32]) -> Self {
        let strs: Vec<&str> = cats.iter().map(String::as_str).collect();
        let views = Utf8ViewArray::from_slice_values(&strs);
        let inline: Vec<(u128, u32)> = views
            .views()
            .iter()
            .zip(slots)
            .filter(|(v, _)| v.length <= View::MAX_INLINE_SIZE)
            .map(|(v, &slot)| (v.as_u128(), slot))
            .collect();
        Self {
            by_view: ViewTable::new(inline),
            by_str: string_map(cats, slots),
        }
    }

    #[inline]
    pub(super) fn get(&self, arr: &Utf8ViewArray, i: usize) -> u32 {
        let view = arr.views()[i];
        if view.length <= View::MAX_INLINE_SIZE {
            if let Some(slot) = self.by_view.get(view.as_u128()) {
                return slot;
            }
        }
        // Long strings, and short ones whose view padding is not zeroed.
        self.by_str.get(arr.value(i)).copied().unwrap_or(UNKNOWN)
    }
}

/// A hash table from inline views to slots, by a multiply-shift hash of the view's two
/// words. When a multiplier is found that puts every view in a bucket of its own, as
/// for the few categories of a one-hot encoding, a lookup is one probe and no branch;
/// otherwise it probes linearly.
struct ViewTable {
    entries: Vec<(u128, u32)>,
    multiplier: u64,
    shift: u32,
    collision_free: bool,
}

impl ViewTable {
    /// Marks an empty entry: no inline view has a length of `u32::MAX`.
    const VACANT: u128 = u128::MAX;

    fn new(pairs: Vec<(u128, u32)>) -> Self {
        let least = (2 * pairs.len()).next_power_of_two().max(16);
        if pairs.len() <= 4096 {
            for size in [least, 4 * least, 16 * least] {
                for seed in 0..16u64 {
                    let table = Self::build(&pairs, size, seed, true);
                    if table.collision_free {
                        return table;
                    }
                }
            }
        }
        Self::build(&pairs, least, 0, false)
    }

    /// A table of `size` buckets. With `single` set it stops at the first collision,
    /// and the table it returns (with `collision_free` unset) is incomplete.
    fn build(pairs: &[(u128, u32)], size: usize, seed: u64, single: bool) -> Self {
        let mut table = Self {
            entries: vec![(Self::VACANT, 0); size],
            // An odd multiplier per seed, from the 64-bit golden ratio.
            multiplier: 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(2 * seed + 1) | 1,
            shift: 64 - size.trailing_zeros(),
            collision_free: true,
        };
        let mask = size - 1;
        for &(view, slot) in pairs {
            let mut i = table.bucket(view);
            while table.entries[i].0 != Self::VACANT && table.entries[i].0 != view {
                table.collision_free = false;
                if single {
                    return table;
                }
                i = (i + 1) & mask;
            }
            table.entries[i] = (view, slot);
        }
        table
    }

    #[inline(always)]
    fn bucket(&self, view: u128) -> usize {
        let mixed = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
        (mixed.wrapping_mul(self.multiplier) >> self.shift) as usize
    }

    #[inline(always)]
    fn get(&self, view: u128) -> Option<u32> {
        let mut i = self.bucket(view);
        if self.collision_free {
            let (key, slot) = self.entries[i];
            return (key == view).then_some(slot);
        }
        let mask = self.entries.len() - 1;
        loop {
            let (key, slot) = self.entries[i];
            if key == view {
                return Some(slot);
            }
            if key == Self::VACANT {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

pub(super) fn string_map<'a>(cats: &'a [String], slots: &[u32]) -> PlHashMap<&'a str, u32> {
    cats.iter()
        .map(String::as_str)
        .zip(slots.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(table: &ViewTable, pairs: &[(u128, u32)], absent: &[u128]) {
        for &(view, slot) in pairs {
            assert_eq!(table.get(view), Some(slot), "{view:#x}");
        }
        for &view in absent {
            assert_eq!(table.get(view), None, "{view:#x}");
        }
    }

    #[test]
    fn every_key_is_found_and_no_other() {
        for n in [0, 1, 2, 15, 16, 17, 1000, 4096, 5000] {
            let pairs: Vec<(u128, u32)> = (0..n as u128)
                .map(|i| (((i * 0x9E37_79B9) << 32) | i, i as u32))
                .collect();
            let absent: Vec<u128> = (0..100u128).map(|i| u128::from(u64::MAX) - i).collect();
            check(&ViewTable::new(pairs.clone()), &pairs, &absent);
        }
    }

    #[test]
    fn colliding_keys_are_probed() {
        // A table of 16 buckets for 8 keys with the first multiplier: some collide.
        let pairs: Vec<(u128, u32)> = (0..8u128)
            .map(|i| ((i << 64) | (i * 16), i as u32))
            .collect();
        let table = ViewTable::build(&pairs, 16, 0, false);
        check(&table, &pairs, &[999, 1 << 100]);
        // A full table probes past the end back to the start.
        let full = ViewTable::build(&pairs[..4], 4, 0, false);
        check(&full, &pairs[..4], &[]);
    }

    #[test]
    fn keys_that_mix_to_one_value_defeat_every_multiplier_and_still_work() {
        // The hash mixes a view's two words as `lo ^ rotl(hi, 29)`: these keys all mix
        // to the same value, so every multiplier puts them in one bucket.
        const MIXED: u64 = 0x1234_5678_9ABC_DEF0;
        let pairs: Vec<(u128, u32)> = (1..=300u64)
            .map(|hi| {
                let lo = MIXED ^ hi.rotate_left(29);
                ((u128::from(hi) << 64) | u128::from(lo), hi as u32)
            })
            .collect();
        let table = ViewTable::new(pairs.clone());
        assert!(!table.collision_free);
        let absent = [(u128::from(301u64) << 64) | u128::from(MIXED ^ 301u64.rotate_left(29))];
        check(&table, &pairs, &absent);
    }

    #[test]
    fn strings_short_and_long_find_their_slots() {
        let cats: Vec<String> = ["", "a", "twelve bytes", "thirteen byte", "é", "a\0b"]
            .iter()
            .map(|s| s.to_string())
            .chain((0..200).map(|i| format!("category number {i}")))
            .collect();
        let slots: Vec<u32> = (0..cats.len() as u32).collect();
        let index = StrIndex::new(&cats, &slots);
        let mut probe: Vec<&str> = cats.iter().map(String::as_str).collect();
        probe.extend(["b", "twelve bytez", "category number 200", "A"]);
        let arr = Utf8ViewArray::from_slice_values(&probe);
        for (i, s) in probe.iter().enumerate() {
            let want = cats
                .iter()
                .position(|c| c == s)
                .map_or(UNKNOWN, |p| p as u32);
            assert_eq!(index.get(&arr, i), want, "{s:?}");
        }
    }
}
