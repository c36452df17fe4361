//! Flink's `TO_BASE64` (a STRING, padded: `aGVsbG8gd29ybGQ=`) and `FROM_BASE64` (BYTES), which
//! DataFusion has only as `encode`/`decode` without padding.

use datafusion::arrow::array::{ArrayRef, BinaryBuilder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{arrays, result, str_at};

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(Base64 {
        to: true,
        signature: Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Binary]),
            ],
            Volatility::Immutable,
        ),
    }));
    ctx.register_udf(ScalarUDF::from(Base64 {
        to: false,
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Base64 {
    /// `TO_BASE64` (else `FROM_BASE64`).
    to: bool,
    signature: Signature,
}

impl ScalarUDFImpl for Base64 {
    fn name(&self) -> &str {
        if self.to { "to_base64" } else { "from_base64" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(if self.to {
            DataType::Utf8
        } else {
            DataType::Binary
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let (arrays, scalar) = arrays(&args)?;
        let input = &arrays[0];
        let out: ArrayRef = if self.to {
            let mut b = StringBuilder::with_capacity(input.len(), input.len() * 16);
            for i in 0..input.len() {
                match bytes_at(input, i) {
                    Some(bytes) => b.append_value(STANDARD.encode(bytes)),
                    None => b.append_null(),
                }
            }
            std::sync::Arc::new(b.finish())
        } else {
            // Flink's job fails on a string that is not base64 (Java's decoder throws).
            let mut b = BinaryBuilder::with_capacity(input.len(), input.len() * 16);
            for i in 0..input.len() {
                match str_at(input, i) {
                    Some(s) => b.append_value(STANDARD.decode(s).map_err(|_| {
                        DataFusionError::Execution("FROM_BASE64: the argument is not base64".into())
                    })?),
                    None => b.append_null(),
                }
            }
            std::sync::Arc::new(b.finish())
        };
        result(out, scalar)
    }
}

fn bytes_at(array: &ArrayRef, i: usize) -> Option<&[u8]> {
    use datafusion::arrow::array::{Array, AsArray};
    if array.is_null(i) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(i)),
        _ => str_at(array, i).map(str::as_bytes),
    }
}
