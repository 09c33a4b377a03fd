//! The slot pass of `one_hot`: every row's slot (the field to set, or [`ZEROS`] /
//! [`NULL_ROW`]), with the `unknown` and `nulls` policies resolved; and the direct path
//! of Categorical and Enum codes that map one to one onto fields.

use std::mem::MaybeUninit;

use polars::prelude::*;
use polars_arrow::array::Array;

use super::str_index::{string_map, StrIndex};
use super::{Categories, Plan, NULL_ROW, ZEROS};
use crate::blocks::indicators::compare_columns;
use crate::dispatch::{with_match_codes, with_match_indicator, IndicatorDtype};
use crate::par::{fill_spare, par_tasks, row_pieces, ROWS_PER_TASK};

/// Slot of a value outside the category list (resolved by the `unknown` policy).
pub(super) const UNKNOWN: u32 = u32::MAX - 2;
/// A value no slot takes (fields number fewer than [`UNKNOWN`]), which marks a slot not
/// yet written in debug builds.
const UNWRITTEN: u32 = u32::MAX - 3;

/// The special slots a pass wrote.
#[derive(Clone, Copy, Default)]
pub(super) struct Seen {
    pub(super) null: bool,
    unknown: bool,
}

impl Seen {
    fn of(slots: &[u32]) -> Self {
        let (null, unknown) = slots.iter().fold((false, false), |(n, u), &s| {
            (n | (s == NULL_ROW), u | (s == UNKNOWN))
        });
        Self { null, unknown }
    }

    fn or(self, other: Self) -> Self {
        Self {
            null: self.null | other.null,
            unknown: self.unknown | other.unknown,
        }
    }
}

/// `value` quoted for an error message, its first 100 characters when it is longer.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 100;
    match value.char_indices().nth(SHOWN) {
        None => format!("'{value}'"),
        Some((end, _)) => format!(
            "'{}…' ({} characters)",
            &value[..end],
            value.chars().count()
        ),
    }
}

/// The slot of every row, and which special slots appear: a parallel lookup pass, then
/// the `unknown` policy. An unknown value under `unknown="error"` is reported by its
/// first occurrence's value, whatever the threads, and without a row number: an
/// elementwise expression may be handed one batch of a longer column, whose rows it
/// cannot number.
pub(super) fn slots(s: &Series, plan: &Plan) -> PolarsResult<(Vec<u32>, Seen)> {
    let null = plan.null_slot;
    let (mut out, mut seen) = match (s.dtype(), &plan.categories) {
        (DataType::String, Categories::String(cats)) => {
            let index = StrIndex::new(cats, &plan.category_slot);
            fill_pieces(s.str()?.downcast_iter(), |arr, start, out| {
                index.fill(arr, start, out, null)
            })
        }
        (
            DataType::Categorical(_, mapping) | DataType::Enum(_, mapping),
            Categories::String(cats),
        ) => {
            let lookup = CodeSlots::new(mapping, cats, plan);
            let codes = s.to_physical_repr();
            with_match_codes!(s.dtype().cat_physical()?, |$C, $P| {
                let codes: &ChunkedArray<$P> = codes.as_ref().as_ref().as_ref();
                code_slots(codes, s.dtype(), &lookup, null)
            })
        }
        (DataType::Boolean, Categories::Boolean(cats)) => {
            let slot_of = |b: bool| {
                cats.iter()
                    .position(|&c| c == b)
                    .map_or(UNKNOWN, |i| plan.category_slot[i])
            };
            let (f, t) = (slot_of(false), slot_of(true));
            fill_slots(s.bool()?.downcast_iter(), null, |arr, i| {
                if arr.value(i) {
                    t
                } else {
                    f
                }
            })
        }
        (d, Categories::Int(cats)) if d.is_integer() => {
            let map: PlHashMap<i64, u32> = cats
                .iter()
                .copied()
                .zip(plan.category_slot.iter().copied())
                .collect();
            let slot_of = |v: i64| *map.get(&v).unwrap_or(&UNKNOWN);
            if d == &DataType::UInt64 {
                // Values past i64::MAX match no (Int64) category.
                fill_slots(s.u64()?.downcast_iter(), null, |arr, i| {
                    i64::try_from(arr.value(i)).map_or(UNKNOWN, slot_of)
                })
            } else {
                let ints = s.cast(&DataType::Int64)?;
                fill_slots(ints.i64()?.downcast_iter(), null, |arr, i| {
                    slot_of(arr.value(i))
                })
            }
        }
        (d, c) => polars_bail!(
            InvalidOperation: "one_hot categories of the wrong type for column '{}': got {}, \
            but the column has dtype {}", s.name(), c.kind(), d
        ),
    };
    if !seen.unknown {
        return Ok((out, seen));
    }
    let row = out.iter().position(|&slot| slot == UNKNOWN).unwrap_or(0);
    let Some(unknown) = plan.unknown_slot else {
        let value = s.slice(row as i64, 1).cast(&DataType::String)?;
        polars_bail!(
            ComputeError: "one_hot found the value {} in column '{}', which is not among its {} \
            categories; pass unknown=\"zeros\", \"null\" or \"other\" to accept it",
            quoted(value.str()?.get(0).unwrap_or_default()), s.name(), plan.categories.len()
        );
    };
    for slot in out[row..].iter_mut().filter(|s| **s == UNKNOWN) {
        *slot = unknown;
    }
    seen.null |= unknown == NULL_ROW;
    Ok((out, seen))
}

/// The slot of each category code of a Categorical or Enum column.
struct CodeSlots<'a> {
    mapping: &'a CategoricalMapping,
    by_label: PlHashMap<&'a str, u32>,
}

impl<'a> CodeSlots<'a> {
    fn new(mapping: &'a CategoricalMapping, cats: &'a [String], plan: &Plan) -> Self {
        Self {
            mapping,
            by_label: string_map(cats, &plan.category_slot),
        }
    }

    fn slot(&self, code: u32) -> u32 {
        self.mapping
            .cat_to_str(code)
            .and_then(|c| self.by_label.get(c).copied())
            .unwrap_or(UNKNOWN)
    }

    /// The slot of every code of `codes`, indexed by code: one lookup per category
    /// rather than per row. `None` when the mapping (a large shared Categorical) has
    /// far more categories than the column has rows.
    fn table<P>(&self, codes: &ChunkedArray<P>, dtype: &DataType) -> Option<Vec<u32>>
    where
        P: PolarsNumericType,
        P::Native: Into<u32>,
    {
        let size = match dtype {
            DataType::Enum(fcats, _) => fcats.categories().len(),
            _ => codes
                .downcast_iter()
                .flat_map(|arr| arr.values().iter().map(|&c| c.into() as usize + 1))
                .max()
                .unwrap_or(0),
        };
        (size <= 2 * codes.len() + 65_536).then(|| (0..size as u32).map(|c| self.slot(c)).collect())
    }
}

/// The slots of category codes.
fn code_slots<P>(
    codes: &ChunkedArray<P>,
    dtype: &DataType,
    lookup: &CodeSlots,
    null_slot: u32,
) -> (Vec<u32>, Seen)
where
    P: PolarsNumericType,
    P::Native: Into<u32>,
{
    let Some(table) = lookup.table(codes, dtype) else {
        return fill_slots(codes.downcast_iter(), null_slot, |arr, i| {
            lookup.slot(arr.values()[i].into())
        });
    };
    let mut seen = Seen::default();
    let out = fill_chunks(codes.downcast_iter(), |arr, piece| {
        let values = arr.values().as_slice();
        let nulls = arr.validity().filter(|v| v.unset_bits() > 0);
        seen = seen.or(par_fill(piece, |start, out| {
            let codes = &values[start..start + out.len()];
            for (o, &c) in out.iter_mut().zip(codes) {
                o.write(table.get(c.into() as usize).copied().unwrap_or(UNKNOWN));
            }
            if let Some(valid) = nulls {
                let valid = valid.clone().sliced(start, out.len());
                for (o, ok) in out.iter_mut().zip(valid.iter()) {
                    if !ok {
                        o.write(null_slot);
                    }
                }
            }
        }));
    });
    (out, seen)
}

/// The indicator fields of a Categorical or Enum column without nulls whose codes map
/// one to one onto fields, by [`compare_columns`]; `None` for any other column, which
/// goes through the slot pass.
pub(super) fn direct_fields(
    s: &Series,
    plan: &Plan,
    dtype: IndicatorDtype,
) -> PolarsResult<Option<Vec<Series>>> {
    let (DataType::Categorical(_, mapping) | DataType::Enum(_, mapping), Categories::String(cats)) =
        (s.dtype(), &plan.categories)
    else {
        return Ok(None);
    };
    if s.has_nulls() {
        return Ok(None);
    }
    let lookup = CodeSlots::new(mapping, cats, plan);
    let codes = s.to_physical_repr().rechunk();
    let width = plan.names.len();
    Ok(with_match_codes!(s.dtype().cat_physical()?, |$C, $P| {
        let codes: &ChunkedArray<$P> = codes.as_ref().as_ref().as_ref();
        direct::<$P>(codes, s.dtype(), &lookup, width, dtype)
    }))
}

fn direct<P>(
    codes: &ChunkedArray<P>,
    dtype: &DataType,
    lookup: &CodeSlots,
    width: usize,
    out: IndicatorDtype,
) -> Option<Vec<Series>>
where
    P: PolarsNumericType,
    P::Native: Into<u32> + num_traits::NumCast,
{
    let table = lookup.table(codes, dtype)?;
    let mut code_of: Vec<Option<P::Native>> = vec![None; width];
    for (code, &slot) in table.iter().enumerate() {
        match code_of.get_mut(slot as usize) {
            Some(entry @ None) => *entry = Some(num_traits::NumCast::from(code)?),
            // Codes of one mapping have distinct labels, so no field has two; a guard.
            Some(Some(_)) => return None,
            // The category `drop_first` drops: its rows are all zeros.
            None if slot == ZEROS => {}
            // An unknown category, resolved by the `unknown` policy in the slot pass.
            None => return None,
        }
    }
    let values = codes
        .downcast_iter()
        .next()
        .map_or(&[][..], |a| a.values().as_slice());
    Some(with_match_indicator!(out, |$I| compare_columns::<$I, _>(values, &code_of)))
}

/// The slot of every row of `arrays`, filled in parallel: `null_slot` for a null row,
/// `slot(array, i)` for a valid one.
fn fill_slots<'a, A: Array + 'a>(
    arrays: impl Iterator<Item = &'a A>,
    null_slot: u32,
    slot: impl Fn(&A, usize) -> u32 + Sync,
) -> (Vec<u32>, Seen) {
    fill_pieces(arrays, |arr, start, out| {
        let nulls = arr.validity().filter(|v| v.unset_bits() > 0);
        for (i, o) in (start..).zip(out.iter_mut()) {
            // SAFETY: `i` is below the array's length, which is the bitmap's.
            let valid = nulls.is_none_or(|v| unsafe { v.get_bit_unchecked(i) });
            o.write(if valid { slot(arr, i) } else { null_slot });
        }
    })
}

/// The slot of every row of `arrays`, filled in parallel: `fill(array, start, out)`
/// writes the slots of the array's rows from `start`, one per value of `out`.
fn fill_pieces<'a, A: Array + 'a>(
    arrays: impl Iterator<Item = &'a A>,
    fill: impl Fn(&A, usize, &mut [MaybeUninit<u32>]) + Sync,
) -> (Vec<u32>, Seen) {
    let mut seen = Seen::default();
    let out = fill_chunks(arrays, |arr, piece| {
        seen = seen.or(par_fill(piece, |start, out| fill(arr, start, out)));
    });
    (out, seen)
}

/// One value per row of `arrays`, each array's piece of the output filled by `fill`.
fn fill_chunks<'a, A: Array + 'a>(
    arrays: impl Iterator<Item = &'a A>,
    mut fill: impl FnMut(&A, &mut [MaybeUninit<u32>]),
) -> Vec<u32> {
    let arrays: Vec<&A> = arrays.collect();
    let n = arrays.iter().map(|a| a.len()).sum();
    let mut out: Vec<u32> = Vec::new();
    fill_spare(&mut out, n, UNWRITTEN, |mut rest| {
        for arr in arrays {
            let (piece, tail) = rest.split_at_mut(arr.len());
            rest = tail;
            fill(arr, piece);
        }
    });
    out
}

/// `f(start, out)` for each task's piece `out` of `all`, which starts at row `start`,
/// in parallel; `f` writes every value of its piece. Returns the special slots written.
fn par_fill(
    all: &mut [MaybeUninit<u32>],
    f: impl Fn(usize, &mut [MaybeUninit<u32>]) + Sync,
) -> Seen {
    let len = all.len();
    par_tasks(
        row_pieces(all, len, |r| r),
        #[inline(always)]
        |task, out| {
            f(task * ROWS_PER_TASK, out);
            // SAFETY: `f` wrote every value.
            Seen::of(unsafe { &*(out as *const [MaybeUninit<u32>] as *const [u32]) })
        },
    )
    .into_iter()
    .fold(Seen::default(), Seen::or)
}
