//! Flink's numeric functions whose result type differs from DataFusion's: `FLOOR` and `CEIL`
//! of a DECIMAL(p, s) are DECIMAL(1 + p - s, 0) (Flink's `findRoundDecimalType` for 0 places;
//! DataFusion keeps the scale: `1.0` for `FLOOR(1.7)`),
//! of an integer the integer itself (DataFusion: a DOUBLE); `SIGN` has the argument's type
//! (DataFusion has only `signum`, a DOUBLE).

use std::sync::Arc;

use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

pub(super) fn register(ctx: &SessionContext) {
    use datafusion::functions::math;
    for (name, inner) in [
        ("floor", math::floor()),
        ("ceil", math::ceil()),
        ("sign", math::signum()),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(Typed::new(name, inner)));
    }
}

/// `inner` (DataFusion's `floor`, `ceil` or `signum`) with Flink's argument and result types.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Typed {
    name: &'static str,
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl Typed {
    fn new(name: &'static str, inner: Arc<ScalarUDF>) -> Self {
        Self {
            name,
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn is_sign(&self) -> bool {
        self.name == "sign"
    }
}

impl ScalarUDFImpl for Typed {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_floating() || is_decimal(t) => Ok(vec![t.clone()]),
            [DataType::Null] => Ok(vec![DataType::Float64]),
            [t] => Err(DataFusionError::Plan(format!(
                "{} takes a number, not {t}",
                self.name.to_ascii_uppercase()
            ))),
            _ => Err(DataFusionError::Plan(format!(
                "{} takes one argument",
                self.name.to_ascii_uppercase()
            ))),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match &arg_types[0] {
            DataType::Decimal128(p, s) if !self.is_sign() => {
                DataType::Decimal128(no_scale(*p, *s, 38), 0)
            }
            DataType::Decimal256(p, s) if !self.is_sign() => {
                DataType::Decimal256(no_scale(*p, *s, 76), 0)
            }
            t => t.clone(),
        })
    }
    fn is_strict(&self) -> bool {
        true
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes one argument",
                self.name.to_ascii_uppercase()
            )));
        };
        let input = arg.data_type();
        let out_type = args.return_field.data_type().clone();
        // FLOOR and CEIL of an integer are the integer.
        if input.is_integer() && !self.is_sign() {
            return Ok(arg.clone());
        }
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(if scalar { 1 } else { args.number_rows })?;
        // DataFusion's signum computes in DOUBLE; -1, 0 and 1 convert back exactly.
        let computed = if self.is_sign() && !input.is_floating() {
            let as_double = cast(&array, &DataType::Float64)?;
            self.invoke_inner(&args, as_double)?
        } else if let DataType::Decimal128(p, s) = &input {
            // One more digit, so that CEIL(9.9) has room for 10 before the scale goes.
            let wider = cast(&array, &DataType::Decimal128((*p + 1).min(38), *s))?;
            self.invoke_inner(&args, wider)?
        } else {
            self.invoke_inner(&args, array)?
        };
        let out = cast(&computed, &out_type)?;
        super::result(out, scalar)
    }
}

impl Typed {
    fn invoke_inner(
        &self,
        args: &ScalarFunctionArgs,
        array: datafusion::arrow::array::ArrayRef,
    ) -> DfResult<datafusion::arrow::array::ArrayRef> {
        let t = array.data_type().clone();
        let field = Arc::new(datafusion::arrow::datatypes::Field::new(
            "x",
            t.clone(),
            true,
        ));
        let inner_args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(array.clone())],
            arg_fields: vec![field.clone()],
            number_rows: array.len(),
            return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                self.name,
                self.inner.return_type(&[t])?,
                true,
            )),
            config_options: args.config_options.clone(),
        };
        self.inner
            .invoke_with_args(inner_args)?
            .to_array(array.len())
    }
}

fn is_decimal(t: &DataType) -> bool {
    matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// The precision of a DECIMAL(p, s) rounded to no fraction digits (one more integer digit).
fn no_scale(p: u8, s: i8, max: u8) -> u8 {
    if s <= 0 {
        return p;
    }
    (1 + p).saturating_sub(s.unsigned_abs()).clamp(1, max)
}
