//! A codec's operations on a frame, planned once: for every output column, its input
//! columns, the expression's options and the cast after ([`Step`]). [`Codec::encode`]
//! and [`Codec::decode`] run a plan on a `DataFrame` here; the Python package turns the
//! same plan into lazy expressions.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Activation, Codec, Entry, SourceDtype};
use crate::blocks::Layout;
use crate::decode::{self, DecodeOptions, MatrixDecodeOptions, Method};
use crate::dispatch::IndicatorDtype;
use crate::gumbel::{self, GumbelOptions, SpanNoise, SpansOptions};
use crate::numeric::{self, DenormalizeOptions, NormalizeOptions, TableOptions};
use crate::onehot::{self, MatrixBlock, MatrixOptions, OneHotOptions};

/// A column of a frame as a plan sees it: its name, its field names when it is a
/// Struct, its width when it is an Array, and its dtype as Polars shows it (for
/// messages).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FrameColumn {
    pub name: String,
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub width: Option<usize>,
    #[serde(default)]
    pub dtype: Option<String>,
}

impl FrameColumn {
    pub fn of(column: &Column) -> Self {
        let fields = match column.dtype() {
            DataType::Struct(fields) => Some(fields.iter().map(|f| f.name().to_string()).collect()),
            _ => None,
        };
        let width = match column.dtype() {
            DataType::Array(_, width) => Some(*width),
            _ => None,
        };
        Self {
            name: column.name().to_string(),
            fields,
            width,
            dtype: Some(column.dtype().to_string()),
        }
    }
}

/// The name of the matrix column (`Layout::Matrix`) unless another is given.
pub const MATRIX: &str = "features";

/// How `encode` chooses a numeric column's mode: a Gumbel-max draw from the value's
/// posterior (CTGAN's choice; the default), keyed by the `key` column or the row's
/// position and seeded by `seed` (fresh entropy when `None`), or the posterior's argmax.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    pub method: Method,
    pub seed: Option<u64>,
    pub key: Option<String>,
}

impl Default for Draw {
    fn default() -> Self {
        Self {
            method: Method::Sample,
            seed: None,
            key: None,
        }
    }
}

/// Where a decoded column's scores come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scores {
    /// The variable's own block column, as it is (an Array or a List).
    Column(String),
    /// The fields of the variable's Struct column, by name, in the codec's order.
    Fields(String, Vec<String>),
    /// The flat feature columns, gathered into one Struct.
    Columns(Vec<String>),
}

/// One output column of a codec's operation on a frame; a plan lists them in output
/// order.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A column the codec does not own, passed through.
    Pass(String),
    /// `normalize(column, key, **options)`: a numeric column's features, unnested in
    /// place when `unnest`.
    Normalize {
        column: String,
        options: NormalizeOptions,
        unnest: bool,
    },
    /// `denormalize(scores, key, **options)` named `column`: a numeric column back from
    /// its features.
    Denormalize {
        column: String,
        scores: Scores,
        options: DenormalizeOptions,
    },
    /// The activation of one scalar feature column of a generator's output, in place
    /// (`tanh`, `sigmoid`; a `linear` one passes through).
    Activate {
        column: String,
        activation: Activation,
    },
    /// `one_hot(column, **options)`, its fields unnested in place when `unnest`.
    Encode {
        column: String,
        options: OneHotOptions,
        unnest: bool,
    },
    /// `decode(scores, key, **options)` named `column`, cast to Categorical after when
    /// `categorical`.
    Decode {
        column: String,
        scores: Scores,
        options: DecodeOptions,
        categorical: bool,
    },
    /// `gumbel_softmax(struct(columns), key, **options)` of the codec column `column`,
    /// its fields unnested in place.
    Relax {
        column: String,
        columns: Vec<String>,
        options: GumbelOptions,
    },
    /// `one_hot_matrix(*inputs, **options)` named `column`: every codec column's block
    /// side by side in one Array row.
    EncodeMatrix {
        column: String,
        inputs: Vec<String>,
        options: MatrixOptions,
    },
    /// The output columns in this order, after every other step: the order of the
    /// table the codec was fitted on, which a matrix does not keep.
    Order(Vec<String>),
    /// `decode_matrix(column, key, **options)`: every codec column decoded from its span
    /// of the matrix column, into a Struct of them unnested in place; the columns named
    /// in `categorical` cast to Categorical after.
    DecodeMatrix {
        column: String,
        options: TableOptions,
        categorical: Vec<String>,
    },
    /// `gumbel_softmax_spans(column, key, **options)`: every block of the matrix column
    /// relaxed in place.
    RelaxMatrix {
        column: String,
        options: SpansOptions,
    },
}

/// A plan that puts `step` in the place of the first of `columns` that `replaced`
/// names, drops the others it names, and passes every other column through.
fn in_place_of(columns: &[FrameColumn], replaced: impl Fn(&str) -> bool, step: Step) -> Vec<Step> {
    let mut step = Some(step);
    columns
        .iter()
        .filter_map(|f| {
            if replaced(&f.name) {
                step.take()
            } else {
                Some(Step::Pass(f.name.clone()))
            }
        })
        .collect()
}

/// The names of a frame's columns, for lookups in constant time: plans over 100,000
/// feature columns stay linear.
fn names(columns: &[FrameColumn]) -> PlHashSet<&str> {
    columns.iter().map(|c| c.name.as_str()).collect()
}

impl Codec {
    /// Errors unless `key` names a column of `columns` that is none of the codec's
    /// blocks or feature columns.
    fn check_key(
        &self,
        operation: &str,
        key: Option<&str>,
        columns: &[FrameColumn],
    ) -> PolarsResult<()> {
        let Some(key) = key else { return Ok(()) };
        polars_ensure!(
            columns.iter().any(|c| c.name == key),
            InvalidOperation: "Codec.{}: no key column '{}' in the data", operation, key
        );
        let owned = self.column(key).is_some() || self.feature_owners().contains_key(key);
        polars_ensure!(
            !owned,
            InvalidOperation: "Codec.{}: the key '{}' is one of the codec's blocks; name a column \
            that identifies the rows", operation, key
        );
        Ok(())
    }

    /// The matrix column a plan reads: `matrix` when given; otherwise [`MATRIX`] when
    /// the frame has such a column and none of the codec's own columns or feature
    /// columns. A matrix column must be an Array of one score per feature, and the
    /// only source of the codec's blocks.
    fn matrix_source<'c>(
        &self,
        operation: &str,
        columns: &'c [FrameColumn],
        matrix: Option<&str>,
    ) -> PolarsResult<Option<&'c FrameColumn>> {
        let owner = self.feature_owners();
        let source = columns
            .iter()
            .find(|c| self.column(&c.name).is_some() || owner.contains_key(&c.name));
        let name = match matrix {
            Some(name) => name,
            None if source.is_none() => MATRIX,
            None => return Ok(None),
        };
        let Some(found) = columns.iter().find(|c| c.name == name) else {
            if matrix.is_none() {
                return Ok(None);
            }
            polars_bail!(InvalidOperation: "Codec.{}: no matrix column '{}' in the data", operation, name);
        };
        let width = self.feature_count();
        let shown = found.dtype.as_deref().unwrap_or("not an Array");
        match found.width {
            Some(w) if w == width => {}
            Some(w) => polars_bail!(
                InvalidOperation: "Codec.{}: the matrix column '{}' has {} scores per row, but \
                the codec has {} features", operation, name, w, width
            ),
            None => polars_bail!(
                InvalidOperation: "Codec.{}: the matrix column '{}' is {}; expected an \
                Array of {} scores per row", operation, name, shown, width
            ),
        }
        if let Some(other) = source {
            polars_bail!(
                InvalidOperation: "Codec.{}: the data holds two sources of the codec's blocks: \
                the matrix column '{}' and the column '{}'; drop or rename one",
                operation, name, other.name
            );
        }
        Ok(Some(found))
    }

    /// The output columns of `plan` (a matrix decode's) in the fitted table's order,
    /// when the codec knows that order and every output column is one of the table's;
    /// `None` otherwise, and when the order is already the table's.
    fn table_order(&self, plan: &[Step]) -> Option<Vec<String>> {
        let table = self.table.as_ref()?;
        let at: PlHashMap<&str, usize> = table
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut names: Vec<String> = Vec::new();
        for step in plan {
            match step {
                Step::Pass(name) => names.push(name.clone()),
                Step::DecodeMatrix { options, .. } => names.extend(options.names.iter().cloned()),
                _ => return None,
            }
        }
        let mut places = Vec::with_capacity(names.len());
        for name in &names {
            places.push(*at.get(name.as_str())?);
        }
        if places.windows(2).all(|w| w[0] < w[1]) {
            return None;
        }
        let mut order: Vec<(usize, String)> = places.into_iter().zip(names).collect();
        order.sort_unstable();
        Some(order.into_iter().map(|(_, n)| n).collect())
    }

    /// The number of feature columns: the width of a matrix row.
    pub fn feature_count(&self) -> usize {
        self.columns.iter().map(Entry::width).sum()
    }

    /// Errors when the codec has a numeric column and `dtype` is not a float: a
    /// scalar feature is a number.
    fn check_numeric_dtype(&self, dtype: IndicatorDtype) -> PolarsResult<()> {
        for c in &self.columns {
            if let Entry::Numeric(c) = c {
                numeric::real_dtype(dtype, &c.name)
                    .map_err(|e| e.wrap_msg(|m| format!("Codec.encode: {m}")))?;
            }
        }
        Ok(())
    }

    /// The `normalize` options of a numeric column: its mode drawn by `draw.method`
    /// from the column's own encoding stream of `draw.seed`.
    fn normalize_options(
        &self,
        c: &numeric::NumericColumn,
        layout: Layout,
        dtype: IndicatorDtype,
        draw: &Draw,
    ) -> NormalizeOptions {
        NormalizeOptions {
            column: c.clone(),
            separator: self.separator.clone(),
            layout: if layout == Layout::Array {
                Layout::Array
            } else {
                Layout::Struct
            },
            dtype,
            method: draw.method,
            seed: draw.seed.map(|s| numeric::encode_seed(s, &c.name)),
        }
    }

    /// The plan of [`Codec::encode`]: each codec column one-hot encoded in its place
    /// (unnested into its feature columns when `layout` is flat), the other columns
    /// passed through. With the matrix layout every block goes into one Array column
    /// named `matrix`, in the place of the first codec column of the frame.
    pub fn encode_plan(
        &self,
        columns: &[FrameColumn],
        layout: Layout,
        dtype: IndicatorDtype,
        matrix: &str,
        draw: &Draw,
    ) -> PolarsResult<Vec<Step>> {
        polars_ensure!(
            layout != Layout::List,
            InvalidOperation: "Codec.encode: the layout is flat, struct, array or matrix, got list"
        );
        self.check_numeric_dtype(dtype)?;
        self.check_key("encode", draw.key.as_deref(), columns)?;
        let present = names(columns);
        if let Some(c) = self.columns.iter().find(|c| !present.contains(c.name())) {
            polars_bail!(InvalidOperation: "Codec.encode: the data has no column '{}'", c.name());
        }
        let unnest = layout == Layout::Flat;
        if unnest {
            // A feature column must not meet a column passed through.
            let features: PlHashSet<String> = self.feature_names().into_iter().collect();
            if let Some(clash) = columns.iter().find(|c| features.contains(&c.name)) {
                polars_bail!(
                    InvalidOperation: "Codec.encode: the data's column '{}' has the name of a feature \
                    column of the flat layout; rename it, or use layout='struct' or 'array'",
                    clash.name
                );
            }
        }
        let index = self.column_index();
        if layout == Layout::Matrix {
            return self.encode_matrix_plan(columns, dtype, matrix, draw);
        }
        Ok(columns
            .iter()
            .map(
                |f| match index.get(f.name.as_str()).map(|&i| &self.columns[i]) {
                    None => Step::Pass(f.name.clone()),
                    Some(Entry::Categorical(c)) => Step::Encode {
                        column: c.name.clone(),
                        options: c.one_hot_options(layout, dtype, &self.separator),
                        unnest,
                    },
                    Some(Entry::Numeric(c)) => Step::Normalize {
                        column: c.name.clone(),
                        options: self.normalize_options(c, layout, dtype, draw),
                        unnest,
                    },
                },
            )
            .collect())
    }

    /// The matrix layout's plan: every block in one Array column named `matrix`.
    fn encode_matrix_plan(
        &self,
        columns: &[FrameColumn],
        dtype: IndicatorDtype,
        matrix: &str,
        draw: &Draw,
    ) -> PolarsResult<Vec<Step>> {
        polars_ensure!(
            !matrix.is_empty() && !matrix.contains('\0'),
            InvalidOperation: "Codec.encode: the matrix column's name {:?} is not a column name \
            Polars can carry", matrix
        );
        let index = self.column_index();
        if let Some(clash) = columns
            .iter()
            .find(|c| c.name == matrix && !index.contains_key(c.name.as_str()))
        {
            polars_bail!(
                InvalidOperation: "Codec.encode: the data's column '{}' has the name of the matrix \
                column; name the matrix otherwise (matrix=...)", clash.name
            );
        }
        let options = MatrixOptions {
            blocks: self
                .columns
                .iter()
                .map(|c| match c {
                    Entry::Categorical(c) => MatrixBlock::OneHot(c.one_hot_options(
                        Layout::Struct,
                        dtype,
                        &self.separator,
                    )),
                    Entry::Numeric(c) => {
                        MatrixBlock::Numeric(self.normalize_options(c, Layout::Struct, dtype, draw))
                    }
                })
                .collect(),
            dtype,
        };
        let step = Step::EncodeMatrix {
            column: matrix.into(),
            inputs: self.columns.iter().map(|c| c.name().to_string()).collect(),
            options,
        };
        Ok(in_place_of(columns, |c| index.contains_key(c), step))
    }

    /// The plan of [`Codec::decode`]: each codec column decoded in the place of its
    /// block (its own column, or its first feature column present), the other columns
    /// passed through. `key` names the column that keys the seeded noise. From a
    /// matrix column (`matrix`, or [`MATRIX`] when the frame holds no other block; see
    /// `matrix_source`), every codec column is decoded from its span, in the matrix's
    /// place.
    pub fn decode_plan(
        &self,
        columns: &[FrameColumn],
        method: Method,
        tau: f64,
        seed: Option<u64>,
        key: Option<&str>,
        matrix: Option<&str>,
    ) -> PolarsResult<Vec<Step>> {
        self.check_key("decode", key, columns)?;
        if let Some(m) = self.matrix_source("decode", columns, matrix)? {
            polars_ensure!(
                key != Some(m.name.as_str()),
                InvalidOperation: "Codec.decode: the key '{}' is the matrix column; name a column \
                that identifies the rows", m.name
            );
            let mut labels = MatrixDecodeOptions::default();
            let mut numbers = Vec::new();
            let mut categorical = Vec::new();
            for (c, block) in self.columns.iter().zip(self.blocks()) {
                match c {
                    Entry::Categorical(c) => {
                        let mut options = c.decode_options(method, tau, seed, &self.separator);
                        options.span = Some(block.start..block.stop);
                        labels.names.push(c.name.clone());
                        labels.blocks.push(options);
                        if c.dtype == SourceDtype::Categorical {
                            categorical.push(c.name.clone());
                        }
                    }
                    Entry::Numeric(n) => {
                        let mut options = self.denormalize_options(n, method, tau, seed);
                        options.start = block.start;
                        numbers.push(options);
                    }
                }
            }
            let options = TableOptions {
                names: self.columns.iter().map(|c| c.name().to_string()).collect(),
                labels,
                numbers,
            };
            let step = Step::DecodeMatrix {
                column: m.name.clone(),
                options,
                categorical,
            };
            let mut plan = in_place_of(columns, |c| c == m.name, step);
            if let Some(order) = self.table_order(&plan) {
                plan.push(Step::Order(order));
            }
            return Ok(plan);
        }
        let owner = self.feature_owners();
        let index = self.column_index();
        let present = names(columns);
        // A block comes from one source: the variable's own column or its feature
        // columns, never both (one of the two would otherwise be dropped).
        for c in self.columns.iter().filter(|c| present.contains(c.name())) {
            let features = c.feature_names(&self.separator);
            if let Some(f) = features.iter().find(|f| present.contains(f.as_str())) {
                polars_bail!(
                    InvalidOperation: "Codec.decode: the data holds two sources of column '{}': \
                    the column '{}' itself and its feature column '{}'; drop or rename one",
                    c.name(), c.name(), f
                );
            }
        }
        let mut done = vec![false; self.columns.len()];
        let mut steps = Vec::with_capacity(columns.len());
        for frame_column in columns {
            let name = frame_column.name.as_str();
            let own = index.get(name).copied();
            let Some(i) = own.or_else(|| owner.get(name).copied()) else {
                steps.push(Step::Pass(name.into()));
                continue;
            };
            if std::mem::replace(&mut done[i], true) {
                continue;
            }
            let c = &self.columns[i];
            let name = c.name();
            let features = c.feature_names(&self.separator);
            let scores = match (&frame_column.fields, own.is_some()) {
                (Some(fields), true) => {
                    let fields: PlHashSet<&str> = fields.iter().map(String::as_str).collect();
                    if let Some(f) = features.iter().find(|f| !fields.contains(f.as_str())) {
                        polars_bail!(InvalidOperation: "Codec.decode: the block '{}' has no field '{}'", name, f);
                    }
                    Scores::Fields(name.to_string(), features)
                }
                (None, true) => Scores::Column(name.to_string()),
                (_, false) => {
                    if let Some(f) = features.iter().find(|f| !present.contains(f.as_str())) {
                        polars_bail!(InvalidOperation: "Codec.decode: feature column '{}' of '{}' is missing", f, name);
                    }
                    Scores::Columns(features)
                }
            };
            steps.push(match c {
                Entry::Categorical(c) => Step::Decode {
                    column: c.name.clone(),
                    scores,
                    options: c.decode_options(method, tau, seed, &self.separator),
                    categorical: c.dtype == SourceDtype::Categorical,
                },
                Entry::Numeric(n) => Step::Denormalize {
                    column: n.name.clone(),
                    scores,
                    options: self.denormalize_options(n, method, tau, seed),
                },
            });
        }
        if let Some(i) = done.iter().position(|d| !d) {
            polars_bail!(InvalidOperation: "Codec.decode: no block of column '{}' in the data", self.columns[i].name());
        }
        Ok(steps)
    }

    /// The plan of the per-block Gumbel-Softmax of a flat generator output: each codec
    /// column's feature columns relaxed as one block, in the place of the first, the
    /// other columns passed through. Each block's noise stream is the one
    /// [`Codec::decode_plan`] gives the column for the same seed.
    /// From a matrix column (as [`Codec::decode_plan`] finds one), every block of it is
    /// relaxed in place, each with its column's stream.
    pub fn gumbel_plan(
        &self,
        columns: &[FrameColumn],
        tau: f64,
        hard: bool,
        seed: Option<u64>,
        key: Option<&str>,
        matrix: Option<&str>,
    ) -> PolarsResult<Vec<Step>> {
        self.check_key("gumbel_softmax", key, columns)?;
        if let Some(m) = self.matrix_source("gumbel_softmax", columns, matrix)? {
            polars_ensure!(
                key != Some(m.name.as_str()),
                InvalidOperation: "Codec.gumbel_softmax: the key '{}' is the matrix column; name \
                a column that identifies the rows", m.name
            );
            let spans = self
                .spans()
                .into_iter()
                .map(|span| SpanNoise {
                    start: span.start,
                    stop: span.stop,
                    seed: (span.activation == Activation::Softmax)
                        .then(|| self.column(&span.column).and_then(|c| c.stream(seed)))
                        .flatten(),
                    activation: span.activation,
                })
                .collect();
            let step = Step::RelaxMatrix {
                column: m.name.clone(),
                options: SpansOptions { tau, hard, spans },
            };
            return Ok(in_place_of(columns, |c| c == m.name, step));
        }
        let owner = self.feature_owners();
        let present = names(columns);
        if let Some(f) = self
            .feature_names()
            .iter()
            .find(|f| !present.contains(f.as_str()))
        {
            polars_bail!(InvalidOperation: "Codec.gumbel_softmax: feature column '{}' is missing", f);
        }
        // A softmax span takes the place of its first feature column; the others are
        // in it. A scalar is activated in its own place.
        let features = self.feature_names();
        let mut at_first: PlHashMap<&str, super::Span> = PlHashMap::new();
        for span in self.spans() {
            at_first.insert(features[span.start].as_str(), span);
        }
        let mut steps = Vec::with_capacity(columns.len());
        for frame_column in columns {
            let name = frame_column.name.as_str();
            if !owner.contains_key(name) {
                steps.push(Step::Pass(name.into()));
                continue;
            }
            let Some(span) = at_first.get(name) else {
                continue;
            };
            steps.push(match span.activation {
                Activation::Softmax => Step::Relax {
                    column: span.column.clone(),
                    columns: features[span.start..span.stop].to_vec(),
                    options: GumbelOptions {
                        tau,
                        hard,
                        seed: self.column(&span.column).and_then(|c| c.stream(seed)),
                    },
                },
                Activation::Linear => Step::Pass(name.into()),
                activation => Step::Activate {
                    column: name.into(),
                    activation,
                },
            });
        }
        Ok(steps)
    }

    /// Each codec column's index, by name.
    fn column_index(&self) -> PlHashMap<&str, usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name(), i))
            .collect()
    }

    /// The `denormalize` options of a numeric column: its mode block decoded as a
    /// categorical block is, with the column's decoding stream.
    fn denormalize_options(
        &self,
        c: &numeric::NumericColumn,
        method: Method,
        tau: f64,
        seed: Option<u64>,
    ) -> DenormalizeOptions {
        DenormalizeOptions {
            column: c.clone(),
            method,
            tau,
            seed: seed.map(|s| crate::rng::Noise::derive_seed(s, &c.name)),
            start: 0,
        }
    }

    /// The codec column each feature column belongs to.
    fn feature_owners(&self) -> PlHashMap<String, usize> {
        let mut owner = PlHashMap::new();
        for (i, c) in self.columns.iter().enumerate() {
            for f in c.feature_names(&self.separator) {
                owner.insert(f, i);
            }
        }
        owner
    }

    /// Encodes the codec's columns of `df` in place; other columns pass through. The
    /// matrix layout's column is named [`MATRIX`].
    pub fn encode(
        &self,
        df: &DataFrame,
        layout: Layout,
        dtype: IndicatorDtype,
    ) -> PolarsResult<DataFrame> {
        self.encode_with(df, layout, dtype, &Draw::default())
    }

    /// [`Codec::encode`], each numeric column's mode chosen as `draw` says.
    pub fn encode_with(
        &self,
        df: &DataFrame,
        layout: Layout,
        dtype: IndicatorDtype,
        draw: &Draw,
    ) -> PolarsResult<DataFrame> {
        let (columns, key) = columns_and_key(df, draw.key.as_deref())?;
        let mut out: Vec<Column> = Vec::with_capacity(df.width());
        for step in self.encode_plan(&columns, layout, dtype, MATRIX, draw)? {
            match step {
                Step::EncodeMatrix {
                    column,
                    inputs,
                    options,
                } => {
                    let mut inputs = inputs
                        .iter()
                        .map(|c| Ok(df.column(c)?.as_materialized_series().clone()))
                        .collect::<PolarsResult<Vec<_>>>()?;
                    inputs.extend(key.cloned());
                    let matrix = onehot::one_hot_matrix(&inputs, &options)?;
                    out.push(matrix.with_name(column.as_str().into()).into());
                }
                Step::Normalize {
                    column,
                    options,
                    unnest,
                } => {
                    let s = df.column(&column)?.as_materialized_series();
                    let encoded = numeric::normalize(s, key, &options)?;
                    push_block(&mut out, encoded, unnest)?;
                }
                Step::Encode {
                    column,
                    options,
                    unnest,
                } => {
                    let encoded =
                        onehot::one_hot(df.column(&column)?.as_materialized_series(), &options)?;
                    push_block(&mut out, encoded, unnest)?;
                }
                other => out.push(self.pass(df, other)?),
            }
        }
        DataFrame::new_infer_height(out)
    }

    /// Decodes the blocks of `df` (flat feature columns, one Struct / Array column per
    /// variable, or a matrix column named [`MATRIX`]) back to the original columns,
    /// dtypes and order; `key` names the column that keys the seeded noise (by default
    /// the row's position).
    pub fn decode(
        &self,
        df: &DataFrame,
        method: Method,
        tau: f64,
        seed: Option<u64>,
        key: Option<&str>,
    ) -> PolarsResult<DataFrame> {
        let (columns, key) = columns_and_key(df, key)?;
        let mut out: Vec<Column> = Vec::with_capacity(df.width());
        let key_name = key.map(|k| k.name().as_str());
        for step in self.decode_plan(&columns, method, tau, seed, key_name, None)? {
            if let Step::Order(order) = step {
                let frame = DataFrame::new_infer_height(std::mem::take(&mut out))?;
                out = frame.select(order)?.into_columns();
                continue;
            }
            if let Step::DecodeMatrix {
                column,
                options,
                categorical,
            } = step
            {
                let matrix = df.column(&column)?.as_materialized_series();
                let decoded = numeric::decode_table(matrix, key, &options)?;
                for field in decoded.struct_()?.fields_as_series() {
                    let cast = categorical.iter().any(|c| c == field.name().as_str());
                    out.push(if cast { categorical_of(field)? } else { field }.into());
                }
                continue;
            }
            let (column, scores, decoder) = match step {
                Step::Decode {
                    column,
                    scores,
                    options,
                    categorical,
                } => (column, scores, Decoder::Labels(options, categorical)),
                Step::Denormalize {
                    column,
                    scores,
                    options,
                } => (column, scores, Decoder::Numbers(options)),
                step => {
                    out.push(self.pass(df, step)?);
                    continue;
                }
            };
            let series = |name: &str| df.column(name).map(|c| c.as_materialized_series().clone());
            let scores = match scores {
                Scores::Column(name) => series(&name)?,
                Scores::Fields(name, fields) => {
                    let block = series(&name)?;
                    let ca = block.struct_()?;
                    let fields = fields
                        .iter()
                        .map(|f| ca.field_by_name(f))
                        .collect::<PolarsResult<Vec<_>>>()?;
                    StructChunked::from_series(block.name().clone(), block.len(), fields.iter())?
                        .with_outer_validity(block.rechunk_validity())
                        .into_series()
                }
                Scores::Columns(names) => {
                    let fields = names
                        .iter()
                        .map(|f| series(f))
                        .collect::<PolarsResult<Vec<_>>>()?;
                    StructChunked::from_series(column.as_str().into(), df.height(), fields.iter())?
                        .into_series()
                }
            };
            let decoded = match decoder {
                Decoder::Labels(options, categorical) => {
                    let decoded = decode::decode(&scores, key, &options)?;
                    if categorical {
                        categorical_of(decoded)?
                    } else {
                        decoded
                    }
                }
                Decoder::Numbers(options) => numeric::denormalize(&scores, key, &options)?,
            };
            out.push(decoded.with_name(column.as_str().into()).into());
        }
        DataFrame::new_infer_height(out)
    }

    /// The per-block Gumbel-Softmax of a generator's output in `df` (flat feature
    /// columns, or a matrix column named [`MATRIX`]), in place; other columns pass
    /// through. `key` names the column that keys the seeded noise.
    pub fn gumbel_softmax(
        &self,
        df: &DataFrame,
        tau: f64,
        hard: bool,
        seed: Option<u64>,
        key: Option<&str>,
    ) -> PolarsResult<DataFrame> {
        let (columns, key) = columns_and_key(df, key)?;
        let key_name = key.map(|k| k.name().as_str());
        let mut out: Vec<Column> = Vec::with_capacity(df.width());
        for step in self.gumbel_plan(&columns, tau, hard, seed, key_name, None)? {
            match step {
                Step::Relax {
                    column,
                    columns,
                    options,
                } => {
                    let fields = columns
                        .iter()
                        .map(|f| Ok(df.column(f)?.as_materialized_series().clone()))
                        .collect::<PolarsResult<Vec<_>>>()?;
                    let block = StructChunked::from_series(
                        column.as_str().into(),
                        df.height(),
                        fields.iter(),
                    )?
                    .into_series();
                    let relaxed = gumbel::gumbel_softmax(&block, key, &options)?;
                    out.extend(
                        relaxed
                            .struct_()?
                            .fields_as_series()
                            .into_iter()
                            .map(Column::from),
                    );
                }
                Step::Activate { column, activation } => {
                    let s = df.column(&column)?.as_materialized_series();
                    out.push(gumbel::activate(s, activation)?.into());
                }
                Step::RelaxMatrix { column, options } => {
                    let matrix = df.column(&column)?.as_materialized_series();
                    out.push(gumbel::gumbel_softmax_spans(matrix, key, &options)?.into());
                }
                other => out.push(self.pass(df, other)?),
            }
        }
        // A block stands in the place of its first feature column: back to the input's order.
        let relaxed = DataFrame::new_infer_height(out)?;
        relaxed.select(df.get_column_names().into_iter().cloned())
    }

    /// A passed-through column of `df`.
    fn pass(&self, df: &DataFrame, step: Step) -> PolarsResult<Column> {
        match step {
            Step::Pass(name) => Ok(df.column(&name)?.clone()),
            other => {
                polars_bail!(ComputeError: "a pass-through step was expected, got {:?}", other)
            }
        }
    }
}

/// How a decode step turns its scores into a column.
enum Decoder {
    /// Labels, cast to Categorical after when the flag says so.
    Labels(DecodeOptions, bool),
    Numbers(DenormalizeOptions),
}

/// An encoded block into `out`: its fields unnested in place when `unnest`.
fn push_block(out: &mut Vec<Column>, encoded: Series, unnest: bool) -> PolarsResult<()> {
    if unnest {
        out.extend(
            encoded
                .struct_()?
                .fields_as_series()
                .into_iter()
                .map(Column::from),
        );
    } else {
        out.push(encoded.into());
    }
    Ok(())
}

/// Decoded labels as the global Categorical they were before encoding.
fn categorical_of(decoded: Series) -> PolarsResult<Series> {
    decoded.cast(&DataType::from_categories(
        polars_core::prelude::Categories::global(),
    ))
}

/// The columns of `df` as a plan sees them, and the `key` column named, if any.
fn columns_and_key<'d>(
    df: &'d DataFrame,
    key: Option<&str>,
) -> PolarsResult<(Vec<FrameColumn>, Option<&'d Series>)> {
    let columns = df.columns().iter().map(FrameColumn::of).collect();
    let key = key
        .map(|k| df.column(k).map(|c| c.as_materialized_series()))
        .transpose()?;
    Ok((columns, key))
}
