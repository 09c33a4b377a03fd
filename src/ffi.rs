//! The plugin boundary: how Polars' exported series come in, and how each entry point
//! hands back its result or its error.
//!
//! Every entry point imports its inputs, parses its options, computes and exports
//! inside one `catch_unwind`, and reports an error only after escaping what the C
//! string of the plugin ABI cannot hold (a NUL byte). An input of a dtype this build
//! cannot read is an error naming the expression, the column and the dtype, found
//! from the Arrow type before Polars' own conversion (which panics on it).
//!
//! Polars hands an Enum or Categorical column to a plugin as an arrow dictionary array,
//! and its generic import looks every row's string up in the categories: a hash per
//! row, which cost three times the whole `one_hot` kernel. Here each dictionary value
//! is looked up once and the keys are remapped to category codes.
//!
//! The boundary: imports [`crate::blocks`] (to build a K = 0 block), [`crate::dispatch`]
//! (the code widths) and Polars.

use std::ffi::c_void;
use std::mem::{align_of, size_of};

use num_traits::{NumCast, ToPrimitive, Zero};
use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, DictionaryKey, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField, IntegerType};
use polars_arrow::ffi::{import_array_from_c, import_field_from_c, ArrowArray, ArrowSchema};
use polars_ffi::version_0::SeriesExport;

use crate::dispatch::with_match_codes;

/// The layout of [`SeriesExport`], whose fields Polars keeps private: a `#[repr(C)]`
/// struct that crosses the plugin boundary, so its layout is part of the plugin ABI
/// (pinned by the exact `polars-ffi` version, and checked below and by a round-trip
/// test).
#[repr(C)]
struct RawSeriesExport {
    field: *mut ArrowSchema,
    arrays: *mut *mut ArrowArray,
    len: usize,
    release: Option<unsafe extern "C" fn(*mut RawSeriesExport)>,
    private_data: *mut c_void,
}

const _: () = {
    assert!(size_of::<RawSeriesExport>() == size_of::<SeriesExport>());
    assert!(align_of::<RawSeriesExport>() == align_of::<SeriesExport>());
    assert!(size_of::<RawSeriesExport>() == 5 * size_of::<usize>());
};

/// An exported series taken over from its producer: its own allocations (the boxes
/// around the schema and the arrays) are released when this is dropped, on every path.
struct Export(RawSeriesExport);

impl Drop for Export {
    fn drop(&mut self) {
        if let Some(release) = self.0.release.take() {
            // SAFETY: the producer's callback for this export, called once.
            unsafe { release(&mut self.0) };
        }
    }
}

/// A dtype that this build's Polars cannot convert from Arrow (its conversion panics),
/// as Polars names it; `None` when every part of `dtype` converts.
fn unreadable(dtype: &ArrowDataType) -> Option<String> {
    use ArrowDataType as A;
    let nested = |outer: &str, inner: &ArrowField| {
        unreadable(inner.dtype()).map(|d| format!("{outer}[{d}]"))
    };
    match dtype {
        A::Float16 => Some("f16".into()),
        A::Int128 => Some("i128".into()),
        A::UInt128 => Some("u128".into()),
        A::Decimal(p, s) | A::Decimal32(p, s) | A::Decimal64(p, s) | A::Decimal256(p, s) => {
            Some(format!("decimal[{p},{s}]"))
        }
        A::Extension(ext) => Some(format!("extension type '{}'", ext.name)),
        A::Interval(_) => Some("interval".into()),
        A::Union(_) => Some("union".into()),
        A::Unknown => Some("unknown".into()),
        A::List(f) | A::LargeList(f) | A::Map(f, _) => nested("list", f),
        A::FixedSizeList(f, width) => unreadable(f.dtype()).map(|d| format!("array[{d}, {width}]")),
        A::Struct(fields) => fields.iter().find_map(|f| nested("struct", f)),
        A::Dictionary(_, values, _) => unreadable(values),
        _ => None,
    }
}

/// The Polars field of an imported Arrow field, or an error naming `expr`, the column
/// and the dtype when this build cannot represent it.
fn polars_field(expr: &str, field: &ArrowField) -> PolarsResult<Field> {
    if let Some(dtype) = unreadable(field.dtype()) {
        polars_bail!(
            InvalidOperation: "{} does not accept column '{}' of dtype {}",
            expr, field.name, dtype
        );
    }
    Ok(Field::from(field))
}

/// Imports the series at `e`, taking ownership of it: every array and the export's own
/// allocations are released whatever fails.
///
/// # Safety
/// `e` must point to a valid, exported series that is not used again.
pub unsafe fn import_input(expr: &str, e: *mut SeriesExport) -> PolarsResult<Series> {
    let export = Export(unsafe { std::ptr::read(e.cast::<RawSeriesExport>()) });
    let raw = &export.0;
    // Each array is moved out of its box first: from here it is released by its own
    // drop, and the export's release frees only the boxes.
    let arrays: Vec<ArrowArray> = if raw.len == 0 || raw.arrays.is_null() {
        Vec::new()
    } else {
        unsafe { std::slice::from_raw_parts(raw.arrays, raw.len) }
            .iter()
            .map(|ptr| unsafe { std::ptr::read(*ptr) })
            .collect()
    };
    polars_ensure!(!raw.field.is_null(), ComputeError: "{}: an input arrived without its field", expr);
    let arrow_field = unsafe { import_field_from_c(&*raw.field)? };
    let field = polars_field(expr, &arrow_field)?;
    if let DataType::Array(inner, 0) = field.dtype() {
        return null_blocks(field.name().clone(), inner, rows(&arrays));
    }
    let chunks = arrays
        .into_iter()
        .map(|a| unsafe { import_array_from_c(a, arrow_field.dtype().clone()) })
        .collect::<PolarsResult<Vec<_>>>()
        .map_err(|e| {
            e.wrap_msg(|m| format!("{expr}: could not read column '{}': {m}", field.name()))
        })?;
    drop(export);
    let dtype = field.dtype();
    let is_dictionary = matches!(arrow_field.dtype(), ArrowDataType::Dictionary(..));
    if is_dictionary && (dtype.is_categorical() || dtype.is_enum()) {
        return categorical(arrow_field.name.clone(), dtype.clone(), &chunks);
    }
    unsafe {
        Series::_try_from_arrow_unchecked_with_md(
            arrow_field.name.clone(),
            chunks,
            arrow_field.dtype(),
            arrow_field.metadata.as_deref(),
        )
    }
}

/// The number of rows of exported arrays: the `length` that the Arrow C data interface
/// puts first in every `ArrowArray`.
fn rows(arrays: &[ArrowArray]) -> usize {
    arrays
        .iter()
        // SAFETY: `ArrowArray` is the `#[repr(C)]` struct of the Arrow C data interface,
        // whose first member is the array's length, an `int64_t`.
        .map(|a| unsafe { *(a as *const ArrowArray).cast::<i64>() })
        .map(|n| usize::try_from(n).unwrap_or(0))
        .sum()
}

/// `len` null rows of `Array(inner, 0)`: every block of K = 0 is null. polars-arrow's
/// import cannot read such arrays (it finds their length by dividing by K), so they
/// are made here from their length alone.
pub fn null_blocks(name: PlSmallStr, inner: &DataType, len: usize) -> PolarsResult<Series> {
    let values = Series::new_empty(PlSmallStr::EMPTY, inner);
    crate::blocks::build::array_from_flat(name, values, 0, len, Some(Bitmap::new_zeroed(len)))
}

/// Errors when a name in `field` (its own or a nested field's) holds a NUL byte, which
/// the C strings of the Arrow schema export cannot carry.
pub fn ensure_exportable(expr: &str, field: &Field) -> PolarsResult<()> {
    fn bad_name(name: &str, dtype: &DataType) -> Option<String> {
        if name.contains('\0') {
            return Some(name.into());
        }
        match dtype {
            DataType::Struct(fields) => fields.iter().find_map(|f| bad_name(f.name(), f.dtype())),
            DataType::List(inner) | DataType::Array(inner, _) => bad_name("", inner),
            _ => None,
        }
    }
    if let Some(name) = bad_name(field.name(), field.dtype()) {
        polars_bail!(
            InvalidOperation: "{} would name an output field {:?}, which holds a NUL character \
            that Polars cannot pass on", expr, name
        );
    }
    Ok(())
}

/// An error's message as the plugin ABI's C string can hold it: NUL bytes written `\0`.
pub fn printable(err: &PolarsError) -> PolarsError {
    let message = err.to_string();
    if message.contains('\0') {
        polars_err!(ComputeError: "{}", message.replace('\0', "\\0"))
    } else {
        err.wrap_msg(|m| m.to_string())
    }
}

/// The message of a caught panic, which is a bug of this crate.
pub fn panic_error(expr: &str, payload: &(dyn std::any::Any + Send)) -> PolarsError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    polars_err!(
        ComputeError: "{}: internal error in polars-gumbel ({}); please report it",
        expr, what.replace('\0', "\\0")
    )
}

#[cfg(feature = "python")]
mod entry {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use polars::prelude::*;
    use polars_arrow::ffi::{export_field_to_c, ArrowSchema};
    use polars_ffi::version_0::{export_series, SeriesExport};
    use pyo3_polars::derive::{_parse_kwargs, _update_last_error};

    use super::{ensure_exportable, import_input, panic_error, polars_field, printable};

    fn options<O: for<'de> serde::Deserialize<'de>>(
        expr: &str,
        kwargs: (*const u8, usize),
    ) -> PolarsResult<O> {
        let bytes = if kwargs.0.is_null() {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(kwargs.0, kwargs.1) }
        };
        // The Python package sends the options as one JSON string (`{"json": "…"}`):
        // pickle then reads one string however many labels there are, not one memoised
        // object per label. Polars passes no bytes at all for an empty dict.
        #[derive(serde::Deserialize)]
        struct Transport {
            json: String,
        }
        let json = if bytes.is_empty() {
            "{}".to_string()
        } else {
            _parse_kwargs::<Transport>(bytes)
                .map_err(|e| polars_err!(InvalidOperation: "{}: could not read the options: {}", expr, e))?
                .json
        };
        serde_json::from_str(&json).map_err(
            |e| polars_err!(InvalidOperation: "{}: could not read the options: {}", expr, e),
        )
    }

    /// Runs `body` and reports its error, or a panic as an error, as the last error of
    /// the plugin ABI; nothing unwinds out of it.
    fn guarded(expr: &str, body: impl FnOnce() -> PolarsResult<()>) {
        let outcome = catch_unwind(AssertUnwindSafe(body))
            .unwrap_or_else(|payload| Err(panic_error(expr, payload.as_ref())));
        if let Err(err) = outcome {
            let err = printable(&err);
            // `printable` leaves no NUL, so the C string conversion inside succeeds.
            let _ = catch_unwind(AssertUnwindSafe(|| _update_last_error(err)));
        }
    }

    /// The body of a plugin's expression entry point: imports the inputs (through
    /// [`import_input`]), calls `f`, exports its result.
    ///
    /// # Safety
    /// The pointers are those Polars passes to a plugin function.
    pub unsafe fn expression_entry<O: for<'de> serde::Deserialize<'de>>(
        expr: &str,
        inputs: *mut SeriesExport,
        input_len: usize,
        kwargs: (*const u8, usize),
        return_value: *mut SeriesExport,
        f: impl FnOnce(&[Series], O) -> PolarsResult<Series>,
    ) {
        guarded(expr, || {
            // Every input is imported (and so released) even when an earlier one fails.
            let series: Vec<PolarsResult<Series>> = (0..input_len)
                .map(|i| unsafe { import_input(expr, inputs.add(i)) })
                .collect();
            let series = series.into_iter().collect::<PolarsResult<Vec<_>>>()?;
            let out = f(&series, options(expr, kwargs)?)?;
            ensure_exportable(expr, &out.field())?;
            let export = export_series(&out);
            unsafe { *return_value = export };
            Ok(())
        })
    }

    /// The body of a plugin's output-field entry point.
    ///
    /// # Safety
    /// The pointers are those Polars passes to a plugin's field function.
    pub unsafe fn field_entry<O: for<'de> serde::Deserialize<'de>>(
        expr: &str,
        fields: *mut ArrowSchema,
        len: usize,
        kwargs: (*const u8, usize),
        return_value: *mut ArrowSchema,
        f: impl FnOnce(&[Field], O) -> PolarsResult<Field>,
    ) {
        guarded(expr, || {
            let schemas = if len == 0 || fields.is_null() {
                &[][..]
            } else {
                unsafe { std::slice::from_raw_parts(fields, len) }
            };
            let fields = schemas
                .iter()
                .map(|f| polars_field(expr, &unsafe { polars_arrow::ffi::import_field_from_c(f) }?))
                .collect::<PolarsResult<Vec<_>>>()?;
            let out = f(&fields, options(expr, kwargs)?)?;
            ensure_exportable(expr, &out)?;
            let export = export_field_to_c(&out.to_arrow(CompatLevel::newest()));
            unsafe { *return_value = export };
            Ok(())
        })
    }
}

#[cfg(feature = "python")]
pub use entry::{expression_entry, field_entry};

/// A categorical series of `dtype` from dictionary arrays, one lookup per dictionary
/// value and none per row. Keys that already are the dtype's codes (an Enum, exported
/// with all its categories in order) are taken as they are, without a copy.
fn categorical(
    name: PlSmallStr,
    dtype: DataType,
    chunks: &[Box<dyn Array>],
) -> PolarsResult<Series> {
    with_match_codes!(dtype.cat_physical()?, |$C, $P| {
        type Phys = $P;
        let codes = chunks
            .iter()
            .map(|chunk| codes_of::<Phys>(chunk.as_ref(), &dtype))
            .collect::<PolarsResult<Vec<_>>>()?;
        let phys = ChunkedArray::<Phys>::from_chunk_iter(name, codes);
        // SAFETY: every code was given by the dtype's own mapping.
        let ca = unsafe { CategoricalChunked::<$C>::from_cats_and_dtype_unchecked(phys, dtype.clone()) };
        Ok(ca.into_series())
    })
}

/// The category codes of one dictionary array, whatever its key type.
fn codes_of<P: PolarsNumericType>(
    arr: &dyn Array,
    dtype: &DataType,
) -> PolarsResult<PrimitiveArray<P::Native>> {
    let ArrowDataType::Dictionary(key, _, _) = arr.dtype() else {
        polars_bail!(ComputeError: "expected a dictionary array, found {:?}", arr.dtype());
    };
    match key {
        IntegerType::Int8 => remap::<i8, P>(arr, dtype),
        IntegerType::Int16 => remap::<i16, P>(arr, dtype),
        IntegerType::Int32 => remap::<i32, P>(arr, dtype),
        IntegerType::Int64 => remap::<i64, P>(arr, dtype),
        IntegerType::UInt8 => remap::<u8, P>(arr, dtype),
        IntegerType::UInt16 => remap::<u16, P>(arr, dtype),
        IntegerType::UInt32 => remap::<u32, P>(arr, dtype),
        IntegerType::UInt64 => remap::<u64, P>(arr, dtype),
        other => polars_bail!(ComputeError: "unsupported dictionary key type {:?}", other),
    }
}

/// The category code of every key of the dictionary array `arr`: null for a null key
/// or a value outside the dtype's categories.
fn remap<K: DictionaryKey + ToPrimitive, P: PolarsNumericType>(
    arr: &dyn Array,
    dtype: &DataType,
) -> PolarsResult<PrimitiveArray<P::Native>> {
    let (DataType::Enum(_, mapping) | DataType::Categorical(_, mapping)) = dtype else {
        polars_bail!(ComputeError: "expected a categorical dtype, found {}", dtype);
    };
    let arr = arr
        .as_any()
        .downcast_ref::<DictionaryArray<K>>()
        .ok_or_else(|| polars_err!(ComputeError: "expected a dictionary array"))?;
    let values = Series::try_from((PlSmallStr::EMPTY, arr.values().clone()))?;
    let values = values.cast(&DataType::String)?;
    let table = values
        .str()?
        .iter()
        .map(|v| {
            let code = match (v, dtype) {
                (None, _) => None,
                (Some(v), DataType::Enum(..)) => mapping.get_cat(v),
                (Some(v), _) => Some(mapping.insert_cat(v)?),
            };
            code.map(|c| {
                <P::Native as NumCast>::from(c).ok_or_else(
                    || polars_err!(ComputeError: "category code {} does not fit {}", c, P::get_static_dtype()),
                )
            })
            .transpose()
        })
        .collect::<PolarsResult<Vec<Option<P::Native>>>>()?;
    let keys = arr.keys();
    let bound = table.len();
    let identity = table
        .iter()
        .enumerate()
        .all(|(i, c)| c.is_some() && *c == <P::Native as NumCast>::from(i));
    if identity {
        let same = (keys as &dyn std::any::Any).downcast_ref::<PrimitiveArray<P::Native>>();
        let in_range = |a: &&PrimitiveArray<P::Native>| {
            let top = a
                .values()
                .iter()
                .fold(P::Native::zero(), |m, &k| if k > m { k } else { m });
            top.to_usize().is_some_and(|top| top < bound)
        };
        if let Some(same) = same.filter(in_range) {
            return Ok(same.clone());
        }
    }
    let code = |k: &K| -> Option<P::Native> { table.get(k.to_usize()?).copied().flatten() };
    let codes: Vec<P::Native> = keys
        .values()
        .iter()
        .map(|k| code(k).unwrap_or_default())
        .collect();
    let validity = if keys.values().iter().all(|k| code(k).is_some()) {
        keys.validity().cloned()
    } else {
        let found: Bitmap = keys.values().iter().map(|k| code(k).is_some()).collect();
        Some(match keys.validity() {
            Some(v) => &found & v,
            None => found,
        })
    };
    let arrow_dtype = P::get_static_dtype().to_arrow(CompatLevel::newest());
    Ok(PrimitiveArray::new(arrow_dtype, codes.into(), validity))
}

#[cfg(test)]
mod tests {
    use polars_ffi::version_0::export_series;

    use super::*;

    fn round_trip(s: &Series) -> PolarsResult<Series> {
        let mut export = export_series(s);
        let out = unsafe { import_input("test", &mut export) };
        // `import_input` took the export over and released it: nothing is left to drop.
        std::mem::forget(export);
        out
    }

    #[test]
    fn the_mirror_reads_what_polars_writes() {
        let s = Series::new("x".into(), [1.5f64, 2.5, 3.5]);
        let mut export = export_series(&s);
        let raw = unsafe { &*(&mut export as *mut SeriesExport).cast::<RawSeriesExport>() };
        assert_eq!(raw.len, 1);
        assert!(!raw.field.is_null() && !raw.arrays.is_null() && !raw.private_data.is_null());
        assert!(raw.release.is_some());
        let field = unsafe { import_field_from_c(&*raw.field) }.unwrap();
        assert_eq!(field.name.as_str(), "x");
        drop(export);
    }

    #[test]
    fn round_trip_keeps_values_chunks_and_dtypes() {
        let mut a = Series::new("a".into(), [Some(1i64), None, Some(3)]);
        a.append(&Series::new("a".into(), [4i64, 5])).unwrap();
        assert_eq!(a.n_chunks(), 2);
        let out = round_trip(&a).unwrap();
        assert_eq!(out.n_chunks(), 2);
        assert!(out.equals_missing(&a));

        let strings = Series::new("s".into(), ["x", "a\0b", ""]);
        assert!(round_trip(&strings).unwrap().equals_missing(&strings));

        let sliced = Series::new("f".into(), [0.5f32, 1.5, 2.5, 3.5]).slice(1, 2);
        assert!(round_trip(&sliced).unwrap().equals_missing(&sliced));

        let empty = Series::new_empty("e".into(), &DataType::Float64);
        let out = round_trip(&empty).unwrap();
        assert_eq!((out.len(), out.dtype()), (0, &DataType::Float64));
    }

    #[test]
    fn round_trip_of_enum_and_categorical() {
        let strings = Series::new("c".into(), [Some("b"), None, Some("a"), Some("b")]);
        let fcats = FrozenCategories::new(["a", "b", "c"]).unwrap();
        let enum_dtype = DataType::from_frozen_categories(fcats);
        for dtype in [enum_dtype, DataType::from_categories(Categories::global())] {
            let s = strings.cast(&dtype).unwrap();
            let out = round_trip(&s).unwrap();
            assert_eq!(out.dtype(), s.dtype());
            assert!(out
                .cast(&DataType::String)
                .unwrap()
                .equals_missing(&strings));
        }
    }

    #[test]
    fn arrays_of_width_zero_import_as_null_rows() {
        let values = Series::new_empty(PlSmallStr::EMPTY, &DataType::Float64);
        let s = crate::blocks::build::array_from_flat("k".into(), values, 0, 3, None).unwrap();
        let out = round_trip(&s).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out.null_count(), 3);
        assert_eq!(
            out.dtype(),
            &DataType::Array(Box::new(DataType::Float64), 0)
        );
    }

    #[test]
    fn unreadable_dtypes_are_named() {
        let decimal = ArrowField::new("d".into(), ArrowDataType::Decimal(10, 2), true);
        let err = polars_field("softmax", &decimal).unwrap_err().to_string();
        assert_eq!(
            err,
            "softmax does not accept column 'd' of dtype decimal[10,2]"
        );
        let inner = ArrowField::new("item".into(), ArrowDataType::Float16, true);
        let list = ArrowField::new("l".into(), ArrowDataType::LargeList(Box::new(inner)), true);
        let err = polars_field("argmax", &list).unwrap_err().to_string();
        assert_eq!(err, "argmax does not accept column 'l' of dtype list[f16]");
        let fine = ArrowField::new("f".into(), ArrowDataType::Float32, true);
        assert_eq!(
            polars_field("argmax", &fine).unwrap().dtype(),
            &DataType::Float32
        );
    }

    #[test]
    fn names_with_nul_are_refused_before_export() {
        let dtype = DataType::Struct(vec![Field::new("a\0b".into(), DataType::UInt8)]);
        let err = ensure_exportable("one_hot", &Field::new("x".into(), dtype)).unwrap_err();
        assert!(err.to_string().contains(r#""a\0b""#), "{err}");
        assert!(ensure_exportable("one_hot", &Field::new("x".into(), DataType::UInt8)).is_ok());
    }

    #[test]
    fn printable_escapes_nul() {
        let err = polars_err!(InvalidOperation: "value 'a\0b'");
        assert_eq!(printable(&err).to_string(), "value 'a\\0b'");
        let plain = polars_err!(InvalidOperation: "no nul");
        assert_eq!(printable(&plain).to_string(), "no nul");
    }
}
