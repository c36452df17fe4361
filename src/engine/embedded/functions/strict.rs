//! DataFusion functions whose NULL handling differs from Flink's, wrapped: Flink's `CONCAT`,
//! `GREATEST` and `LEAST` return NULL when any argument is NULL, where DataFusion's skip NULL
//! arguments. [`Strict`] is the DataFusion function with that one difference, registered under
//! the same name (so it replaces DataFusion's).

use std::sync::Arc;

use datafusion::arrow::array::{Array, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

pub(super) fn register(ctx: &SessionContext) {
    use datafusion::functions::{core, string};
    for inner in [string::concat(), core::greatest(), core::least()] {
        ctx.register_udf(ScalarUDF::new_from_impl(Strict { inner }));
    }
}

/// `inner`, except that a NULL argument makes the result NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Strict {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for Strict {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn is_strict(&self) -> bool {
        true
    }
    // No `simplify`: DataFusion's `concat` simplifies by dropping NULL arguments.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let null_scalar = args
            .args
            .iter()
            .any(|a| matches!(a, ColumnarValue::Scalar(s) if s.is_null()));
        if null_scalar {
            let t = args.return_field.data_type().clone();
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&t)?));
        }
        let nulls = args
            .args
            .iter()
            .filter_map(|a| match a {
                ColumnarValue::Array(a) => a.logical_nulls(),
                ColumnarValue::Scalar(_) => None,
            })
            .fold(None, |acc: Option<NullBuffer>, n| {
                NullBuffer::union(acc.as_ref(), Some(&n))
            });
        let out = self.inner.invoke_with_args(args)?;
        match (out, nulls) {
            (ColumnarValue::Array(a), Some(nulls)) => {
                let all = NullBuffer::union(a.logical_nulls().as_ref(), Some(&nulls));
                let data = a.to_data().into_builder().nulls(all).build()?;
                Ok(ColumnarValue::Array(make_array(data)))
            }
            (out, _) => Ok(out),
        }
    }
}
