//! The plugin's own import of categorical inputs.
//!
//! Polars hands an Enum or Categorical column to a plugin as an arrow dictionary array,
//! and its generic import looks every row's string up in the categories: a hash per
//! row, which cost three times the whole `one_hot` kernel. Here each dictionary value
//! is looked up once and the keys are remapped to category codes; other dtypes go
//! through Polars' own import.

use std::ffi::c_void;

use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, DictionaryKey};
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
/// value and none per row.
fn categorical(
    name: PlSmallStr,
    dtype: DataType,
    chunks: &[Box<dyn Array>],
) -> PolarsResult<Series> {
    let mut codes = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
    for chunk in chunks {
        let ArrowDataType::Dictionary(key, _, _) = chunk.dtype() else {
            polars_bail!(ComputeError: "expected a dictionary array, found {:?}", chunk.dtype());
        };
        let arr = chunk.as_ref();
        match key {
            IntegerType::Int8 => remap::<i8>(arr, &dtype, &mut codes),
            IntegerType::Int16 => remap::<i16>(arr, &dtype, &mut codes),
            IntegerType::Int32 => remap::<i32>(arr, &dtype, &mut codes),
            IntegerType::Int64 => remap::<i64>(arr, &dtype, &mut codes),
            IntegerType::UInt8 => remap::<u8>(arr, &dtype, &mut codes),
            IntegerType::UInt16 => remap::<u16>(arr, &dtype, &mut codes),
            IntegerType::UInt32 => remap::<u32>(arr, &dtype, &mut codes),
            IntegerType::UInt64 => remap::<u64>(arr, &dtype, &mut codes),
            other => polars_bail!(ComputeError: "unsupported dictionary key type {:?}", other),
        }?;
    }
    let validity = codes
        .contains(&MISSING)
        .then(|| Bitmap::from_iter(codes.iter().map(|&c| c != MISSING)));
    if validity.is_some() {
        codes
            .iter_mut()
            .filter(|c| **c == MISSING)
            .for_each(|c| *c = 0);
    }
    let codes = UInt32Chunked::from_vec_validity(name, codes, validity);
    let physical = dtype.cat_physical()?;
    with_match_categorical_physical_type!(physical, |$C| {
        let phys = codes.cast(&physical.dtype())?;
        let phys = phys.to_physical_repr();
        let phys: &ChunkedArray<<$C as PolarsCategoricalType>::PolarsPhysical> =
            phys.as_ref().as_ref().as_ref();
        // SAFETY: every code was given by the dtype's own mapping.
        let ca = unsafe {
            CategoricalChunked::<$C>::from_cats_and_dtype_unchecked(phys.clone(), dtype.clone())
        };
        Ok(ca.into_series())
    })
}

/// The code of a null row while codes are collected.
const MISSING: u32 = u32::MAX;

/// Appends the category code of every key of the dictionary array `arr`, [`MISSING`]
/// for a null key or a value outside the dtype's categories.
fn remap<K: DictionaryKey>(
    arr: &dyn Array,
    dtype: &DataType,
    codes: &mut Vec<u32>,
) -> PolarsResult<()> {
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
        .map(|v| match (v, dtype) {
            (None, _) => Ok(MISSING),
            (Some(v), DataType::Enum(..)) => Ok(mapping.get_cat(v).unwrap_or(MISSING)),
            (Some(v), _) => mapping.insert_cat(v),
        })
        .collect::<PolarsResult<Vec<u32>>>()?;
    let keys = arr.keys();
    let code = |k: K| -> u32 {
        let k: Option<usize> = k.try_into().ok();
        k.and_then(|k| table.get(k).copied()).unwrap_or(MISSING)
    };
    match keys.validity().filter(|v| v.unset_bits() > 0) {
        None => codes.extend(keys.values().iter().map(|&k| code(k))),
        Some(valid) => codes.extend(keys.values().iter().zip(valid.iter()).map(|(&k, ok)| {
            if ok {
                code(k)
            } else {
                MISSING
            }
        })),
    }
    Ok(())
}
