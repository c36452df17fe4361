//! Flink's system functions where DataFusion has none or gives a different answer, as
//! DataFusion UDFs registered in the engine's context (under Flink's names, replacing
//! DataFusion's function of the same name where its meaning differs). The call shapes DataFusion
//! can express itself (`MOD`, `IF`, `TIMESTAMPADD`, casts to strings) are mapped in `dialect`.
//! `tests/fixtures/functions.tsv` is the conformance table: each function with sample inputs
//! and Flink's documented result, run against this engine by `tests::functions`.
//!
//! All of them compute in UTC: the embedded engine refuses another `sql.local-time-zone`.

mod avg;
mod codec;
mod numeric;
mod strict;
mod temporal;
mod text;
mod trunc;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers every function of this module in `ctx`.
pub(crate) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(ToFlinkString::new()));
    temporal::register(ctx);
    text::register(ctx);
    strict::register(ctx);
    numeric::register(ctx);
    codec::register(ctx);
    avg::register(ctx);
    trunc::register(ctx);
}

pub(crate) use trunc::FLOOR_TO;

/// The name [`ToFlinkString`] is registered under (`dialect` rewrites casts to strings to it).
pub(crate) const TO_STRING: &str = "sqlgate_flink_string";

/// `CAST(x AS STRING)` with Flink's spelling of each value: `TRUE`/`FALSE`, timestamps with
/// a space and the fraction of their precision, doubles as Java prints them, decimals with
/// their scale; bytes decoded as UTF-8. Nested values fall back to DataFusion's cast.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToFlinkString {
    signature: Signature,
}

impl ToFlinkString {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToFlinkString {
    fn name(&self) -> &str {
        TO_STRING
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Plan("CAST takes one value".into()));
        };
        let array = arg.to_array(args.number_rows)?;
        let out: ArrayRef = match array.data_type() {
            DataType::Utf8 => array,
            // Flink decodes bytes as UTF-8 (the wire's `x'…'` is the BYTES value's spelling).
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..) => datafusion::arrow::compute::cast(&array, &DataType::Utf8)?,
            _ => {
                let mut b = StringBuilder::with_capacity(array.len(), array.len() * 8);
                for i in 0..array.len() {
                    match flink_string(array.as_ref(), i)? {
                        Some(s) => b.append_value(s),
                        None => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(match arg {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(out.as_ref(), 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(out),
        })
    }
}

/// One value as Flink's CAST to STRING spells it (`None` for NULL).
fn flink_string(array: &dyn Array, i: usize) -> DfResult<Option<String>> {
    let v = super::encode::encode_value(array, i)
        .map_err(|e| DataFusionError::Execution(e.detail()))?;
    let serde_json::Value::String(mut s) = v else {
        return Ok(None);
    };
    // DataFusion types a TIMESTAMP literal in nanoseconds, which would show six fraction digits
    // where Flink shows the literal's own precision: trailing zeros of the fraction go.
    if matches!(
        array.data_type(),
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, _)
    ) && let Some(dot) = s.rfind('.')
    {
        let trimmed = s.trim_end_matches('0').len();
        s.truncate(if trimmed == dot + 1 { dot } else { trimmed });
    }
    Ok(Some(s))
}

/// A UTF-8 argument of a row (`None` for NULL), for the functions taking strings.
pub(super) fn str_at(array: &ArrayRef, i: usize) -> Option<&str> {
    use datafusion::arrow::array::AsArray;
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(array.as_string_view().value(i)),
        _ => None,
    }
}

/// An integer argument of a row, whatever its integer type (`None` for NULL or a value that
/// is no integer).
pub(super) fn int_at(array: &ArrayRef, i: usize) -> Option<i64> {
    use datafusion::arrow::array::AsArray;
    if array.is_null(i) {
        return None;
    }
    let as64 = datafusion::arrow::compute::cast(&array.slice(i, 1), &DataType::Int64).ok()?;
    let p = as64.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    (!p.is_null(0)).then(|| p.value(0))
}

/// Every argument as an array of `rows` rows, and whether all were scalars (then the result
/// is one too).
pub(super) fn arrays(args: &ScalarFunctionArgs) -> DfResult<(Vec<ArrayRef>, bool)> {
    let scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if scalar { 1 } else { args.number_rows };
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<DfResult<Vec<_>>>()?;
    Ok((arrays, scalar))
}

/// `out` as the result of a call whose arguments were all scalars (`scalar`) or not.
pub(super) fn result(out: ArrayRef, scalar: bool) -> DfResult<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            out.as_ref(),
            0,
        )?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}
