//! The plugin's own import of categorical inputs.
//!
//! Polars hands an Enum or Categorical column to a plugin as an arrow dictionary array,
//! and its generic import looks every row's string up in the categories: a hash per
//! row, which cost three times the whole `one_hot` kernel. Here each dictionary value
//! is looked up once and the keys are remapped to category codes; other dtypes go
//! through Polars' own import.

use std::ffi::c_void;

use num_traits::{NumCast, ToPrimitive, Zero};
use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, DictionaryKey, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_arrow::ffi::{
    export_field_to_c, import_array_from_c, import_field_from_c, ArrowArray, ArrowSchema,
};
use polars_core::with_match_categorical_physical_type;
use pyo3_polars::derive::{_parse_kwargs, _set_panic, _update_last_error};
use pyo3_polars::export::polars_ffi::version_0::{export_series, import_series, SeriesExport};

/// The layout of [`SeriesExport`], whose fields Polars keeps private: a `#[repr(C)]`
/// struct that crosses the plugin boundary, so its layout is part of the plugin ABI.
#[repr(C)]
struct RawSeriesExport {
    field: *mut ArrowSchema,
    arrays: *mut *mut ArrowArray,
    len: usize,
    release: Option<unsafe extern "C" fn(*mut RawSeriesExport)>,
    private_data: *mut c_void,
}

/// Imports the series at `e`, taking ownership of it.
///
/// # Safety
/// `e` must point to a valid, exported series that is not used again.
pub unsafe fn import_input(e: *mut SeriesExport) -> PolarsResult<Series> {
    let raw = e.cast::<RawSeriesExport>();
    let arrow_field = unsafe { import_field_from_c(&*(*raw).field)? };
    let dtype = DataType::from_arrow_field(&arrow_field);
    let is_dictionary = matches!(arrow_field.dtype(), ArrowDataType::Dictionary(..));
    if !(is_dictionary && (dtype.is_categorical() || dtype.is_enum())) {
        return unsafe { import_series(std::ptr::read(e)) };
    }
    let mut raw = unsafe { std::ptr::read(raw) };
    let chunks = unsafe {
        std::slice::from_raw_parts(raw.arrays, raw.len)
            .iter()
            .map(|ptr| import_array_from_c(std::ptr::read(*ptr), arrow_field.dtype().clone()))
            .collect::<PolarsResult<Vec<_>>>()
    };
    // The arrays now own their buffers; this frees only the export's own allocations.
    if let Some(release) = raw.release.take() {
        unsafe { release(&mut raw) };
    }
    categorical(arrow_field.name.clone(), dtype, &chunks?)
}

/// The body of a plugin's expression entry point, as `#[polars_expr]` writes it, but
/// with the inputs taken through [`import_input`].
///
/// # Safety
/// The pointers are those Polars passes to a plugin function.
pub unsafe fn expression_entry<O: for<'de> serde::Deserialize<'de>>(
    inputs: *mut SeriesExport,
    input_len: usize,
    kwargs: (*const u8, usize),
    return_value: *mut SeriesExport,
    f: impl FnOnce(&[Series], O) -> PolarsResult<Series> + std::panic::UnwindSafe,
) {
    let run = move || -> PolarsResult<Series> {
        let series = (0..input_len)
            .map(|i| unsafe { import_input(inputs.add(i)) })
            .collect::<PolarsResult<Vec<_>>>()?;
        let kwargs = unsafe { std::slice::from_raw_parts(kwargs.0, kwargs.1) };
        f(&series, _parse_kwargs(kwargs)?)
    };
    match std::panic::catch_unwind(run) {
        Ok(Ok(out)) => unsafe { *return_value = export_series(&out) },
        Ok(Err(err)) => _update_last_error(err),
        Err(_) => _set_panic(),
    }
}

/// The body of a plugin's output-field entry point, as `#[polars_expr]` writes it.
///
/// # Safety
/// The pointers are those Polars passes to a plugin's field function.
pub unsafe fn field_entry<O: for<'de> serde::Deserialize<'de>>(
    fields: *mut ArrowSchema,
    len: usize,
    kwargs: (*const u8, usize),
    return_value: *mut ArrowSchema,
    f: impl FnOnce(&[Field], O) -> PolarsResult<Field> + std::panic::UnwindSafe,
) {
    let run = move || -> PolarsResult<Field> {
        let fields = unsafe { std::slice::from_raw_parts(fields, len) }
            .iter()
            .map(|f| unsafe { import_field_from_c(f) }.map(|f| Field::from(&f)))
            .collect::<PolarsResult<Vec<_>>>()?;
        let kwargs = unsafe { std::slice::from_raw_parts(kwargs.0, kwargs.1) };
        f(&fields, _parse_kwargs(kwargs)?)
    };
    match std::panic::catch_unwind(run) {
        Ok(Ok(out)) => unsafe {
            *return_value = export_field_to_c(&out.to_arrow(CompatLevel::newest()))
        },
        Ok(Err(err)) => _update_last_error(err),
        Err(_) => _set_panic(),
    }
}

/// A categorical series of `dtype` from dictionary arrays, one lookup per dictionary
/// value and none per row. Keys that already are the dtype's codes (an Enum, exported
/// with all its categories in order) are taken as they are, without a copy.
fn categorical(
    name: PlSmallStr,
    dtype: DataType,
    chunks: &[Box<dyn Array>],
) -> PolarsResult<Series> {
    with_match_categorical_physical_type!(dtype.cat_physical()?, |$C| {
        type Phys = <$C as PolarsCategoricalType>::PolarsPhysical;
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
