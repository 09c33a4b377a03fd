//! `Codec`: the categorical columns of a whole table, encoded into one numeric matrix
//! and decoded back to the original columns, dtypes and order.
//!
//! The codec is a versioned JSON document, defined here once and read by the Python
//! and the Rust API alike:
//!
//! ```json
//! {"format": "polars-gumbel-codec", "version": 1,
//!  "columns": [{"name": "sex", "dtype": "string",
//!               "categories": {"string": [" Female", " Male"]},
//!               "null_category": false, "infrequent": null}]}
//! ```
//!
//! A feature column is named `{column}{separator}{label}`; the separator is `_` unless
//! the document names another (`"separator": "."`).
//!
//! A numeric column's entry (version 2) holds its transform's parameters instead of
//! categories ([`NumericColumn`]):
//!
//! ```json
//! {"name": "age", "dtype": "int64", "transform": "mode",
//!  "modes": [{"weight": 0.6, "mean": 31.2, "std": 6.9}, {"weight": 0.4, "mean": 52.0, "std": 8.1}],
//!  "range": [17.0, 90.0], "round": true, "null_indicator": false}
//! ```
//!
//! Version-1 documents, which hold categorical columns only, are read as they are.
//!
//! The codec's operations on a frame are planned once, in `plan.rs` ([`Codec::encode_plan`],
//! [`Codec::decode_plan`], [`Codec::gumbel_plan`]): for every output column, its input
//! columns, the expression's options and the cast after. [`Codec::encode`] and
//! [`Codec::decode`] run a plan on a `DataFrame`; the Python package turns the same plan
//! into lazy expressions.
//!
//! An operation: imports [`crate::onehot`], [`crate::decode`], [`crate::gumbel`],
//! [`crate::blocks`] (the layout) and the leaves.

mod plan;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

pub use self::plan::{Draw, FrameColumn, Scores, Step, MATRIX};

use crate::blocks::Layout;
use crate::decode::{DecodeOptions, LabelDtype, Method};
use crate::dispatch::IndicatorDtype;
pub use crate::gumbel::Activation;
use crate::numeric::NumericColumn;
pub use crate::numeric::NULL_LABEL;
use crate::onehot::{self, Categories, Nulls, OneHotOptions, Unknown};
use crate::rng::Noise;

/// The `format` field of every codec document.
pub const FORMAT: &str = "polars-gumbel-codec";
/// The document version this build writes.
pub const VERSION: u32 = 2;
/// The document versions this build reads: version 1 holds categorical columns only.
pub const READS: [u32; 2] = [1, 2];
/// Label of the field grouping infrequent categories.
pub const OTHER_LABEL: &str = "other";
/// The separator of feature names unless the document names another.
pub const SEPARATOR: &str = "_";

/// The dtype a column had before encoding, restored by decoding.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceDtype {
    String,
    Categorical,
    Enum(Vec<String>),
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    #[serde(rename = "uint8")]
    UInt8,
    #[serde(rename = "uint16")]
    UInt16,
    #[serde(rename = "uint32")]
    UInt32,
    #[serde(rename = "uint64")]
    UInt64,
}

impl SourceDtype {
    /// The dtype decode emits; Categorical is decoded as String and cast after.
    fn label_dtype(&self) -> LabelDtype {
        match self {
            Self::String | Self::Categorical => LabelDtype::String,
            Self::Enum(_) => LabelDtype::Enum,
            Self::Boolean => LabelDtype::Boolean,
            Self::Int8 => LabelDtype::Int8,
            Self::Int16 => LabelDtype::Int16,
            Self::Int32 => LabelDtype::Int32,
            Self::Int64 => LabelDtype::Int64,
            Self::UInt8 => LabelDtype::UInt8,
            Self::UInt16 => LabelDtype::UInt16,
            Self::UInt32 => LabelDtype::UInt32,
            Self::UInt64 => LabelDtype::UInt64,
        }
    }

    /// The dtype's name in the document.
    fn name(&self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Categorical => "categorical",
            Self::Enum(_) => "enum",
            Self::Boolean => "boolean",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::UInt8 => "uint8",
            Self::UInt16 => "uint16",
            Self::UInt32 => "uint32",
            Self::UInt64 => "uint64",
        }
    }

    /// The range of an integer dtype's values, as `i64` (where integer categories are
    /// kept); `None` for the other dtypes.
    fn int_range(&self) -> Option<(i64, i64)> {
        Some(match self {
            Self::Int8 => (i8::MIN.into(), i8::MAX.into()),
            Self::Int16 => (i16::MIN.into(), i16::MAX.into()),
            Self::Int32 => (i32::MIN.into(), i32::MAX.into()),
            Self::Int64 => (i64::MIN, i64::MAX),
            Self::UInt8 => (0, u8::MAX.into()),
            Self::UInt16 => (0, u16::MAX.into()),
            Self::UInt32 => (0, u32::MAX.into()),
            Self::UInt64 => (0, i64::MAX),
            _ => return None,
        })
    }

    /// The source dtype of a Polars dtype, if a codec can hold it.
    pub fn of(dtype: &DataType) -> Option<Self> {
        Some(match dtype {
            DataType::String => Self::String,
            DataType::Categorical(_, _) => Self::Categorical,
            DataType::Enum(fcats, _) => {
                Self::Enum(fcats.categories().values_iter().map(String::from).collect())
            }
            DataType::Boolean => Self::Boolean,
            DataType::Int8 => Self::Int8,
            DataType::Int16 => Self::Int16,
            DataType::Int32 => Self::Int32,
            DataType::Int64 => Self::Int64,
            DataType::UInt8 => Self::UInt8,
            DataType::UInt16 => Self::UInt16,
            DataType::UInt32 => Self::UInt32,
            DataType::UInt64 => Self::UInt64,
            _ => return None,
        })
    }
}

/// One categorical column of a codec.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnCodec {
    pub name: String,
    pub dtype: SourceDtype,
    /// The categories with a field of their own, in field order.
    pub categories: Categories,
    /// Nulls were seen at fit time: a `{name}_null` field follows the categories.
    pub null_category: bool,
    /// Categories grouped into a last `{name}_other` field; unknown values join them.
    pub infrequent: Option<Categories>,
}

/// One column of a codec: categorical, or numeric.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Entry {
    Categorical(ColumnCodec),
    Numeric(NumericColumn),
}

impl From<ColumnCodec> for Entry {
    fn from(c: ColumnCodec) -> Self {
        Self::Categorical(c)
    }
}

impl From<NumericColumn> for Entry {
    fn from(c: NumericColumn) -> Self {
        Self::Numeric(c)
    }
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Self::Categorical(c) => &c.name,
            Self::Numeric(c) => &c.name,
        }
    }

    /// The labels of the column's features, in order.
    pub fn labels(&self, separator: &str) -> Vec<String> {
        match self {
            Self::Categorical(c) => c.labels(),
            Self::Numeric(c) => c.labels(separator),
        }
    }

    /// The flat feature column names of this column.
    pub fn feature_names(&self, separator: &str) -> Vec<String> {
        match self {
            Self::Categorical(c) => c.feature_names(separator),
            Self::Numeric(c) => c.feature_names(separator),
        }
    }

    /// The number of features.
    pub fn width(&self) -> usize {
        match self {
            Self::Categorical(c) => c.labels().len(),
            Self::Numeric(c) => c.width(),
        }
    }

    fn validate(&self, separator: &str) -> PolarsResult<()> {
        match self {
            Self::Categorical(c) => c.validate(separator),
            Self::Numeric(c) => c.validate(),
        }
    }

    /// The seed of the column's decoding stream under the user's `seed`.
    pub fn stream(&self, seed: Option<u64>) -> Option<u64> {
        seed.map(|s| Noise::derive_seed(s, self.name()))
    }
}

/// One variable's span of the flat feature columns, with its features' labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub column: String,
    pub start: usize,
    pub stop: usize,
    pub labels: Vec<String>,
}

/// One span of the flat feature columns and its activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub column: String,
    pub start: usize,
    pub stop: usize,
    pub activation: Activation,
}

/// A fitted codec: see the module documentation for its JSON form.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Codec {
    pub format: String,
    pub version: u32,
    /// Between a column's name and a label in a feature name.
    #[serde(
        default = "default_separator",
        skip_serializing_if = "is_default_separator"
    )]
    pub separator: String,
    pub columns: Vec<Entry>,
    /// Every column of the table the codec was fitted on, in order (the codec's and the
    /// others): the order a matrix decodes back to (see [`Codec::decode_plan`]).
    /// Documents without it decode a matrix in the matrix's place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Vec<String>>,
}

fn default_separator() -> String {
    SEPARATOR.into()
}

fn is_default_separator(separator: &String) -> bool {
    separator == SEPARATOR
}

impl ColumnCodec {
    /// The labels of the block's fields, in order.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = self.categories.labels();
        if self.null_category {
            labels.push(NULL_LABEL.into());
        }
        if self.infrequent.is_some() {
            labels.push(OTHER_LABEL.into());
        }
        labels
    }

    /// The `one_hot` options that encode this column.
    pub fn one_hot_options(
        &self,
        layout: Layout,
        dtype: IndicatorDtype,
        separator: &str,
    ) -> OneHotOptions {
        OneHotOptions {
            categories: Some(self.categories.clone()),
            // A flat encoding is a Struct unnested by the frame.
            layout: if layout == Layout::Array {
                Layout::Array
            } else {
                Layout::Struct
            },
            dtype,
            prefix: Some(self.name.clone()),
            separator: separator.into(),
            drop_first: false,
            unknown: if self.infrequent.is_some() {
                Unknown::Other
            } else {
                Unknown::Error
            },
            nulls: if self.null_category {
                Nulls::Category
            } else {
                Nulls::Null
            },
            other_label: OTHER_LABEL.into(),
        }
    }

    /// The `decode` options that give this column back; each column's noise stream is
    /// derived from `seed` and the column's name.
    pub fn decode_options(
        &self,
        method: Method,
        tau: f64,
        seed: Option<u64>,
        separator: &str,
    ) -> DecodeOptions {
        DecodeOptions {
            labels: Some(self.labels()),
            method,
            tau,
            seed: seed.map(|s| Noise::derive_seed(s, &self.name)),
            prefix: None,
            separator: separator.into(),
            dtype: self.dtype.label_dtype(),
            categories: match &self.dtype {
                SourceDtype::Enum(cats) => Some(cats.clone()),
                _ => None,
            },
            null_labels: self.null_labels(),
            span: None,
        }
    }

    /// Labels decoded as null: the null field's, and the `other` field's when the
    /// source dtype cannot hold the string "other" (Enum, Boolean, integers): the
    /// grouped values are lost by design, so they come back as null.
    fn null_labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        if self.null_category {
            labels.push(NULL_LABEL.into());
        }
        let holds_other = matches!(self.dtype, SourceDtype::String | SourceDtype::Categorical);
        if self.infrequent.is_some() && !holds_other {
            labels.push(OTHER_LABEL.into());
        }
        labels
    }

    /// Checks the column on its own: its name, that its categories and infrequent
    /// values are of its dtype, distinct, and disjoint, and that it has a field.
    fn validate(&self, separator: &str) -> PolarsResult<()> {
        polars_ensure!(!self.name.is_empty(), ComputeError: "`name` is empty");
        polars_ensure!(
            !self.name.contains('\0'),
            ComputeError: "`name` holds a NUL character, which a Polars column name cannot"
        );
        let kind_fits = matches!(
            (&self.dtype, &self.categories),
            (
                SourceDtype::String | SourceDtype::Categorical | SourceDtype::Enum(_),
                Categories::String(_)
            ) | (SourceDtype::Boolean, Categories::Boolean(_))
        ) || (self.dtype.int_range().is_some()
            && matches!(self.categories, Categories::Int(_)));
        polars_ensure!(
            kind_fits,
            ComputeError: "`categories` holds {}, which a column of dtype {} cannot",
            self.categories.kind(), self.dtype.name()
        );
        let mut enum_categories = None;
        if let SourceDtype::Enum(categories) = &self.dtype {
            let mut seen = PlHashSet::with_capacity(categories.len());
            for c in categories {
                polars_ensure!(seen.insert(c.as_str()), ComputeError: "`dtype` is an Enum with the category '{}' twice", c);
            }
            enum_categories = Some(seen);
        }
        let mut seen = PlHashSet::new();
        for (field, values) in [
            ("categories", Some(&self.categories)),
            ("infrequent", self.infrequent.as_ref()),
        ] {
            let Some(values) = values else { continue };
            for label in values.labels() {
                // Only a category becomes a field name; an infrequent value joins `other`.
                polars_ensure!(
                    field == "infrequent" || !label.contains('\0'),
                    ComputeError: "`{}` holds {:?}, with a NUL character, which a Polars field name cannot",
                    field, label
                );
                if !seen.insert(label.clone()) {
                    let in_categories =
                        field == "infrequent" && self.categories.labels().contains(&label);
                    if in_categories {
                        polars_bail!(ComputeError: "`infrequent` holds '{}', which is also among the categories", label);
                    }
                    polars_bail!(ComputeError: "`{}` holds the duplicate category '{}'", field, label);
                }
                if let Some(enum_categories) = &enum_categories {
                    polars_ensure!(
                        enum_categories.contains(label.as_str()),
                        ComputeError: "`{}` holds '{}', which is not a category of the Enum `dtype`",
                        field, label
                    );
                }
            }
            if let (Some((lo, hi)), Categories::Int(ints)) = (self.dtype.int_range(), values) {
                if let Some(v) = ints.iter().find(|&&v| !(lo..=hi).contains(&v)) {
                    polars_bail!(ComputeError: "`{}` holds {}, outside the range of dtype {}", field, v, self.dtype.name());
                }
            }
            if field == "infrequent" {
                polars_ensure!(!values.labels().is_empty(), ComputeError: "`infrequent` is empty; write null for none");
                polars_ensure!(
                    std::mem::discriminant(values) == std::mem::discriminant(&self.categories),
                    ComputeError: "`infrequent` holds {}, but `categories` holds {}",
                    values.kind(), self.categories.kind()
                );
            }
        }
        // Field names: unique, and at least one (through one_hot's own plan).
        let options = self.one_hot_options(Layout::Struct, IndicatorDtype::UInt8, separator);
        let probe = match &self.categories {
            Categories::String(_) => DataType::String,
            Categories::Int(_) => DataType::Int64,
            Categories::Boolean(_) => DataType::Boolean,
        };
        onehot::one_hot_field(&Field::new(self.name.as_str().into(), probe), &options)?;
        Ok(())
    }

    /// The flat feature column names of this column.
    pub fn feature_names(&self, separator: &str) -> Vec<String> {
        self.labels()
            .iter()
            .map(|l| format!("{}{separator}{l}", self.name))
            .collect()
    }
}

/// What a JSON value is, for error messages.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}

/// Why the field `key` of a column entry does not parse as `T`, if it does not.
fn field_error<T: serde::de::DeserializeOwned>(
    column: &serde_json::Value,
    key: &str,
) -> Option<String> {
    let value = column.get(key)?;
    T::deserialize(value).err().map(|e| format!("`{key}`: {e}"))
}

/// The first field of a column entry that does not parse, with the reason: a
/// categorical entry's, or a numeric one's (which has a `transform`).
fn field_problem(column: &serde_json::Value) -> Option<String> {
    use crate::mixture::Mode;
    use crate::numeric::{NumericDtype, Transform};
    let name = field_error::<String>(column, "name");
    if column.get("transform").is_some() {
        return name
            .or_else(|| field_error::<NumericDtype>(column, "dtype"))
            .or_else(|| field_error::<Transform>(column, "transform"))
            .or_else(|| field_error::<Vec<Mode>>(column, "modes"))
            .or_else(|| field_error::<[f64; 2]>(column, "range"))
            .or_else(|| field_error::<bool>(column, "round"))
            .or_else(|| field_error::<bool>(column, "null_indicator"));
    }
    name.or_else(|| field_error::<SourceDtype>(column, "dtype"))
        .or_else(|| field_error::<Categories>(column, "categories"))
        .or_else(|| field_error::<bool>(column, "null_category"))
        .or_else(|| field_error::<Option<Categories>>(column, "infrequent"))
}

impl Codec {
    pub fn new<C: Into<Entry>>(columns: Vec<C>) -> PolarsResult<Self> {
        Self::with_separator(columns, SEPARATOR)
    }

    /// A codec whose feature names join column and label with `separator`.
    pub fn with_separator<C: Into<Entry>>(columns: Vec<C>, separator: &str) -> PolarsResult<Self> {
        let codec = Self {
            format: FORMAT.into(),
            version: VERSION,
            separator: separator.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            table: None,
        };
        codec.validate()?;
        Ok(codec)
    }

    /// The codec with the column order of the table it was fitted on.
    pub fn with_table(mut self, table: Vec<String>) -> PolarsResult<Self> {
        self.table = Some(table);
        self.validate()?;
        Ok(self)
    }

    /// Reads a codec document; an unknown version or a malformed one is an error.
    pub fn from_json(json: &str) -> PolarsResult<Self> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| polars_err!(ComputeError: "malformed codec JSON: {}", e))?;
        let shown = |key: &str| {
            value
                .get(key)
                .map_or_else(|| "nothing".into(), |v| v.to_string())
        };
        polars_ensure!(
            value.get("format").and_then(|f| f.as_str()) == Some(FORMAT),
            ComputeError: "not a polars-gumbel codec: expected format \"{}\", got {}",
            FORMAT, shown("format")
        );
        let version = value.get("version").and_then(|v| v.as_u64());
        polars_ensure!(
            version.is_some_and(|v| READS.iter().any(|&r| u64::from(r) == v)),
            ComputeError: "codec version {} is not supported: this build reads versions {:?}",
            shown("version"), READS
        );
        if let Some(separator) = value.get("separator") {
            polars_ensure!(
                separator.is_string(),
                ComputeError: "malformed codec JSON: `separator` is {}; expected a string", separator
            );
        }
        if let Some(table) = value.get("table") {
            let names = table.as_array().filter(|t| t.iter().all(|n| n.is_string()));
            polars_ensure!(
                names.is_some(),
                ComputeError: "malformed codec JSON: `table` is {}; expected a list of column names",
                json_kind(table)
            );
        }
        if let Some(columns) = value.get("columns") {
            polars_ensure!(
                columns.is_array(),
                ComputeError: "malformed codec JSON: `columns` is {}; expected a list of column entries",
                json_kind(columns)
            );
        }
        // A column that does not parse is named by its place in the document.
        if let Some(columns) = value.get("columns").and_then(|c| c.as_array()) {
            for (i, column) in columns.iter().enumerate() {
                let numeric = column.get("transform").is_some();
                polars_ensure!(
                    !numeric || version != Some(1),
                    ComputeError: "malformed codec JSON: columns[{}] is a numeric column, which a \
                    version-1 document cannot hold", i
                );
                let parsed = if numeric {
                    NumericColumn::deserialize(column).map(|_| ())
                } else {
                    ColumnCodec::deserialize(column).map(|_| ())
                };
                if let Err(e) = parsed {
                    let name = column
                        .get("name")
                        .map_or_else(|| "?".into(), |n| n.to_string());
                    let problem = field_problem(column).unwrap_or_else(|| e.to_string());
                    polars_bail!(ComputeError: "malformed codec JSON: columns[{}] ({}): {}", i, name, problem);
                }
            }
        }
        let mut codec: Self = serde_json::from_value(value)
            .map_err(|e| polars_err!(ComputeError: "malformed codec JSON: {}", e))?;
        // A version-1 document is a version-2 one with categorical columns only.
        codec.version = VERSION;
        codec.validate()?;
        Ok(codec)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain structs, strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every field of the document against every other: the format and
    /// version, each column's name, dtype, categories and infrequent values, and the
    /// feature names of all columns together. An error names the field at fault.
    pub fn validate(&self) -> PolarsResult<()> {
        polars_ensure!(
            self.format == FORMAT,
            ComputeError: "not a polars-gumbel codec: expected format \"{}\", got {:?}",
            FORMAT, self.format
        );
        polars_ensure!(
            READS.contains(&self.version),
            ComputeError: "codec version {} is not supported: this build reads versions {:?}",
            self.version, READS
        );
        polars_ensure!(
            !self.separator.is_empty() && !self.separator.contains('\0'),
            ComputeError: "invalid codec: `separator` is {:?}; expected a non-empty string without NUL characters",
            self.separator
        );
        polars_ensure!(!self.columns.is_empty(), ComputeError: "invalid codec: `columns` is empty; a codec needs at least one column");
        let mut names = PlHashMap::new();
        for (i, c) in self.columns.iter().enumerate() {
            if let Some(first) = names.insert(c.name(), i) {
                polars_bail!(
                    ComputeError: "invalid codec: codec names column '{}' twice: columns[{}] and columns[{}]",
                    c.name(), first, i
                );
            }
            c.validate(&self.separator).map_err(|e| {
                e.wrap_msg(|m| format!("invalid codec: columns[{i}] ('{}'): {m}", c.name()))
            })?;
        }
        if let Some(table) = &self.table {
            let mut seen = PlHashSet::with_capacity(table.len());
            for name in table {
                polars_ensure!(
                    seen.insert(name.as_str()),
                    ComputeError: "invalid codec: `table` names the column '{}' twice", name
                );
            }
            if let Some(c) = self.columns.iter().find(|c| !seen.contains(c.name())) {
                polars_bail!(ComputeError: "invalid codec: `table` lacks the codec's column '{}'", c.name());
            }
        }
        // A flat feature column must name one thing: one column's field, and no codec
        // column (whose block it would otherwise stand for when decoding).
        let mut features: PlHashMap<String, usize> = PlHashMap::new();
        for (i, c) in self.columns.iter().enumerate() {
            for f in c.feature_names(&self.separator) {
                if let Some(&owner) = names.get(f.as_str()) {
                    polars_bail!(
                        ComputeError: "invalid codec: the feature column '{}' of columns[{}] \
                        ('{}') has the name of columns[{}]; rename one of the columns",
                        f, i, c.name(), owner
                    );
                }
                if let Some(first) = features.insert(f.clone(), i) {
                    polars_bail!(
                        ComputeError: "invalid codec: columns[{}] ('{}') and columns[{}] ('{}') \
                        both make the feature column '{}'; rename one of the columns",
                        first, self.columns[first].name(), i, c.name(), f
                    );
                }
            }
        }
        Ok(())
    }

    pub fn column(&self, name: &str) -> Option<&Entry> {
        self.columns.iter().find(|c| c.name() == name)
    }

    /// The flat columns `encode` produces, in order.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|c| c.feature_names(&self.separator))
            .collect()
    }

    /// Each column's `[start, stop)` span of [`Codec::feature_names`], with its labels.
    pub fn blocks(&self) -> Vec<Block> {
        let mut start = 0;
        self.columns
            .iter()
            .map(|c| {
                let labels = c.labels(&self.separator);
                let block = Block {
                    column: c.name().to_string(),
                    start,
                    stop: start + labels.len(),
                    labels,
                };
                start = block.stop;
                block
            })
            .collect()
    }

    /// Every span of [`Codec::feature_names`] with the activation a generator's output
    /// goes through there: a categorical column's block (softmax); a numeric column's
    /// scalar (tanh, or linear for a z-score), its mode block (softmax) and its null
    /// indicator (sigmoid). CTGAN's `output_info`.
    pub fn spans(&self) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut start = 0;
        let mut push = |column: &str, width: usize, activation| {
            spans.push(Span {
                column: column.to_string(),
                start,
                stop: start + width,
                activation,
            });
            start += width;
        };
        for c in &self.columns {
            match c {
                Entry::Categorical(c) => push(&c.name, c.labels().len(), Activation::Softmax),
                Entry::Numeric(c) => {
                    let scalar = match c.transform {
                        crate::numeric::Transform::Standard => Activation::Linear,
                        _ => Activation::Tanh,
                    };
                    push(&c.name, 1, scalar);
                    if c.mode_count() > 0 {
                        push(&c.name, c.mode_count(), Activation::Softmax);
                    }
                    if c.null_indicator {
                        push(&c.name, 1, Activation::Sigmoid);
                    }
                }
            }
        }
        spans
    }
}
