//! `FLOOR(t TO unit)` keeps the type of `t`, as Flink's does: a DATE floors to a DATE
//! (`FLOOR(DATE '1994-09-27' TO MONTH)` is `1994-09-01`), where DataFusion's `date_trunc` makes
//! every value a TIMESTAMP. `dialect` rewrites `FLOOR`/`CEIL(t TO unit)` to [`FLOOR_TO`].

use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// The name [`FloorTo`] is registered under.
pub(crate) const FLOOR_TO: &str = "sqlgate_floor_to";

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(FloorTo {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

/// `sqlgate_floor_to(unit, t)`: DataFusion's `date_trunc(unit, t)` in the type of `t`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FloorTo {
    signature: Signature,
}

impl ScalarUDFImpl for FloorTo {
    fn name(&self) -> &str {
        FLOOR_TO
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [
                _,
                t @ (DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)),
            ] => Ok(vec![DataType::Utf8, t.clone()]),
            [_, t] => Err(DataFusionError::Plan(format!(
                "FLOOR/CEIL … TO takes a DATE or a TIMESTAMP, not {t}"
            ))),
            _ => Err(DataFusionError::Plan(
                "FLOOR/CEIL … TO takes a value and a unit".into(),
            )),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(arg_types[1].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [unit, value] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(
                "FLOOR/CEIL … TO takes a value and a unit".into(),
            ));
        };
        let out_type = value.data_type();
        let ts_type = match &out_type {
            DataType::Timestamp(..) => out_type.clone(),
            _ => DataType::Timestamp(TimeUnit::Nanosecond, None),
        };
        let scalar = matches!(value, ColumnarValue::Scalar(_));
        let rows = if scalar { 1 } else { args.number_rows };
        let ts = cast(&value.to_array(rows)?, &ts_type)?;
        let inner = datafusion::functions::datetime::date_trunc();
        let truncated = inner
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![unit.clone(), ColumnarValue::Array(ts)],
                arg_fields: vec![
                    Arc::new(Field::new("unit", DataType::Utf8, false)),
                    Arc::new(Field::new("t", ts_type.clone(), true)),
                ],
                number_rows: rows,
                return_field: Arc::new(Field::new("date_trunc", ts_type, true)),
                config_options: args.config_options.clone(),
            })?
            .to_array(rows)?;
        let out = cast(&truncated, &out_type)?;
        super::result(out, scalar)
    }
}
