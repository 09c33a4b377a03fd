//! Parallel work over rows: the one task size, the one way work is handed to Polars'
//! thread pool, the one way a buffer is cut into the tasks' pieces, and the buffers
//! the tasks fill.
//!
//! Owns [`ROWS_PER_TASK`], [`par_tasks`], [`row_pieces`], [`column_pieces`],
//! [`fill_sized`], [`fresh`] (outputs on huge pages, written once) and [`Choices`] (a choice per
//! row of each block). A leaf: imports only [`crate::simd`] (the best build of each
//! task) and, on Linux, `libc` (for `madvise`).

use std::fmt::Debug;
use std::mem::MaybeUninit;

use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::simd::{with_best_simd, LANES};

/// Rows handed to one task of the thread pool: small enough that a task's output is
/// reused memory of the allocator rather than fresh pages, large enough that a task
/// outweighs its scheduling. A multiple of [`LANES`], so a task's rows are whole
/// groups of lanes and whole bytes of a validity bitmap.
pub const ROWS_PER_TASK: usize = 16 * 1024;

const _: () = assert!(ROWS_PER_TASK % LANES == 0 && LANES == 8);

/// The number of tasks that cover `len` rows.
pub fn tasks(len: usize) -> usize {
    len.div_ceil(ROWS_PER_TASK)
}

/// Runs `f(task, piece)` for every piece, in parallel on Polars' thread pool, each in
/// the best SIMD build ([`with_best_simd`]); returns the results in task order. `f`
/// should be `#[inline(always)]`, to be compiled into that build.
pub fn par_tasks<P: Send, R: Send>(pieces: Vec<P>, f: impl Fn(usize, P) -> R + Sync) -> Vec<R> {
    THREAD_POOL.install(|| {
        pieces
            .into_par_iter()
            .enumerate()
            .map(|(task, piece)| {
                with_best_simd(
                    #[inline(always)]
                    || f(task, piece),
                )
            })
            .collect()
    })
}

/// `out` cut into one piece per task of `len` rows: piece `t` holds the values of rows
/// `t · ROWS_PER_TASK` up to the next task's, row `r` starting at value `start(r)`
/// (`r · width` for rows of `width` values, a list's offsets otherwise).
pub fn row_pieces<T>(out: &mut [T], len: usize, start: impl Fn(usize) -> usize) -> Vec<&mut [T]> {
    let mut pieces = Vec::with_capacity(tasks(len));
    let mut rest = out;
    let mut row = 0;
    while row < len {
        let end = (row + ROWS_PER_TASK).min(len);
        let (piece, tail) = rest.split_at_mut(start(end) - start(row));
        pieces.push(piece);
        rest = tail;
        row = end;
    }
    pieces
}

/// One choice per row for each of `blocks` blocks of `len` rows: every block's index
/// per row and the validity bytes of its groups of [`LANES`] rows (a row a bit).
pub type Choices = Vec<(Vec<u32>, Vec<u8>)>;

/// [`Choices`] of `blocks` blocks of `len` rows, zeroed.
pub fn choice_buffers(blocks: usize, len: usize) -> Choices {
    (0..blocks)
        .map(|_| (vec![0u32; len], vec![0u8; len.div_ceil(LANES)]))
        .collect()
}

/// [`Choices`] cut into the tasks' pieces: `pieces[t][b]` is task `t`'s part of block
/// `b`'s indices and validity bytes.
pub fn choice_pieces(out: &mut Choices, len: usize) -> Vec<Vec<(&mut [u32], &mut [u8])>> {
    let mut pieces: Vec<Vec<_>> = (0..tasks(len)).map(|_| Vec::new()).collect();
    for (idx, bytes) in out.iter_mut() {
        let idx = row_pieces(idx, len, |r| r);
        let bytes = row_pieces(bytes, len, |r| r.div_ceil(LANES));
        for (t, piece) in idx.into_iter().zip(bytes).enumerate() {
            pieces[t].push(piece);
        }
    }
    pieces
}

/// Each column's [`row_pieces`] of `len` rows, grouped by task: `pieces[t][j]` is
/// task `t`'s piece of column `j`.
pub fn column_pieces<T>(columns: Vec<&mut [T]>, len: usize) -> Vec<Vec<&mut [T]>> {
    let mut pieces: Vec<Vec<&mut [T]>> = (0..tasks(len))
        .map(|_| Vec::with_capacity(columns.len()))
        .collect();
    for column in columns {
        for (task, piece) in row_pieces(column, len, |r| r).into_iter().enumerate() {
            pieces[task].push(piece);
        }
    }
    pieces
}

/// Every vector of `columns` grown to `n` values written by `fill` (see
/// [`fill_sized`]).
pub fn fill_spares<T, R>(
    columns: &mut [Vec<T>],
    n: usize,
    poison: T,
    fill: impl FnOnce(Vec<&mut [MaybeUninit<T>]>) -> R,
) -> R
where
    T: Copy + PartialEq + Debug,
{
    let sizes = vec![n; columns.len()];
    fill_sized(columns, &sizes, poison, fill)
}

/// Every vector of `columns` grown to its size in `sizes`, its values written by
/// `fill`, which is handed their spare capacity and must write every value of it: no
/// value is written twice, as zeroing first would. The memory is asked for huge pages
/// (as [`fresh`]). Debug builds first set the values
/// to `poison`, a value `fill` never writes, and assert that none is left.
pub fn fill_sized<T, R>(
    columns: &mut [Vec<T>],
    sizes: &[usize],
    poison: T,
    fill: impl FnOnce(Vec<&mut [MaybeUninit<T>]>) -> R,
) -> R
where
    T: Copy + PartialEq + Debug,
{
    debug_assert_eq!(columns.len(), sizes.len());
    let spares = columns
        .iter_mut()
        .zip(sizes)
        .map(|(v, &n)| {
            v.clear();
            v.reserve(n);
            let spare = &mut v.spare_capacity_mut()[..n];
            advise_huge_pages(spare);
            if cfg!(debug_assertions) {
                spare.fill(MaybeUninit::new(poison));
            }
            spare
        })
        .collect();
    let result = fill(spares);
    for (v, &n) in columns.iter_mut().zip(sizes) {
        // SAFETY: `fill` wrote every one of the first `n` values; in debug builds the
        // poison written above made them initialised in any case, and is checked for.
        unsafe { v.set_len(n) };
        if cfg!(debug_assertions) {
            let missed = v.iter().position(|x| *x == poison);
            debug_assert!(missed.is_none(), "value {missed:?} of {n} was not written");
        }
    }
    result
}

/// A vector of `n` values, every one of them written by `fill` (as [`fill_spare`]
/// says), in memory Linux is asked to back with transparent huge pages, as numpy asks
/// for its large arrays: a fresh output of hundreds of megabytes then takes 512 times
/// fewer page faults when its tasks first write it.
pub fn fresh<T, R>(
    n: usize,
    poison: T,
    fill: impl FnOnce(&mut [MaybeUninit<T>]) -> R,
) -> (Vec<T>, R)
where
    T: Copy + PartialEq + Debug,
{
    let mut v = Vec::new();
    let result = fill_spare(&mut v, n, poison, fill);
    (v, result)
}

/// Asks for huge pages behind the whole 2 MiB pages of `buffer`, before any is touched;
/// a hint only, without effect where the kernel does not take it.
fn advise_huge_pages<T>(buffer: &mut [MaybeUninit<T>]) {
    const HUGE: usize = 2 << 20;
    let start = buffer.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(buffer);
    let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if last > first {
        #[cfg(target_os = "linux")]
        // SAFETY: the range lies inside the buffer, which this call does not read or
        // write; the advice changes how its pages are backed, never their contents.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

/// [`fill_spares`] of one vector.
pub fn fill_spare<T, R>(
    v: &mut Vec<T>,
    n: usize,
    poison: T,
    fill: impl FnOnce(&mut [MaybeUninit<T>]) -> R,
) -> R
where
    T: Copy + PartialEq + Debug,
{
    fill_spares(std::slice::from_mut(v), n, poison, |mut spares| {
        fill(spares.pop().unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_pieces_cover_the_rows_in_order() {
        for len in [
            0,
            1,
            ROWS_PER_TASK - 1,
            ROWS_PER_TASK,
            2 * ROWS_PER_TASK + 3,
        ] {
            let width = 3;
            let mut out = vec![0u32; len * width];
            let pieces = row_pieces(&mut out, len, |r| r * width);
            assert_eq!(pieces.len(), tasks(len));
            let sizes: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
            assert_eq!(sizes.iter().sum::<usize>(), len * width);
            assert!(sizes
                .iter()
                .rev()
                .skip(1)
                .all(|&s| s == ROWS_PER_TASK * width));
            par_tasks(pieces, |task, piece| {
                for (i, v) in piece.iter_mut().enumerate() {
                    *v = (task * ROWS_PER_TASK * width + i) as u32;
                }
            });
            assert!(out.iter().enumerate().all(|(i, &v)| v as usize == i));
        }
    }

    #[test]
    fn row_pieces_follow_uneven_offsets() {
        // Rows of 0, 1 and 2 values in turn.
        let offsets: Vec<usize> = std::iter::once(0)
            .chain((0..ROWS_PER_TASK + 5).scan(0, |end, r| {
                *end += r % 3;
                Some(*end)
            }))
            .collect();
        let len = offsets.len() - 1;
        let mut out = vec![0u8; offsets[len]];
        let pieces = row_pieces(&mut out, len, |r| offsets[r]);
        assert_eq!(pieces[0].len(), offsets[ROWS_PER_TASK]);
        assert_eq!(pieces[1].len(), offsets[len] - offsets[ROWS_PER_TASK]);
    }

    #[test]
    fn column_pieces_group_by_task() {
        let len = ROWS_PER_TASK + 1;
        let mut a = vec![0u8; len];
        let mut b = vec![0u8; len];
        let pieces = column_pieces(vec![&mut a[..], &mut b[..]], len);
        let shape: Vec<Vec<usize>> = pieces
            .iter()
            .map(|p| p.iter().map(|c| c.len()).collect())
            .collect();
        assert_eq!(shape, vec![vec![ROWS_PER_TASK; 2], vec![1, 1]]);
    }

    #[test]
    fn par_tasks_keeps_task_order() {
        let results = par_tasks((0..100).collect(), |task, piece: usize| (task, piece * 2));
        assert!(results
            .iter()
            .enumerate()
            .all(|(i, &(t, p))| t == i && p == 2 * i));
    }

    #[test]
    fn fill_spare_sets_the_length() {
        let mut v: Vec<u32> = Vec::new();
        let total = fill_spare(&mut v, 5, u32::MAX, |spare| {
            for (i, s) in spare.iter_mut().enumerate() {
                s.write(i as u32);
            }
            spare.len()
        });
        assert_eq!((total, v), (5, vec![0, 1, 2, 3, 4]));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "was not written")]
    fn fill_spare_catches_a_value_left_unwritten() {
        let mut v: Vec<u32> = Vec::new();
        fill_spare(&mut v, 3, u32::MAX, |spare| {
            spare[0].write(1);
            spare[2].write(1);
        });
    }
}
