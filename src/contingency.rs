//! Contingency tables: how many rows hold each value of a column, and each pair of
//! values of two columns, counted exactly over every row.
//!
//! Each column is first turned into dense codes, one per distinct value in order of
//! first appearance (null is a value of its own): by a lookup table for Enum and
//! Categorical codes, Booleans and small integers, by a hash of the value otherwise.
//! A table is then one counter per pair of codes, `table[a · K_b + b]`, counted over
//! fixed blocks of rows on every core and summed block by block; a table too large to
//! hold densely is counted by sorting the pairs' keys instead. Only cells that occur
//! are written out, labelled with the values' text, so that two tables (of a real and
//! a synthetic frame, say) are compared by joining on the labels.
//!
//! A numeric column may be counted by bins instead ([`Binning`]): numpy's
//! `histogram_bin_edges` of its finite values, or edges given, and `np.digitize`; its
//! codes number the bins that hold a value, in order.
//!
//! [`distinct_values`] gives each numeric column's distinct values, ascending, with
//! their rows: what a two-sample Kolmogorov-Smirnov statistic reads, and [`ks_gaps`]
//! walks two tables' lists together to its largest gap.
//!
//! An operation ([`counts`], [`counts_field`], [`CountOptions`], [`distinct_values`],
//! [`ValuesOptions`], [`ks_gaps`]); imports only the leaf [`crate::par`].

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};
use polars_arrow::types::NativeType;
use serde::Deserialize;

use crate::par::par_tasks;

/// Which tables to count: each group is the position of one input column (its value
/// counts) or of two (their joint counts).
#[derive(Deserialize, Debug, Clone)]
pub struct CountOptions {
    pub groups: Vec<Vec<usize>>,
    /// Float64 inputs counted by bin rather than by value.
    #[serde(default)]
    pub binned: Vec<Binning>,
}

/// A Float64 input cut into bins, as `np.digitize(value, edges)` numbers them: how many
/// edges are at most the value, and one past the last edge for a null.
#[derive(Deserialize, Debug, Clone)]
pub struct Binning {
    pub input: usize,
    /// The edges, ascending; without them, numpy's `histogram_bin_edges(values, bins)`
    /// of the input's finite values.
    pub edges: Option<Vec<f64>>,
    pub bins: usize,
    /// The given edges are the inner ones, the outer two being −inf and +inf.
    #[serde(default)]
    pub open: bool,
}

/// numpy's `histogram_bin_edges(values, bins)` of the finite values, as `linspace`
/// computes them: edge `i` is `i · step + first` and the last is `last` exactly; one
/// distinct value widens to ± 0.5 around it, none to [0, 1].
pub fn histogram_edges(values: impl Iterator<Item = f64>, bins: usize) -> Vec<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let (first, last) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let step = (last - first) / bins as f64;
    (0..bins)
        .map(|i| i as f64 * step + first)
        .chain(std::iter::once(last))
        .collect()
}

/// Rows counted by one task.
const ROWS_PER_BLOCK: usize = 64 * 1024;

/// The largest table counted densely on every task; larger ones are counted by
/// sorting their rows' keys.
const DENSE_CELLS: usize = 1 << 16;

/// Rows counted by every group in turn, their codes staying in cache.
const ROWS_PER_PASS: usize = 4096;

/// Tables of at most this many cells are counted in [`COPIES`] interleaved copies.
const SMALL_CELLS: usize = 1024;
const COPIES: usize = 4;

/// Counts the cells `a[i] · kb + b[i]` (or `a[i]`) into `t`: `copies` tables of `cells`
/// counters one after another, row `i` counted in copy `i mod copies`.
#[inline(always)]
fn count_cells(t: &mut [u32], cells: usize, a: &[u32], b: Option<&[u32]>, kb: usize) {
    match b {
        Some(b) => count_by(t, cells, a, &b[..a.len()], |x, y| {
            x as usize * kb + y as usize
        }),
        None => count_by(t, cells, a, a, |x, _| x as usize),
    }
}

#[inline(always)]
fn count_by(t: &mut [u32], cells: usize, a: &[u32], b: &[u32], cell: impl Fn(u32, u32) -> usize) {
    if t.len() == COPIES * cells {
        let (t0, rest) = t.split_at_mut(cells);
        let (t1, rest) = rest.split_at_mut(cells);
        let (t2, t3) = rest.split_at_mut(cells);
        let mut ac = a.chunks_exact(COPIES);
        let mut bc = b.chunks_exact(COPIES);
        for (x, y) in (&mut ac).zip(&mut bc) {
            t0[cell(x[0], y[0])] += 1;
            t1[cell(x[1], y[1])] += 1;
            t2[cell(x[2], y[2])] += 1;
            t3[cell(x[3], y[3])] += 1;
        }
        for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
            t0[cell(x, y)] += 1;
        }
    } else {
        for (&x, &y) in a.iter().zip(b) {
            t[cell(x, y)] += 1;
        }
    }
}

/// The output: one row per cell that occurs, `group` its group's position in
/// [`CountOptions::groups`], `first` and `second` the text of its values (null for a
/// null value, and `second` null in a one-column group), `count` its rows.
pub fn counts_field(fields: &[Field], options: &CountOptions) -> PolarsResult<Field> {
    for f in fields {
        check_dtype(f.name(), f.dtype())?;
    }
    check_groups(&options.groups, fields.len())?;
    let name = fields
        .first()
        .map_or(PlSmallStr::from("counts"), |f| f.name().clone());
    Ok(Field::new(name, DataType::Struct(output_fields())))
}

fn output_fields() -> Vec<Field> {
    vec![
        Field::new("group".into(), DataType::UInt32),
        Field::new("first".into(), DataType::String),
        Field::new("second".into(), DataType::String),
        Field::new("count".into(), DataType::UInt64),
    ]
}

fn check_dtype(name: &str, dtype: &DataType) -> PolarsResult<()> {
    let fits = matches!(
        dtype,
        DataType::String
            | DataType::Categorical(_, _)
            | DataType::Enum(_, _)
            | DataType::Boolean
            | DataType::Null
    ) || dtype.is_integer()
        || dtype.is_float();
    polars_ensure!(
        fits,
        InvalidOperation: "counts expects String, Categorical, Enum, Boolean, integer or float \
        columns, got {} (column '{}')", dtype, name
    );
    Ok(())
}

fn check_groups(groups: &[Vec<usize>], columns: usize) -> PolarsResult<()> {
    for g in groups {
        polars_ensure!(
            matches!(g.len(), 1 | 2) && g.iter().all(|&i| i < columns),
            InvalidOperation: "counts expects groups of one or two of its {} input columns, \
            got {:?}", columns, g
        );
    }
    Ok(())
}

/// The counts of every group of `inputs` (see [`counts_field`]).
pub fn counts(inputs: &[Series], options: &CountOptions) -> PolarsResult<Series> {
    let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
    let out = counts_field(&fields, options)?;
    let len = inputs.first().map_or(0, |s| s.len());
    polars_ensure!(
        inputs.iter().all(|s| s.len() == len),
        ShapeMismatch: "counts expects input columns of one length"
    );
    let used: Vec<bool> = (0..inputs.len())
        .map(|i| options.groups.iter().any(|g| g.contains(&i)))
        .collect();
    let pieces: Vec<(usize, &Series)> = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| used[*i])
        .collect();
    let binning = |i: usize| options.binned.iter().find(|b| b.input == i);
    let coded: Vec<PolarsResult<(usize, Dense)>> = par_tasks(
        pieces,
        #[inline(always)]
        |_, (i, s)| {
            Ok((
                i,
                match binning(i) {
                    Some(b) => binned(s, b)?,
                    None => dense(s)?,
                },
            ))
        },
    );
    // An input no group names stays empty: no group reads it.
    let mut columns: Vec<Dense> = (0..inputs.len()).map(|_| Dense::default()).collect();
    for c in coded {
        let (i, d) = c?;
        columns[i] = d;
    }
    let column = |i: usize| &columns[i];
    let tables = count_groups(&options.groups, &columns, len);

    let (mut group, mut first, mut second, mut count) = (vec![], vec![], vec![], vec![]);
    for (g, (members, table)) in options.groups.iter().zip(&tables).enumerate() {
        let a = column(members[0]);
        let b = members.get(1).map(|&j| column(j));
        for &(cell, n) in table {
            group.push(g as u32);
            match b {
                Some(b) => {
                    let k = b.labels.len() as u64;
                    first.push(a.labels[(cell / k) as usize].clone());
                    second.push(b.labels[(cell % k) as usize].clone());
                }
                None => {
                    first.push(a.labels[cell as usize].clone());
                    second.push(None);
                }
            }
            count.push(n);
        }
    }
    let len = group.len();
    let fields = [
        Series::new("group".into(), group),
        Series::new("first".into(), first),
        Series::new("second".into(), second),
        Series::new("count".into(), count),
    ];
    Ok(StructChunked::from_series(out.name().clone(), len, fields.iter())?.into_series())
}

/// A column as dense codes: `codes[row]` in `0..labels.len()`, `labels[code]` the text
/// of that value (`None` for null).
#[derive(Default)]
struct Dense {
    codes: Vec<u32>,
    labels: Vec<Option<String>>,
}

/// Assigns codes in order of first appearance to the keys `key(row)` gives.
struct Coder<K> {
    index: PlHashMap<K, u32>,
    first_rows: Vec<usize>,
}

impl<K: std::hash::Hash + Eq> Coder<K> {
    fn new() -> Self {
        Self {
            index: PlHashMap::default(),
            first_rows: Vec::new(),
        }
    }

    #[inline]
    fn code(&mut self, key: K, row: usize) -> u32 {
        let next = self.first_rows.len() as u32;
        let code = *self.index.entry(key).or_insert(next);
        if code == next {
            self.first_rows.push(row);
        }
        code
    }
}

/// Codes a column through `key`, whose `None` is a null; labels each code by `label`
/// of its first row.
fn code_rows<K: std::hash::Hash + Eq>(
    len: usize,
    key: impl Fn(usize) -> Option<K>,
    label: impl Fn(usize) -> String,
) -> Dense {
    let mut coder: Coder<Option<K>> = Coder::new();
    let codes = (0..len).map(|row| coder.code(key(row), row)).collect();
    let labels = coder
        .first_rows
        .iter()
        .map(|&row| key(row).map(|_| label(row)))
        .collect();
    Dense { codes, labels }
}

/// The most string views [`code_strings`] remembers.
const VIEWS_REMEMBERED: usize = 1 << 16;

/// Codes strings by their text, through a first table keyed by the string's 16-byte
/// view: equal views hold equal strings (a short string lies in its view; a long one's
/// view names where its bytes lie), so the repeated values of a gathered or resampled
/// column are found without reading or hashing their bytes.
fn code_strings(ca: &StringChunked) -> Dense {
    let mut coder = StringCoder::default();
    let mut codes = vec![0u32; ca.len()];
    let (mut start, mut null) = (0, None);
    for arr in ca.downcast_iter() {
        let views = arr.views().as_slice();
        let out = &mut codes[start..start + views.len()];
        start += views.len();
        match arr.validity().filter(|v| v.unset_bits() > 0) {
            None => {
                for (i, (o, v)) in out.iter_mut().zip(views).enumerate() {
                    *o = coder.code(arr, i, v.as_u128());
                }
            }
            Some(valid) => {
                for (i, ((o, v), ok)) in out.iter_mut().zip(views).zip(valid.iter()).enumerate() {
                    *o = if ok {
                        coder.code(arr, i, v.as_u128())
                    } else {
                        *null.get_or_insert_with(|| coder.by_text(None))
                    };
                }
            }
        }
    }
    Dense {
        codes,
        labels: coder.labels,
    }
}

/// The state of [`code_strings`]: in front of a table of views, a direct-mapped cache
/// of recent views, one probe and no hashing for the few views a resampled column
/// repeats; behind it, a table of the strings themselves.
struct StringCoder<'a> {
    cache: Vec<(u128, u32)>,
    by_view: PlHashMap<u128, u32>,
    by_str: PlHashMap<Option<&'a str>, u32>,
    labels: Vec<Option<String>>,
}

impl Default for StringCoder<'_> {
    fn default() -> Self {
        Self {
            cache: vec![(Self::EMPTY, 0); Self::SLOTS],
            by_view: PlHashMap::default(),
            by_str: PlHashMap::default(),
            labels: Vec::new(),
        }
    }
}

impl<'a> StringCoder<'a> {
    const SLOTS: usize = 1 << 10;
    /// No view has a length of `u32::MAX`.
    const EMPTY: u128 = u128::MAX;

    #[inline(always)]
    fn slot(view: u128) -> usize {
        let folded = (view as u64) ^ ((view >> 64) as u64);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SLOTS.trailing_zeros())) as usize
    }

    /// The code of row `i` of `arr`, present, whose view is `view`: the common row in
    /// as few instructions as can be, its view found in the cache.
    #[inline(always)]
    fn code(&mut self, arr: &'a Utf8ViewArray, i: usize, view: u128) -> u32 {
        match self.cache[Self::slot(view)] {
            (cached, code) if cached == view => code,
            _ => self.miss(view, Some(arr.value(i))),
        }
    }

    /// The code of `value`, whose view the cache did not hold.
    #[inline(never)]
    fn miss(&mut self, view: u128, value: Option<&'a str>) -> u32 {
        if let Some(&code) = self.by_view.get(&view) {
            self.cache[Self::slot(view)] = (view, code);
            return code;
        }
        let code = self.by_text(value);
        if self.by_view.len() < VIEWS_REMEMBERED {
            self.by_view.insert(view, code);
        }
        code
    }

    fn by_text(&mut self, value: Option<&'a str>) -> u32 {
        let next = self.labels.len() as u32;
        let code = *self.by_str.entry(value).or_insert(next);
        if code == next {
            self.labels.push(value.map(str::to_string));
        }
        code
    }
}

/// Codes small non-negative integers (Enum and Categorical codes, Booleans) through a
/// table indexed by the value, `size` the largest value plus one.
fn code_small(
    len: usize,
    size: usize,
    value: impl Fn(usize) -> Option<u32>,
    label: impl Fn(u32) -> String,
) -> Dense {
    const VACANT: u32 = u32::MAX;
    let mut table = vec![VACANT; size + 1];
    let mut labels = Vec::new();
    let codes = (0..len)
        .map(|row| {
            let v = value(row);
            let slot = v.map_or(size, |v| v as usize);
            if table[slot] == VACANT {
                table[slot] = labels.len() as u32;
                labels.push(v.map(&label));
            }
            table[slot]
        })
        .collect();
    Dense { codes, labels }
}

/// `np.digitize` against ascending edges: how many edges are at most a value, which is
/// where the value would be inserted after its equals; a NaN goes past every edge, as
/// numpy sorts it. The finite edges are evenly spaced wherever numpy's
/// `histogram_bin_edges` made them, so one division guesses the answer to within one,
/// a step either way settles it without a branch, and walking on from there while an
/// edge is on the wrong side (which evenly spaced edges never need) makes it exact for
/// any edges.
struct Bins {
    /// The edges between −inf and NaN: `padded[i + 1]` is edge `i`, and neither end is
    /// ever on the wrong side of a value.
    padded: Vec<f64>,
    /// The edges below every finite value (−inf ones), and the finite edges' first
    /// value and spacing, when there are two or more of them.
    below: usize,
    finite: usize,
    first: f64,
    per_step: f64,
}

impl Bins {
    fn new(edges: &[f64]) -> Self {
        let below = edges
            .iter()
            .take_while(|e| **e == f64::NEG_INFINITY)
            .count();
        let finite = edges[below..].iter().take_while(|e| e.is_finite()).count();
        let (first, last) = match finite {
            0 => (0.0, 0.0),
            n => (edges[below], edges[below + n - 1]),
        };
        let step = if finite > 1 {
            (last - first) / (finite - 1) as f64
        } else {
            0.0
        };
        let per_step = if step > 0.0 && step.is_finite() {
            1.0 / step
        } else {
            0.0
        };
        let padded = std::iter::once(f64::NEG_INFINITY)
            .chain(edges.iter().copied())
            .chain(std::iter::once(f64::NAN))
            .collect();
        Self {
            padded,
            below,
            finite,
            first,
            per_step,
        }
    }

    /// The number of edges.
    fn len(&self) -> usize {
        self.padded.len() - 2
    }

    #[inline(always)]
    fn of(&self, x: f64) -> usize {
        if x.is_nan() {
            return self.len();
        }
        // The guess, in range whatever x is (±inf, or a spacing of 0; a NaN step casts
        // to 0); clamped at 0 first, so that truncation is the floor.
        let steps = (x - self.first) * self.per_step + 1.0;
        let i = self.below + steps.clamp(0.0, self.finite as f64) as usize;
        let p = &self.padded;
        // Ascending edges cannot have edge i at most x and edge i − 1 above it.
        let i = i + usize::from(p[i + 1] <= x) - usize::from(p[i] > x);
        if p[i + 1] <= x || p[i] > x {
            return self.walk(i, x);
        }
        i
    }

    #[cold]
    fn walk(&self, mut i: usize, x: f64) -> usize {
        let p = &self.padded;
        while p[i + 1] <= x {
            i += 1;
        }
        while p[i] > x {
            i -= 1;
        }
        i
    }
}

/// The least and largest of `values`, in lanes so that it vectorises; a float NaN is
/// passed over, unless it is the first value, which makes both NaN (and the callers
/// then take the finite values' range by a pass of their own). `None` for no values.
#[inline(always)]
fn range_of<T: Copy + PartialOrd>(values: &[T]) -> Option<(T, T)> {
    const LANES: usize = 8;
    let &first = values.first()?;
    let (mut lo, mut hi) = ([first; LANES], [first; LANES]);
    let mut chunks = values.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
        }
    }
    let fold =
        |(lo, hi): (T, T), &v: &T| (if v < lo { v } else { lo }, if v > hi { v } else { hi });
    let lanes = lo.iter().zip(&hi).map(|(&l, &h)| (l, h));
    let (lo, hi) = lanes.fold((first, first), |acc, (l, h)| fold(fold(acc, &l), &h));
    Some(chunks.remainder().iter().fold((lo, hi), fold))
}

/// A numeric column as its bins (see [`Binning`]), labelled by their numbers. Int64
/// and Float64 columns are read in place, others as Float64.
#[inline(always)]
fn binned(s: &Series, binning: &Binning) -> PolarsResult<Dense> {
    polars_ensure!(
        (s.dtype().is_integer() || s.dtype().is_float()) && binning.bins > 0,
        InvalidOperation: "counts bins integer or float columns into at least one bin, got {} \
        (column '{}') and {} bins", s.dtype(), s.name(), binning.bins
    );
    let s = s.rechunk();
    Ok(match s.dtype() {
        DataType::Int64 => bin_values(s.i64()?.downcast_as_array(), binning),
        DataType::Float64 => bin_values(s.f64()?.downcast_as_array(), binning),
        _ => {
            let f = s.cast(&DataType::Float64)?;
            bin_values(f.f64()?.downcast_as_array(), binning)
        }
    })
}

/// The values [`binned`] reads in place: Int64 and Float64.
trait Binnable: NativeType + PartialOrd {
    /// Whether the values are integers ([`Binnable::integer`] is then the value).
    const INTEGER: bool;
    fn float(self) -> f64;
    fn integer(self) -> i64;
}

impl Binnable for i64 {
    const INTEGER: bool = true;
    fn float(self) -> f64 {
        self as f64
    }
    fn integer(self) -> i64 {
        self
    }
}

impl Binnable for f64 {
    const INTEGER: bool = false;
    fn float(self) -> f64 {
        self
    }
    fn integer(self) -> i64 {
        self as i64
    }
}

/// The widest range of integers whose bins [`bin_values`] reads from a table.
const BIN_TABLE_CELLS: usize = 1 << 17;

#[inline(always)]
fn bin_values<T: Binnable>(arr: &PrimitiveArray<T>, binning: &Binning) -> Dense {
    let values = arr.values().as_slice();
    let valid = arr.validity().filter(|v| v.unset_bits() > 0);
    // The vectorised least and largest, when there is no null.
    let range = valid.is_none().then(|| range_of(values)).flatten();
    let edges: Vec<f64> = match &binning.edges {
        Some(e) if binning.open => std::iter::once(f64::NEG_INFINITY)
            .chain(e.iter().copied())
            .chain(std::iter::once(f64::INFINITY))
            .collect(),
        Some(e) => e.clone(),
        // Those of the finite values, by a pass of their own where the range is not
        // finite.
        None => match range.map(|(lo, hi)| (lo.float(), hi.float())) {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() => {
                histogram_edges([lo, hi].into_iter(), binning.bins)
            }
            _ => histogram_edges(arr.iter().flatten().map(|&v| v.float()), binning.bins),
        },
    };
    // Each value's bin first, then the bins that occur numbered in order: a pass of
    // no more than the bin per value, and as few codes as there are bins in use.
    let bin = Bins::new(&edges);
    let past = bin.len();
    // Integers of a narrow range: every integer's bin in a table, read once per value.
    let table = range.filter(|_| T::INTEGER).and_then(|(lo, hi)| {
        let span = (hi.integer() as i128 - lo.integer() as i128 + 1) as u128;
        (span <= BIN_TABLE_CELLS.min(values.len()) as u128).then(|| {
            let lo = lo.integer();
            let bins = (0..span as i64).map(|k| bin.of((lo + k) as f64) as u32);
            (lo, bins.collect::<Vec<u32>>())
        })
    });
    let mut codes: Vec<u32> = match (valid, table) {
        (None, Some((lo, table))) => values
            .iter()
            .map(|&x| table[(x.integer() - lo) as usize])
            .collect(),
        (Some(valid), _) => values
            .iter()
            .zip(valid.iter())
            .map(|(&x, ok)| if ok { bin.of(x.float()) } else { past } as u32)
            .collect(),
        (None, None) => values.iter().map(|&x| bin.of(x.float()) as u32).collect(),
    };
    let mut seen = vec![false; past + 1];
    for &c in &codes {
        seen[c as usize] = true;
    }
    let (mut code, mut labels) = (vec![0u32; past + 1], Vec::new());
    for b in (0..=past).filter(|&b| seen[b]) {
        code[b] = labels.len() as u32;
        labels.push(Some(b.to_string()));
    }
    if labels.len() <= past {
        for c in &mut codes {
            *c = code[*c as usize];
        }
    }
    Dense { codes, labels }
}

fn dense(s: &Series) -> PolarsResult<Dense> {
    if let DataType::String = s.dtype() {
        return Ok(code_strings(s.str()?));
    }
    let s = s.rechunk();
    Ok(match s.dtype() {
        DataType::Categorical(_, mapping) | DataType::Enum(_, mapping) => {
            let mapping = mapping.clone();
            let codes = s.to_physical_repr().cast(&DataType::UInt32)?;
            let arr = codes.u32()?.downcast_as_array().clone();
            let size = arr.iter().flatten().max().map_or(0, |&m| m as usize + 1);
            let text = |c: u32| mapping.cat_to_str(c).unwrap_or_default().to_string();
            if size <= 2 * arr.len() + 65_536 {
                code_small(arr.len(), size, |i| arr.get(i), text)
            } else {
                code_rows(arr.len(), |i| arr.get(i), |i| text(arr.value(i)))
            }
        }
        DataType::Boolean => {
            let arr = s.bool()?.downcast_as_array().clone();
            code_small(
                arr.len(),
                2,
                |i| arr.get(i).map(u32::from),
                |b| (b == 1).to_string(),
            )
        }
        DataType::Null => code_small(s.len(), 0, |_| None, |_| String::new()),
        d if d.is_float() => {
            let f = s.cast(&DataType::Float64)?;
            let arr = f.f64()?.downcast_as_array().clone();
            // NaN counts as missing, and −0 as 0, as equality of values has it.
            let key = |i: usize| {
                arr.get(i)
                    .filter(|v| !v.is_nan())
                    .map(|v| (v + 0.0).to_bits())
            };
            code_rows(arr.len(), key, |i| format!("{:?}", arr.value(i) + 0.0))
        }
        DataType::UInt64 => {
            let arr = s.u64()?.downcast_as_array().clone();
            code_rows(arr.len(), |i| arr.get(i), |i| arr.value(i).to_string())
        }
        d if d.is_integer() => {
            let wide = s.cast(&DataType::Int64)?;
            let arr = wide.i64()?.downcast_as_array().clone();
            let (lo, hi) = arr
                .iter()
                .flatten()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let span = (hi as i128 - lo as i128 + 1).max(0) as u128;
            if span <= (2 * arr.len() + 65_536) as u128 {
                // A narrow range: a table indexed by the value less the least.
                let value = |i: usize| arr.get(i).map(|v| (v - lo) as u32);
                code_small(arr.len(), span as usize, value, |v| {
                    (lo + i64::from(v)).to_string()
                })
            } else {
                code_rows(arr.len(), |i| arr.get(i), |i| arr.value(i).to_string())
            }
        }
        d => polars_bail!(InvalidOperation: "counts cannot read dtype {}", d),
    })
}

/// The largest product of cardinalities that [`count_groups`] joins into one cluster.
const CLUSTER_CELLS: usize = 128;

/// The occurring cells of each group's table, `(cell, count)` in cell order.
///
/// Pairs are not counted one by one. The columns they use are joined into clusters,
/// each of at most [`CLUSTER_CELLS`] combinations of values, with one code per
/// combination; one table of two clusters' codes then holds every pair of a column of
/// one with a column of the other, and one cluster's table every pair within it. Each
/// row is counted once per pair of clusters instead of once per pair of columns, and
/// each pair's table is summed out of its clusters' table afterwards.
fn count_groups(groups: &[Vec<usize>], columns: &[Dense], len: usize) -> Vec<Vec<(u64, u64)>> {
    let k = |i: usize| columns[i].labels.len();
    // Columns of pairs small enough to count densely, widest first.
    let mut paired: Vec<usize> = groups
        .iter()
        .filter(|g| g.len() == 2 && k(g[0]).saturating_mul(k(g[1])) <= DENSE_CELLS)
        .flat_map(|g| g.iter().copied())
        .collect();
    paired.sort_unstable_by_key(|&i| (std::cmp::Reverse(k(i)), i));
    paired.dedup();
    // Each column joins the first cluster it fits in: (members with strides, product).
    let mut clusters: Vec<(Vec<(usize, usize)>, usize)> = Vec::new();
    for &i in &paired {
        match clusters
            .iter_mut()
            .find(|(_, p)| p.saturating_mul(k(i)) <= CLUSTER_CELLS)
        {
            Some((members, p)) => {
                members.push((i, *p));
                *p *= k(i);
            }
            None => clusters.push((vec![(i, 1)], k(i))),
        }
    }
    let place = |i: usize| -> Option<(usize, usize)> {
        clusters.iter().enumerate().find_map(|(c, (members, _))| {
            members
                .iter()
                .find(|(m, _)| *m == i)
                .map(|&(_, stride)| (c, stride))
        })
    };
    // Which groups come out of a cluster table: the pair's (cluster, cluster) key.
    let mut tables: Vec<(usize, usize)> = Vec::new();
    // Per group: its table, and each column's (cluster, stride) in it.
    type Placed = (usize, (usize, usize), (usize, usize));
    let mut from_table: Vec<Option<Placed>> = vec![None; groups.len()];
    for (g, members) in groups.iter().enumerate() {
        if members.len() != 2 {
            continue;
        }
        let (Some(pa), Some(pb)) = (place(members[0]), place(members[1])) else {
            continue;
        };
        let (ca, cb) = (pa.0, pb.0);
        let key = (ca.min(cb), ca.max(cb));
        let cells = clusters[key.0]
            .1
            .saturating_mul(if ca == cb { 1 } else { clusters[key.1].1 });
        if cells > DENSE_CELLS {
            continue;
        }
        let t = tables.iter().position(|&t| t == key).unwrap_or_else(|| {
            tables.push(key);
            tables.len() - 1
        });
        from_table[g] = Some((t, pa, pb));
    }
    // The clusters' codes, as columns of their own.
    let merged: Vec<Dense> = par_tasks(clusters.iter().collect(), |_, (members, p)| {
        let mut codes = vec![0u32; len];
        for &(i, stride) in members {
            for (c, &x) in codes.iter_mut().zip(&columns[i].codes) {
                *c += x * stride as u32;
            }
        }
        Dense {
            codes,
            labels: vec![None; *p],
        }
    });
    let cluster_groups: Vec<Vec<usize>> = tables
        .iter()
        .map(|&(a, b)| if a == b { vec![a] } else { vec![a, b] })
        .collect();
    let cluster_tables = count_direct(&cluster_groups, &merged, len);
    // The other groups, counted directly and put back in their places.
    let rest: Vec<usize> = (0..groups.len())
        .filter(|&g| from_table[g].is_none())
        .collect();
    let rest_groups: Vec<Vec<usize>> = rest.iter().map(|&g| groups[g].clone()).collect();
    let mut out: Vec<Vec<(u64, u64)>> = vec![Vec::new(); groups.len()];
    for (&g, table) in rest.iter().zip(count_direct(&rest_groups, columns, len)) {
        out[g] = table;
    }
    for ((members, placed), slot) in groups.iter().zip(&from_table).zip(out.iter_mut()) {
        let Some((t, (xa, sa), (xb, sb))) = *placed else {
            continue;
        };
        *slot = {
            let (ca, cb) = tables[t];
            let (a, b) = (members[0], members[1]);
            let (ka, kb) = (k(a), k(b));
            let wide = if ca == cb { 1 } else { clusters[cb].1 as u64 };
            let mut table = vec![0u64; ka * kb];
            for &(cell, n) in &cluster_tables[t] {
                // The cell's code in each cluster: (first, second) of the table.
                let (first, second) = (cell / wide, cell % wide);
                let code = |cluster: usize| if cluster == ca { first } else { second };
                let x = code(xa) / sa as u64 % ka as u64;
                let y = code(xb) / sb as u64 % kb as u64;
                table[(x * kb as u64 + y) as usize] += n;
            }
            table
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(cell, &n)| (cell as u64, n))
                .collect()
        };
    }
    out
}

/// The occurring cells of each group's table, each counted directly.
fn count_direct(groups: &[Vec<usize>], columns: &[Dense], len: usize) -> Vec<Vec<(u64, u64)>> {
    let column = |i: usize| &columns[i];
    let shape = |g: &Vec<usize>| -> (usize, usize) {
        let ka = column(g[0]).labels.len();
        let kb = g.get(1).map_or(1, |&j| column(j).labels.len());
        (ka, kb)
    };
    let dense: Vec<bool> = groups
        .iter()
        .map(|g| {
            let (ka, kb) = shape(g);
            ka.saturating_mul(kb) <= DENSE_CELLS
        })
        .collect();
    // The dense tables, one after another, counted on every block of rows.
    let mut offsets = Vec::with_capacity(groups.len());
    let mut cells = 0usize;
    for (g, &d) in groups.iter().zip(&dense) {
        offsets.push(cells);
        if d {
            let (ka, kb) = shape(g);
            cells += ka * kb;
        }
    }
    // A small table is counted in COPIES interleaved copies, so that consecutive rows
    // of one cell do not wait on each other's increments.
    let copies: Vec<usize> = groups
        .iter()
        .zip(&dense)
        .map(|(g, &d)| {
            let (ka, kb) = shape(g);
            if d && ka * kb <= SMALL_CELLS {
                COPIES
            } else {
                1
            }
        })
        .collect();
    let mut stored = Vec::with_capacity(groups.len());
    let mut room = 0usize;
    for ((g, &d), &c) in groups.iter().zip(&dense).zip(&copies) {
        stored.push(room);
        if d {
            let (ka, kb) = shape(g);
            room += ka * kb * c;
        }
    }
    let blocks: Vec<usize> = (0..len.div_ceil(ROWS_PER_BLOCK)).collect();
    let partial = par_tasks(
        blocks,
        #[inline(always)]
        |_, block| {
            let end = ((block + 1) * ROWS_PER_BLOCK).min(len);
            let mut table = vec![0u32; room];
            // Rows in passes small enough that every column's codes stay in cache while
            // every group reads them.
            for start in (block * ROWS_PER_BLOCK..end).step_by(ROWS_PER_PASS) {
                let rows = start..(start + ROWS_PER_PASS).min(end);
                for (((g, &d), &at), &c) in groups.iter().zip(&dense).zip(&stored).zip(&copies) {
                    if !d {
                        continue;
                    }
                    let (ka, kb) = shape(g);
                    let t = &mut table[at..at + ka * kb * c];
                    let a = &column(g[0]).codes[rows.clone()];
                    let b = g.get(1).map(|&j| &column(j).codes[rows.clone()]);
                    count_cells(t, ka * kb, a, b, kb);
                }
            }
            table
        },
    );
    let mut total = vec![0u64; cells];
    for p in &partial {
        for ((&offset, &at), (g, (&d, &c))) in offsets
            .iter()
            .zip(&stored)
            .zip(groups.iter().zip(dense.iter().zip(&copies)))
        {
            if !d {
                continue;
            }
            let (ka, kb) = shape(g);
            let n = ka * kb;
            for copy in p[at..at + n * c].chunks_exact(n) {
                for (t, &x) in total[offset..offset + n].iter_mut().zip(copy) {
                    *t += u64::from(x);
                }
            }
        }
    }
    groups
        .iter()
        .zip(&dense)
        .zip(&offsets)
        .map(|((g, &d), &offset)| {
            let (ka, kb) = shape(g);
            if d {
                total[offset..offset + ka * kb]
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(cell, &n)| (cell as u64, n))
                    .collect()
            } else {
                sparse(
                    &column(g[0]).codes,
                    g.get(1).map(|&j| &column(j).codes[..]),
                    kb,
                )
            }
        })
        .collect()
}

/// A table too large to hold densely: the rows' cells sorted and run-length counted.
fn sparse(a: &[u32], b: Option<&[u32]>, kb: usize) -> Vec<(u64, u64)> {
    let mut keys: Vec<u64> = match b {
        Some(b) => a
            .iter()
            .zip(b)
            .map(|(&x, &y)| x as u64 * kb as u64 + y as u64)
            .collect(),
        None => a.iter().map(|&x| x as u64).collect(),
    };
    keys.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for k in keys {
        match out.last_mut() {
            Some((cell, n)) if *cell == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// Options of [`distinct_values`]: float inputs are rounded to `decimals` decimals as
/// numpy rounds them (`rint(x · 10^d) / 10^d`); integers are left as they are.
#[derive(Deserialize, Debug, Clone)]
pub struct ValuesOptions {
    pub decimals: Option<i32>,
}

/// The output of [`distinct_values`]: `group` (the input's position), `value` and
/// `count`, ascending by value within each group.
pub fn distinct_values_field(fields: &[Field]) -> PolarsResult<Field> {
    for f in fields {
        let d = f.dtype();
        polars_ensure!(
            d.is_integer() || d.is_float() || d == &DataType::Null,
            InvalidOperation: "distinct_values expects integer or float columns, got {} \
            (column '{}')", d, f.name()
        );
    }
    let name = fields
        .first()
        .map_or(PlSmallStr::from("values"), |f| f.name().clone());
    Ok(Field::new(
        name,
        DataType::Struct(vec![
            Field::new("group".into(), DataType::UInt32),
            Field::new("value".into(), DataType::Float64),
            Field::new("count".into(), DataType::UInt64),
        ]),
    ))
}

/// The distinct values of an integer column with their rows, ascending, counted in a
/// table indexed by the value less the least when the range is narrow; `None` when
/// it is not.
#[inline(always)]
fn narrow_integer_counts(s: &Series) -> PolarsResult<Option<Vec<(f64, u64)>>> {
    if s.dtype() == &DataType::UInt64 {
        return Ok(None);
    }
    let wide = s.cast(&DataType::Int64)?;
    let ca = wide.i64()?;
    let range = if ca.null_count() == 0 {
        let ranges = ca.downcast_iter().filter_map(|a| range_of(a.values()));
        ranges.reduce(|(lo, hi), (l, h)| (lo.min(l), hi.max(h)))
    } else {
        ca.min().zip(ca.max())
    };
    let Some((lo, hi)) = range else {
        return Ok(Some(Vec::new()));
    };
    let span = hi as i128 - lo as i128 + 1;
    // (Counters of 32 bits, which hold the rows of any but a giant column.)
    if span > (2 * ca.len() + 65_536) as i128 || ca.len() > u32::MAX as usize {
        return Ok(None);
    }
    let span = span as usize;
    // A small table in interleaved copies, so that runs of one value do not wait on
    // their own counter.
    let copies = if span <= SMALL_CELLS { COPIES } else { 1 };
    let mut table = vec![0u32; copies * span];
    for arr in ca.downcast_iter() {
        match arr.validity().filter(|v| v.unset_bits() > 0) {
            None if copies == COPIES => tally::<COPIES>(&mut table, arr.values(), lo, span),
            None => tally::<1>(&mut table, arr.values(), lo, span),
            Some(_) => {
                for &v in arr.iter().flatten() {
                    table[(v - lo) as usize] += 1;
                }
            }
        }
    }
    let (table, others) = table.split_at_mut(span);
    for other in others.chunks_exact(span) {
        for (t, &o) in table.iter_mut().zip(other) {
            *t += o;
        }
    }
    // Past 2^53 neighbouring integers can share a float: their rows are added.
    let mut run: Vec<(f64, u64)> = Vec::new();
    for (i, &n) in table.iter().enumerate().filter(|(_, &n)| n > 0) {
        let (v, n) = ((lo + i as i64) as f64, u64::from(n));
        match run.last_mut() {
            Some((last, m)) if *last == v => *m += n,
            _ => run.push((v, n)),
        }
    }
    Ok(Some(run))
}

/// Counts each value `v` of `values` at `table[v − lo]`, row `i` in copy `i mod C` of
/// the `C` tables of `span` counters one after another.
#[inline(always)]
fn tally<const C: usize>(table: &mut [u32], values: &[i64], lo: i64, span: usize) {
    let mut chunks = values.chunks_exact(C);
    for c in &mut chunks {
        for (k, &v) in c.iter().enumerate() {
            table[k * span + (v - lo) as usize] += 1;
        }
    }
    for &v in chunks.remainder() {
        table[(v - lo) as usize] += 1;
    }
}

/// Every distinct non-null value of each input (NaN dropped, −0 counted as 0) with its
/// rows, as Float64 and ascending: a sort of each column's values on every core.
pub fn distinct_values(inputs: &[Series], options: &ValuesOptions) -> PolarsResult<Series> {
    let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
    let out = distinct_values_field(&fields)?;
    let scale = options.decimals.map(|d| 10f64.powi(d));
    let pieces: Vec<&Series> = inputs.iter().collect();
    let runs: Vec<PolarsResult<Vec<(f64, u64)>>> = par_tasks(
        pieces,
        #[inline(always)]
        |_, s| {
            if s.dtype().is_integer() {
                if let Some(run) = narrow_integer_counts(s)? {
                    return Ok(run);
                }
            }
            let rounded = s.dtype().is_float();
            let f = s.cast(&DataType::Float64)?;
            let mut values: Vec<f64> = Vec::with_capacity(f.len() - f.null_count());
            for arr in f.f64()?.downcast_iter() {
                values.extend(arr.iter().flatten().filter(|v| !v.is_nan()).map(|&v| {
                    let v = match scale {
                        Some(k) if rounded => (v * k).round_ties_even() / k,
                        _ => v,
                    };
                    v + 0.0
                }));
            }
            values.sort_unstable_by(f64::total_cmp);
            let mut run: Vec<(f64, u64)> = Vec::new();
            for v in values {
                match run.last_mut() {
                    Some((last, n)) if *last == v => *n += 1,
                    _ => run.push((v, 1)),
                }
            }
            Ok(run)
        },
    );
    let (mut group, mut value, mut count) = (vec![], vec![], vec![]);
    for (g, run) in runs.into_iter().enumerate() {
        for (v, n) in run? {
            group.push(g as u32);
            value.push(v);
            count.push(n);
        }
    }
    let len = group.len();
    let fields = [
        Series::new("group".into(), group),
        Series::new("value".into(), value),
        Series::new("count".into(), count),
    ];
    Ok(StructChunked::from_series(out.name().clone(), len, fields.iter())?.into_series())
}

/// The output of [`ks_gaps`]: per group, `group`, the real and synthetic rows `n_r`
/// and `n_s`, and `gap`, the largest `|c_r · n_s − c_s · n_r|` over the values.
pub fn ks_gaps_field(fields: &[Field]) -> PolarsResult<Field> {
    let want = [
        DataType::UInt32,
        DataType::Float64,
        DataType::UInt64,
        DataType::UInt8,
    ];
    polars_ensure!(
        fields.len() == 4 && fields.iter().zip(&want).all(|(f, d)| f.dtype() == d),
        InvalidOperation: "ks_gaps expects group (u32), value (f64), count (u64) and side (u8) \
        columns, got [{}]",
        fields.iter().map(|f| f.dtype().to_string()).collect::<Vec<_>>().join(", ")
    );
    Ok(Field::new(
        fields[0].name().clone(),
        DataType::Struct(vec![
            Field::new("group".into(), DataType::UInt32),
            Field::new("n_r".into(), DataType::Float64),
            Field::new("n_s".into(), DataType::Float64),
            Field::new("gap".into(), DataType::Float64),
        ]),
    ))
}

/// One side's runs of [`distinct_values`]: `(group, value, count)`, ascending.
type Runs = Vec<(u32, f64, u64)>;

/// The two-sample Kolmogorov-Smirnov gaps of each group, from both tables'
/// [`distinct_values`] one after the other (`side` 0 the real, 1 the synthetic one):
/// the two sorted lists of each group walked together, the running counts `c_r` and
/// `c_s` compared after each distinct value, in whole numbers.
pub fn ks_gaps(inputs: &[Series]) -> PolarsResult<Series> {
    let fields: Vec<Field> = inputs.iter().map(|s| s.field().into_owned()).collect();
    let out = ks_gaps_field(&fields)?;
    let (group, value) = (inputs[0].u32()?, inputs[1].f64()?);
    let (count, side) = (inputs[2].u64()?, inputs[3].u8()?);
    polars_ensure!(
        [group.null_count(), value.null_count(), count.null_count(), side.null_count()]
            == [0; 4],
        InvalidOperation: "ks_gaps expects no nulls"
    );
    let mut sides: [Runs; 2] = [Vec::new(), Vec::new()];
    for (((g, v), n), s) in group
        .into_no_null_iter()
        .zip(value.into_no_null_iter())
        .zip(count.into_no_null_iter())
        .zip(side.into_no_null_iter())
    {
        polars_ensure!(s < 2, InvalidOperation: "ks_gaps expects side 0 or 1, got {s}");
        sides[usize::from(s)].push((g, v, n));
    }
    for runs in &sides {
        polars_ensure!(
            runs.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
            InvalidOperation: "ks_gaps expects each side's values ascending within each group"
        );
    }
    let [real, synthetic] = &sides;
    let groups = real
        .iter()
        .chain(synthetic)
        .map(|r| r.0 as usize + 1)
        .max()
        .unwrap_or(0);
    let total = |runs: &Runs| {
        let mut t = vec![0u64; groups];
        for &(g, _, n) in runs {
            t[g as usize] += n;
        }
        t
    };
    let (n_r, n_s) = (total(real), total(synthetic));
    let mut gap = vec![0u128; groups];
    let (mut i, mut j) = (0, 0);
    let (mut c_r, mut c_s, mut at) = (0u64, 0u64, u32::MAX);
    while i < real.len() || j < synthetic.len() {
        // The next (group, value) of either list, and every row of it on both sides.
        let next = match (real.get(i), synthetic.get(j)) {
            (Some(a), Some(b)) if (b.0, b.1) < (a.0, a.1) => (b.0, b.1),
            (Some(a), _) => (a.0, a.1),
            (None, Some(b)) => (b.0, b.1),
            (None, None) => break,
        };
        if next.0 != at {
            (at, c_r, c_s) = (next.0, 0, 0);
        }
        if real.get(i).is_some_and(|a| (a.0, a.1) == next) {
            c_r += real[i].2;
            i += 1;
        }
        if synthetic.get(j).is_some_and(|b| (b.0, b.1) == next) {
            c_s += synthetic[j].2;
            j += 1;
        }
        let g = at as usize;
        let d =
            (u128::from(c_r) * u128::from(n_s[g])).abs_diff(u128::from(c_s) * u128::from(n_r[g]));
        gap[g] = gap[g].max(d);
    }
    let present: Vec<usize> = (0..groups).filter(|&g| n_r[g] + n_s[g] > 0).collect();
    let fields = [
        Series::new(
            "group".into(),
            present.iter().map(|&g| g as u32).collect::<Vec<_>>(),
        ),
        Series::new(
            "n_r".into(),
            present.iter().map(|&g| n_r[g] as f64).collect::<Vec<_>>(),
        ),
        Series::new(
            "n_s".into(),
            present.iter().map(|&g| n_s[g] as f64).collect::<Vec<_>>(),
        ),
        Series::new(
            "gap".into(),
            present.iter().map(|&g| gap[g] as f64).collect::<Vec<_>>(),
        ),
    ];
    Ok(StructChunked::from_series(out.name().clone(), present.len(), fields.iter())?.into_series())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both samples' distinct values as `ks_gaps` reads them, and its answer.
    fn gaps(real: &[Vec<f64>], synthetic: &[Vec<f64>]) -> Vec<(u32, f64, f64, f64)> {
        let side = |samples: &[Vec<f64>], tag: u8| {
            let inputs: Vec<Series> = samples
                .iter()
                .enumerate()
                .map(|(i, v)| Series::new(format!("{i}").into(), v))
                .collect();
            let options = ValuesOptions { decimals: None };
            let out = distinct_values(&inputs, &options).unwrap();
            let mut df = out.struct_().unwrap().clone().unnest();
            let n = df.height();
            df.with_column(Column::new("side".into(), vec![tag; n]))
                .unwrap();
            df
        };
        let both = side(real, 0).vstack(&side(synthetic, 1)).unwrap();
        let out = ks_gaps(&both.materialized_column_iter().cloned().collect::<Vec<_>>()).unwrap();
        let out = out.struct_().unwrap().clone().unnest();
        let col = |name: &str| out.column(name).unwrap().as_materialized_series().clone();
        let (g, n_r, n_s, gap) = (col("group"), col("n_r"), col("n_s"), col("gap"));
        (0..out.height())
            .map(|i| {
                let f = |s: &Series| s.f64().unwrap().get(i).unwrap();
                (g.u32().unwrap().get(i).unwrap(), f(&n_r), f(&n_s), f(&gap))
            })
            .collect()
    }

    /// The statistic by its definition: at every value of either sample, the gap of the
    /// counts at most that value, scaled by the other sample's size.
    fn brute_gap(r: &[f64], s: &[f64]) -> f64 {
        let at_most = |v: &[f64], t: f64| v.iter().filter(|&&x| x <= t).count() as f64;
        let (n_r, n_s) = (r.len() as f64, s.len() as f64);
        r.iter()
            .chain(s)
            .map(|&t| (at_most(r, t) * n_s - at_most(s, t) * n_r).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn ks_gaps_agree_with_the_definition() {
        let mut state = 7u64;
        let mut draw = |k: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 33) % k) as f64
        };
        let real: Vec<Vec<f64>> = vec![
            (0..300).map(|_| draw(40)).collect(),
            (0..5).map(|_| draw(3)).collect(),
            vec![],
        ];
        let synthetic: Vec<Vec<f64>> = vec![
            (0..211).map(|_| draw(50) - 5.0).collect(),
            vec![],
            (0..4).map(|_| draw(9)).collect(),
        ];
        let got = gaps(&real, &synthetic);
        assert_eq!(got.len(), 3);
        for (g, n_r, n_s, gap) in got {
            let (r, s) = (&real[g as usize], &synthetic[g as usize]);
            assert_eq!((n_r, n_s), (r.len() as f64, s.len() as f64));
            assert_eq!(gap, brute_gap(r, s), "group {g}");
        }
    }

    #[test]
    fn ks_gaps_refuse_unsorted_values() {
        let inputs = [
            Series::new("group".into(), [0u32, 0]),
            Series::new("value".into(), [2.0, 1.0]),
            Series::new("count".into(), [1u64, 1]),
            Series::new("side".into(), [0u8, 0]),
        ];
        let err = ks_gaps(&inputs).unwrap_err().to_string();
        assert!(err.contains("ascending"), "{err}");
        let err = ks_gaps(&inputs[..3]).unwrap_err().to_string();
        assert!(err.contains("side (u8)"), "{err}");
    }

    fn table(s: &Series) -> Vec<(Option<String>, Option<String>, u64)> {
        let st = s.struct_().unwrap();
        let f = st.fields_as_series();
        let first: Vec<Option<String>> = f[1]
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(String::from))
            .collect();
        let second: Vec<Option<String>> = f[2]
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(String::from))
            .collect();
        let count: Vec<u64> = f[3].u64().unwrap().into_no_null_iter().collect();
        let mut rows: Vec<_> = (0..count.len())
            .map(|i| (first[i].clone(), second[i].clone(), count[i]))
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn counts_values_and_pairs_against_a_naive_count() {
        let a = Series::new("a".into(), [Some("x"), None, Some("y"), Some("x"), None]);
        let b = Series::new("b".into(), [Some(1i64), Some(2), Some(1), Some(1), Some(2)]);
        let options = CountOptions {
            groups: vec![vec![0], vec![0, 1]],
            binned: vec![],
        };
        let out = counts(&[a.clone(), b.clone()], &options).unwrap();
        let s = |v: &str| Some(v.to_string());
        let all = table(&out);
        assert_eq!(
            all,
            vec![
                (None, None, 2),
                (None, s("2"), 2),
                (s("x"), None, 2),
                (s("x"), s("1"), 2),
                (s("y"), None, 1),
                (s("y"), s("1"), 1),
            ]
        );
    }

    #[test]
    fn large_tables_are_counted_by_sorting() {
        // 300 × 300 cells is past the dense limit; each row is its own cell but two.
        let n = 300i64;
        let a: Vec<i64> = (0..n).chain([0, 1]).collect();
        let b: Vec<i64> = (0..n).rev().chain([n - 1, n - 2]).collect();
        let out = counts(
            &[Series::new("a".into(), a), Series::new("b".into(), b)],
            &CountOptions {
                groups: vec![vec![0, 1]],
                binned: vec![],
            },
        )
        .unwrap();
        let rows = table(&out);
        assert_eq!(rows.len(), n as usize);
        assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), n as u64 + 2);
        let twice: Vec<_> = rows.iter().filter(|r| r.2 == 2).collect();
        assert_eq!(twice.len(), 2);
    }

    #[test]
    fn floats_count_nan_as_null_and_negative_zero_as_zero() {
        let f = Series::new("f".into(), [Some(0.0f64), Some(-0.0), Some(f64::NAN), None]);
        let options = CountOptions {
            groups: vec![vec![0]],
            binned: vec![],
        };
        let out = counts(&[f], &options).unwrap();
        let rows = table(&out);
        assert_eq!(rows, vec![(None, None, 2), (Some("0.0".into()), None, 2)]);
    }

    #[test]
    fn bins_follow_numpy_digitize_of_histogram_edges() {
        // Edges of [0, 10] in 10 bins: 0, 1, ..., 10. The largest value and a null
        // fall past the last edge (bin 11), as np.digitize numbers them.
        assert_eq!(
            histogram_edges([0.0, 10.0, f64::INFINITY].into_iter(), 10),
            (0..=10).map(f64::from).collect::<Vec<_>>()
        );
        assert_eq!(histogram_edges([3.0].into_iter(), 2), vec![2.5, 3.0, 3.5]);
        let x = Series::new(
            "x".into(),
            [Some(0.0), Some(0.5), Some(10.0), None, Some(f64::NAN)],
        );
        let options = CountOptions {
            groups: vec![vec![0]],
            binned: vec![Binning {
                input: 0,
                edges: None,
                bins: 10,
                open: false,
            }],
        };
        let rows = table(&counts(&[x], &options).unwrap());
        let bin = |b: &str, n| (Some(b.to_string()), None, n);
        assert_eq!(rows, vec![bin("1", 2), bin("11", 3)]);
    }

    /// Every way a table is counted (interleaved copies, one copy, sorting) against a
    /// count of the rows by a map, over several blocks of rows and a string column of
    /// several chunks.
    #[test]
    fn every_table_size_matches_a_map_count() {
        use std::collections::BTreeMap;
        let n = 3 * ROWS_PER_BLOCK + 77;
        let mut x = 12345u64;
        let mut next = |k: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % k
        };
        for (ka, kb) in [(2u64, 2u64), (40, 40), (400, 300)] {
            let a: Vec<i64> = (0..n).map(|_| next(ka) as i64).collect();
            let b: Vec<String> = (0..n).map(|_| format!("label {}", next(kb))).collect();
            let half = n / 2;
            let mut bs = Series::new("b".into(), &b[..half]);
            bs.append(&Series::new("b".into(), &b[half..])).unwrap();
            assert!(bs.n_chunks() > 1);
            let options = CountOptions {
                groups: vec![vec![0, 1]],
                binned: vec![],
            };
            let out = counts(&[Series::new("a".into(), a.clone()), bs], &options).unwrap();
            let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
            for (x, y) in a.iter().zip(&b) {
                *expected.entry((x.to_string(), y.clone())).or_default() += 1;
            }
            let got: BTreeMap<(String, String), u64> = table(&out)
                .into_iter()
                .map(|(f, s, c)| ((f.unwrap(), s.unwrap()), c))
                .collect();
            assert_eq!(got, expected, "{ka} x {kb}");
        }
    }

    #[test]
    fn distinct_values_are_sorted_and_rounded_as_numpy_rounds() {
        let x = Series::new(
            "x".into(),
            [
                Some(0.1 + 0.2),
                Some(0.3),
                None,
                Some(f64::NAN),
                Some(-0.0),
                Some(0.0),
                Some(2.5),
            ],
        );
        let i = Series::new("i".into(), [3i64, 1, 3]);
        let options = ValuesOptions { decimals: Some(14) };
        let out = distinct_values(&[x, i], &options).unwrap();
        let f = out.struct_().unwrap().fields_as_series();
        let rows: Vec<(u32, f64, u64)> = (0..out.len())
            .map(|k| {
                (
                    f[0].u32().unwrap().get(k).unwrap(),
                    f[1].f64().unwrap().get(k).unwrap(),
                    f[2].u64().unwrap().get(k).unwrap(),
                )
            })
            .collect();
        // 0.1 + 0.2 rounds to 0.3 at 14 decimals; -0 is 0.
        assert_eq!(
            rows,
            vec![
                (0, 0.0, 2),
                (0, 0.3, 2),
                (0, 2.5, 1),
                (1, 1.0, 1),
                (1, 3.0, 2)
            ]
        );
    }

    #[test]
    fn integer_values_past_two_to_the_53_merge_as_floats_do() {
        let big = 1i64 << 60;
        let i = Series::new("i".into(), [big, big + 1, big + 2, 5]);
        let wide = Series::new("w".into(), [i64::MIN, 0, i64::MAX]);
        let out = distinct_values(&[i, wide], &ValuesOptions { decimals: None }).unwrap();
        let f = out.struct_().unwrap().fields_as_series();
        let counts: Vec<u64> = f[2].u64().unwrap().into_no_null_iter().collect();
        let values: Vec<f64> = f[1].f64().unwrap().into_no_null_iter().collect();
        // The narrow table (first column) and the sort (second) agree with f64's view.
        assert_eq!(
            values,
            vec![5.0, big as f64, i64::MIN as f64, 0.0, i64::MAX as f64]
        );
        assert_eq!(counts, vec![1, 3, 1, 1, 1]);
    }

    /// Many columns, every pair and every single: the clustered count (pairs within a
    /// cluster, across two, and too wide to cluster) against a map count of each.
    #[test]
    fn clustered_pairs_match_a_map_count() {
        use std::collections::BTreeMap;
        let n = 2 * ROWS_PER_BLOCK + 5;
        let ks = [2u64, 3, 5, 7, 16, 42, 200, 2];
        let mut x = 99u64;
        let mut next = |k: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % k
        };
        let data: Vec<Vec<i64>> = ks
            .iter()
            .map(|&k| (0..n).map(|_| next(k) as i64).collect())
            .collect();
        let inputs: Vec<Series> = data
            .iter()
            .enumerate()
            .map(|(i, d)| Series::new(format!("c{i}").into(), d.clone()))
            .collect();
        let mut groups: Vec<Vec<usize>> = (0..ks.len()).map(|i| vec![i]).collect();
        for i in 0..ks.len() {
            for j in 0..ks.len() {
                if i != j {
                    groups.push(vec![i, j]);
                }
            }
        }
        let options = CountOptions {
            groups: groups.clone(),
            binned: vec![],
        };
        let out = counts(&inputs, &options).unwrap();
        let st = out.struct_().unwrap();
        let f = st.fields_as_series();
        let mut got: BTreeMap<(u32, String, Option<String>), u64> = BTreeMap::new();
        for r in 0..out.len() {
            let key = (
                f[0].u32().unwrap().get(r).unwrap(),
                f[1].str().unwrap().get(r).unwrap().to_string(),
                f[2].str().unwrap().get(r).map(String::from),
            );
            got.insert(key, f[3].u64().unwrap().get(r).unwrap());
        }
        let mut expected: BTreeMap<(u32, String, Option<String>), u64> = BTreeMap::new();
        for (g, members) in groups.iter().enumerate() {
            for (row, x) in data[members[0]].iter().enumerate() {
                let b = members.get(1).map(|&j| data[j][row].to_string());
                *expected.entry((g as u32, x.to_string(), b)).or_default() += 1;
            }
        }
        assert_eq!(got, expected);
    }

    /// The bin found from a guess by division is the count of edges at most the value,
    /// for values on the edges, between them, beyond them and infinite.
    #[test]
    fn even_bins_agree_with_counting_the_edges() {
        // A range and its edges; then values on every edge and a step either side of
        // the inner ones, which leave the range as it is.
        let mut column: Vec<f64> = (0..1000).map(|i| -1.0 + f64::from(i) * 0.0093).collect();
        column.extend([f64::INFINITY, f64::NEG_INFINITY]);
        let edges = histogram_edges(column.iter().copied(), 10);
        column.extend(edges.iter().copied());
        for &e in &edges[1..10] {
            column.extend([e.next_down(), e.next_up()]);
        }
        let s = Series::new("x".into(), column.clone());
        let dense = binned(
            &s,
            &Binning {
                input: 0,
                edges: None,
                bins: 10,
                open: false,
            },
        )
        .unwrap();
        for (row, &x) in column.iter().enumerate() {
            let want = edges.iter().filter(|&&e| e <= x).count();
            let got = dense.labels[dense.codes[row] as usize].clone().unwrap();
            assert_eq!(got, want.to_string(), "{x}");
        }
    }

    /// Integer columns, binned through a table of their range or value by value, and
    /// edges given unevenly (where the guess by division is far off), open or not:
    /// each value's bin is the count of edges at most it.
    #[test]
    fn every_binning_path_agrees_with_counting_the_edges() {
        let check = |s: &Series, edges: Option<Vec<f64>>, open: bool| {
            let binning = Binning {
                input: 0,
                edges: edges.clone(),
                bins: 7,
                open,
            };
            let all = match (edges, open) {
                (Some(e), true) => [vec![f64::NEG_INFINITY], e, vec![f64::INFINITY]].concat(),
                (Some(e), false) => e,
                (None, _) => {
                    let f = s.cast(&DataType::Float64).unwrap();
                    histogram_edges(f.f64().unwrap().into_no_null_iter(), 7)
                }
            };
            let dense = binned(s, &binning).unwrap();
            let f = s.cast(&DataType::Float64).unwrap();
            for (row, x) in f.f64().unwrap().iter().enumerate() {
                let want = match x {
                    Some(x) => all.iter().filter(|&&e| e <= x).count(),
                    None => all.len(),
                };
                let got = dense.labels[dense.codes[row] as usize].clone().unwrap();
                assert_eq!(got, want.to_string(), "{x:?} against {all:?}");
            }
        };
        // A narrow range (a table of 301 integers), and the same past 2^53 apart.
        let narrow: Vec<i64> = (0..3000).map(|i| (i * 37) % 301 - 100).collect();
        let wide: Vec<i64> = narrow.iter().map(|v| v * (1 << 40)).collect();
        let uneven = vec![-100.0, -99.5, -3.0, 0.0, 0.0, 1.0, 150.0, 199.0];
        for values in [&narrow, &wide] {
            let s = Series::new("x".into(), values);
            check(&s, None, false);
            check(&s, Some(uneven.clone()), false);
            check(&s, Some(uneven.clone()), true);
        }
        // Nulls, which take the path value by value.
        let with_null: Vec<Option<i64>> =
            narrow.iter().map(|&v| (v % 7 != 0).then_some(v)).collect();
        check(&Series::new("x".into(), with_null), Some(uneven), true);
    }
}
