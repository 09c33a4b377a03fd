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

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::decode::{self, DecodeOptions, LabelDtype, Method};
use crate::layout::Layout;
use crate::onehot::{self, Categories, IndicatorDtype, Nulls, OneHotOptions, Unknown};
use crate::rng::Noise;

/// The `format` field of every codec document.
pub const FORMAT: &str = "polars-gumbel-codec";
/// The document version this build writes and reads.
pub const VERSION: u32 = 1;
/// Label of the field of values seen null at fit time.
pub const NULL_LABEL: &str = "null";
/// Label of the field grouping infrequent categories.
pub const OTHER_LABEL: &str = "other";
const SEPARATOR: &str = "_";

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

/// One variable's span of the flat feature columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub column: String,
    pub start: usize,
    pub stop: usize,
    pub labels: Vec<String>,
}

/// A fitted codec: see the module documentation for its JSON form.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Codec {
    pub format: String,
    pub version: u32,
    pub columns: Vec<ColumnCodec>,
}

/// How `encode` lays out each column's block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeLayout {
    /// One column per category, in place of the source column.
    #[default]
    Flat,
    Struct,
    Array,
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
    pub fn one_hot_options(&self, layout: EncodeLayout, dtype: IndicatorDtype) -> OneHotOptions {
        OneHotOptions {
            categories: Some(self.categories.clone()),
            layout: if layout == EncodeLayout::Array {
                Layout::Array
            } else {
                Layout::Struct
            },
            dtype,
            prefix: Some(self.name.clone()),
            separator: SEPARATOR.into(),
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
    pub fn decode_options(&self, method: Method, tau: f64, seed: Option<u64>) -> DecodeOptions {
        DecodeOptions {
            labels: Some(self.labels()),
            method,
            tau,
            seed: seed.map(|s| Noise::derive_seed(s, &self.name)),
            prefix: None,
            separator: SEPARATOR.into(),
            dtype: self.dtype.label_dtype(),
            categories: match &self.dtype {
                SourceDtype::Enum(cats) => Some(cats.clone()),
                _ => None,
            },
            null_labels: self.null_labels(),
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

    /// The flat feature column names of this column.
    pub fn feature_names(&self) -> Vec<String> {
        self.labels()
            .iter()
            .map(|l| format!("{}{SEPARATOR}{l}", self.name))
            .collect()
    }
}

/// A Struct block with its fields in the codec's order, found by name; other layouts
/// as they are.
fn by_field_names(block: &Series, codec: &ColumnCodec) -> PolarsResult<Series> {
    let DataType::Struct(_) = block.dtype() else {
        return Ok(block.clone());
    };
    let ca = block.struct_()?;
    let fields = codec
        .feature_names()
        .iter()
        .map(|f| {
            ca.field_by_name(f).map_err(|_| {
                polars_err!(ColumnNotFound: "decode: the block '{}' has no field '{}'", codec.name, f)
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let out = StructChunked::from_series(block.name().clone(), block.len(), fields.iter())?;
    Ok(out
        .with_outer_validity(block.rechunk_validity())
        .into_series())
}

impl Codec {
    pub fn new(columns: Vec<ColumnCodec>) -> PolarsResult<Self> {
        let codec = Self {
            format: FORMAT.into(),
            version: VERSION,
            columns,
        };
        codec.validate()?;
        Ok(codec)
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
        polars_ensure!(
            value.get("version").and_then(|v| v.as_u64()) == Some(u64::from(VERSION)),
            ComputeError: "codec version {} is not supported: this build reads version {}",
            shown("version"), VERSION
        );
        let codec: Self = serde_json::from_value(value)
            .map_err(|e| polars_err!(ComputeError: "malformed codec JSON: {}", e))?;
        codec.validate()?;
        Ok(codec)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain structs, strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    fn validate(&self) -> PolarsResult<()> {
        polars_ensure!(!self.columns.is_empty(), ComputeError: "a codec needs at least one column");
        let mut names = PlHashSet::new();
        for c in &self.columns {
            polars_ensure!(names.insert(c.name.as_str()), ComputeError: "codec names column '{}' twice", c.name);
            let field = Field::new(c.name.as_str().into(), DataType::Null);
            // Checks categories (unique, non-empty) and field names through one_hot's own plan.
            let options = c.one_hot_options(EncodeLayout::Struct, IndicatorDtype::UInt8);
            let probe = match &c.categories {
                Categories::String(_) => DataType::String,
                Categories::Int(_) => DataType::Int64,
                Categories::Boolean(_) => DataType::Boolean,
            };
            onehot::one_hot_field(&Field::new(field.name().clone(), probe), &options)?;
        }
        Ok(())
    }

    pub fn column(&self, name: &str) -> Option<&ColumnCodec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The flat columns `encode` produces for the categorical columns, in order.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|c| c.feature_names())
            .collect()
    }

    /// Each column's `[start, stop)` span of [`Codec::feature_names`], with its labels.
    pub fn blocks(&self) -> Vec<Block> {
        let mut start = 0;
        self.columns
            .iter()
            .map(|c| {
                let labels = c.labels();
                let block = Block {
                    column: c.name.clone(),
                    start,
                    stop: start + labels.len(),
                    labels,
                };
                start = block.stop;
                block
            })
            .collect()
    }

    /// Encodes the codec's columns of `df` in place; other columns pass through.
    pub fn encode(
        &self,
        df: &DataFrame,
        layout: EncodeLayout,
        dtype: IndicatorDtype,
    ) -> PolarsResult<DataFrame> {
        for c in &self.columns {
            df.column(&c.name)?;
        }
        let mut out: Vec<Column> = Vec::with_capacity(df.width());
        for col in df.columns() {
            let Some(codec) = self.column(col.name()) else {
                out.push(col.clone());
                continue;
            };
            let encoded = onehot::one_hot(
                col.as_materialized_series(),
                &codec.one_hot_options(layout, dtype),
            )?;
            if layout == EncodeLayout::Flat {
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
        }
        DataFrame::new_infer_height(out)
    }

    /// Decodes the blocks of `df` (flat feature columns, or one Struct / Array column per
    /// variable) back to the original columns, dtypes and order.
    pub fn decode(
        &self,
        df: &DataFrame,
        method: Method,
        tau: f64,
        seed: Option<u64>,
    ) -> PolarsResult<DataFrame> {
        let mut owner: PlHashMap<String, usize> = PlHashMap::new();
        for (i, c) in self.columns.iter().enumerate() {
            for f in c.feature_names() {
                owner.insert(f, i);
            }
        }
        let mut out: Vec<Column> = Vec::with_capacity(df.width());
        let mut done = vec![false; self.columns.len()];
        for col in df.columns() {
            let name = col.name().as_str();
            let which = self
                .columns
                .iter()
                .position(|c| c.name == name)
                .or_else(|| owner.get(name).copied());
            let Some(i) = which else {
                out.push(col.clone());
                continue;
            };
            if std::mem::replace(&mut done[i], true) {
                continue;
            }
            let codec = &self.columns[i];
            let scores = if codec.name == name {
                by_field_names(col.as_materialized_series(), codec)?
            } else {
                let fields = codec
                    .feature_names()
                    .iter()
                    .map(|f| {
                        df.column(f).map(|c| c.as_materialized_series().clone()).map_err(|_| {
                            polars_err!(ColumnNotFound: "decode: column '{}' of the codec's block '{}' is missing", f, codec.name)
                        })
                    })
                    .collect::<PolarsResult<Vec<_>>>()?;
                StructChunked::from_series(codec.name.as_str().into(), df.height(), fields.iter())?
                    .into_series()
            };
            let decoded = decode::decode(&scores, None, &codec.decode_options(method, tau, seed))?;
            let decoded = match &codec.dtype {
                SourceDtype::Categorical => decoded.cast(&DataType::from_categories(
                    polars_core::prelude::Categories::global(),
                ))?,
                _ => decoded,
            };
            out.push(decoded.into());
        }
        if let Some(i) = done.iter().position(|d| !d) {
            polars_bail!(ColumnNotFound: "decode: no block of column '{}' in the data", self.columns[i].name);
        }
        DataFrame::new_infer_height(out)
    }
}
