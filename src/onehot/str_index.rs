//! Finding a string's slot: [`StrIndex`], by the string's 16-byte view when it is
//! short ([`ViewTable`]), by its length and a few of its words when it is long
//! ([`Long`]), by a hash of the whole string when neither settles it.

use std::mem::MaybeUninit;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray, View};

use super::slots::UNKNOWN;

/// Finds a string's slot. A string of at most 12 bytes is held in its 16-byte view, so
/// equal short strings have equal views and one integer lookup settles them. A longer
/// one is looked up by its length and its first and last eight bytes, and then compared
/// with the one category they point to, eight bytes at a time. Whatever neither table
/// settles (an unknown value, a short string whose view padding is not zeroed, long
/// categories that share those words) goes to a hash of the whole string.
pub(super) struct StrIndex<'a> {
    by_view: ViewTable,
    by_words: ViewTable,
    long: Vec<Long<'a>>,
    by_str: PlHashMap<&'a str, u32>,
}

/// A category longer than a view holds: its length, its words at bytes 0, 8 (or its
/// last eight, when it is shorter than 16 bytes) and `len − 8`, its bytes and its slot.
struct Long<'a> {
    words: [u64; 3],
    len: usize,
    bytes: &'a [u8],
    slot: u32,
}

/// The eight bytes of `b` from `at`, little-endian.
#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The words of a string of more than 12 bytes ([`Long`]): together they cover its
/// first 24 bytes and its last 8, so they are the whole string up to 24 bytes.
#[inline(always)]
fn words(b: &[u8]) -> [u64; 3] {
    let n = b.len();
    [word(b, 0), word(b, 8.min(n - 8)), word(b, n - 8)]
}

/// The key of a long string in [`ViewTable`]: its first word, and its last word mixed
/// with its length. No key is [`ViewTable::VACANT`]: a first word of `0xFF` bytes is
/// not UTF-8.
#[inline(always)]
fn words_key(words: &[u64; 3], len: usize) -> u128 {
    u128::from(words[0]) | u128::from(words[2] ^ (len as u64).rotate_left(32)) << 64
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
        let long: Vec<Long<'a>> = cats
            .iter()
            .zip(slots)
            .filter(|(c, _)| c.len() > View::MAX_INLINE_SIZE as usize)
            .map(|(c, &slot)| Long {
                words: words(c.as_bytes()),
                len: c.len(),
                bytes: c.as_bytes(),
                slot,
            })
            .collect();
        // Categories with one key keep the last: the others fail the comparison and are
        // found by their hash.
        let keys = long
            .iter()
            .enumerate()
            .map(|(i, c)| (words_key(&c.words, c.len), i as u32))
            .collect();
        Self {
            by_view: ViewTable::new(inline),
            by_words: ViewTable::new(keys),
            long,
            by_str: string_map(cats, slots),
        }
    }

    /// The slot of row `i` of `arr`, present.
    #[cfg(test)]
    fn get(&self, arr: &Utf8ViewArray, i: usize) -> u32 {
        self.find(arr, i, arr.views()[i])
    }

    /// The slot of row `i` of `arr`, present, whose view is `view`.
    #[inline(always)]
    fn find(&self, arr: &Utf8ViewArray, i: usize, view: View) -> u32 {
        if view.length <= View::MAX_INLINE_SIZE {
            if let Some(slot) = self.by_view.get(view.as_u128()) {
                return slot;
            }
        } else {
            // SAFETY: `view` is one of `arr`'s, so it lies in `arr`'s buffers.
            let b = unsafe { view.get_slice_unchecked(arr.data_buffers()) };
            if let Some(slot) = self.long(b) {
                return slot;
            }
        }
        self.by_text(arr.value(i))
    }

    /// The slot of a string of more than 12 bytes, when its words find a category and
    /// the category is the string.
    #[inline(always)]
    fn long(&self, b: &[u8]) -> Option<u32> {
        let (w, n) = (words(b), b.len());
        let c = &self.long[self.by_words.get(words_key(&w, n))? as usize];
        // Up to 24 bytes the words are the whole string; past that, the bytes between.
        let same = c.len == n && c.words == w && (n <= 24 || c.bytes[16..n - 8] == b[16..n - 8]);
        same.then_some(c.slot)
    }

    #[inline(never)]
    fn by_text(&self, value: &str) -> u32 {
        self.by_str.get(value).copied().unwrap_or(UNKNOWN)
    }

    /// The slots of rows `start..start + out.len()` of `arr`, `null_slot` for a null
    /// row.
    pub(super) fn fill(
        &self,
        arr: &Utf8ViewArray,
        start: usize,
        out: &mut [MaybeUninit<u32>],
        null_slot: u32,
    ) {
        let views = &arr.views()[start..start + out.len()];
        match arr.validity().filter(|v| v.unset_bits() > 0) {
            None => {
                for (i, (o, &view)) in (start..).zip(out.iter_mut().zip(views)) {
                    o.write(self.find(arr, i, view));
                }
            }
            Some(valid) => {
                for (i, (o, &view)) in (start..).zip(out.iter_mut().zip(views)) {
                    // SAFETY: `i` is below the array's length, which is the bitmap's.
                    let present = unsafe { valid.get_bit_unchecked(i) };
                    o.write(if present {
                        self.find(arr, i, view)
                    } else {
                        null_slot
                    });
                }
            }
        }
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

    /// The slot of `s` by a search of `cats`: the reference the index is checked against.
    fn searched(cats: &[String], s: &str) -> u32 {
        cats.iter()
            .position(|c| c == s)
            .map_or(UNKNOWN, |p| p as u32)
    }

    #[test]
    fn long_strings_match_whole_and_only_whole() {
        // For every length past a view's 12 bytes, a category and its twin that differs
        // in one middle byte only: from 17 bytes on they share their first and last
        // eight bytes, and so their key, and one of them is found by its hash.
        let text =
            |n: usize| -> String { (0..n).map(|k| (b'a' + (k % 26) as u8) as char).collect() };
        let twin = |n: usize| -> String {
            let mut t = text(n).into_bytes();
            t[n / 2] = b'#';
            String::from_utf8(t).unwrap()
        };
        let cats: Vec<String> = (13..=40).flat_map(|n| [text(n), twin(n)]).collect();
        let slots: Vec<u32> = (0..cats.len() as u32).collect();
        let index = StrIndex::new(&cats, &slots);
        let mut probe: Vec<String> = cats.clone();
        for n in 13..=41 {
            // One byte changed at every place, each end included; one byte more or less.
            for k in 0..n {
                let mut t = text(n).into_bytes();
                t[k] = b'!';
                probe.push(String::from_utf8(t).unwrap());
            }
            probe.push(text(n)[1..].to_string());
            probe.push(format!("{}z", text(n)));
        }
        let strs: Vec<&str> = probe.iter().map(String::as_str).collect();
        let arr = Utf8ViewArray::from_slice_values(&strs);
        for (i, s) in strs.iter().enumerate() {
            assert_eq!(index.get(&arr, i), searched(&cats, s), "{s:?}");
        }
    }

    #[test]
    fn fill_writes_every_row_of_a_sliced_array_with_nulls() {
        let cats: Vec<String> = ["short", "a category of some length", "é long enough, too"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let slots = [7, 8, 9];
        let index = StrIndex::new(&cats, &slots);
        let values: Vec<Option<&str>> = (0..100)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some("short"),
                2 => Some("a category of some length"),
                3 => Some("é long enough, too"),
                _ => Some("a category of some lengtH"),
            })
            .collect();
        let arr = Utf8ViewArray::arr_from_iter(values.iter().copied()).sliced(3, 90);
        for start in [0, 1, 40, 89] {
            let mut out = vec![MaybeUninit::new(0u32); 90 - start];
            index.fill(&arr, start, &mut out, 99);
            for (row, o) in (start..).zip(out) {
                let want = match values[3 + row] {
                    None => 99,
                    Some(s) => cats
                        .iter()
                        .position(|c| c == s)
                        .map_or(UNKNOWN, |p| slots[p]),
                };
                // SAFETY: every value was written.
                assert_eq!(unsafe { o.assume_init() }, want, "row {row}");
            }
        }
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
