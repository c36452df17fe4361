//! Flink's `AVG` (its `AvgAggFunction` and `LogicalTypeMerging.findAvgAggType`), registered as
//! `avg`, replacing DataFusion's:
//! * of an integer column: an integer of the column's type, the sum divided by the count and
//!   truncated toward zero (`AVG` of 1 and 2 is 1), where DataFusion's is a DOUBLE (1.5);
//! * of a DECIMAL(p, s): a DECIMAL(38, max(6, s)) rounded HALF_UP, where DataFusion's is a
//!   DECIMAL(p + 4, s + 4) (`AVG` of 1.0 and 2.0 is 1.500000, not 1.50000).
//!
//! Both are exact (a 128-bit sum). Every other argument type is DataFusion's `avg`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Int64Type, UInt64Type,
};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, ReversedUDAF, Signature,
    TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

pub(super) fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(FlinkAvg::new()));
}

const INTEGERS: [DataType; 8] = [
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::UInt8,
    DataType::UInt16,
    DataType::UInt32,
    DataType::UInt64,
];

#[derive(Debug, PartialEq, Eq, Hash)]
struct FlinkAvg {
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl FlinkAvg {
    fn new() -> Self {
        let inner = datafusion::functions_aggregate::average::avg_udaf();
        let signature = Signature::new(
            TypeSignature::OneOf(vec![
                TypeSignature::Uniform(1, INTEGERS.to_vec()),
                inner.signature().type_signature.clone(),
            ]),
            Volatility::Immutable,
        );
        Self { inner, signature }
    }
}

impl AggregateUDFImpl for FlinkAvg {
    fn name(&self) -> &str {
        "avg"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match arg_types {
            [t] if t.is_integer() => Ok(t.clone()),
            [DataType::Decimal128(_, s)] => Ok(DataType::Decimal128(38, (*s).max(6))),
            _ => self.inner.return_type(arg_types),
        }
    }
    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let Some(kind) = Kind::of(&args) else {
            return self.inner.accumulator(args);
        };
        if args.is_distinct {
            return Err(DataFusionError::NotImplemented(
                "the embedded engine has no AVG(DISTINCT …) of an integer or DECIMAL column".into(),
            ));
        }
        Ok(Box::new(Exact {
            sum: 0,
            count: 0,
            kind,
        }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        if !exact(args.return_field.data_type()) {
            return self.inner.state_fields(args);
        }
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[count]", args.name),
                DataType::UInt64,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[sum]", args.name),
                DataType::Decimal128(38, 0),
                true,
            )),
        ])
    }
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !exact(args.return_field.data_type()) && self.inner.groups_accumulator_supported(args)
    }
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> DfResult<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }
    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        if exact(args.return_field.data_type()) {
            return self.accumulator(args);
        }
        self.inner.create_sliding_accumulator(args)
    }
    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// Whether `AVG` with this result type is computed here (else by DataFusion's).
fn exact(out: &DataType) -> bool {
    out.is_integer() || matches!(out, DataType::Decimal128(..))
}

/// What an [`Exact`] average sums and returns.
#[derive(Debug)]
enum Kind {
    /// An integer column; the result has its type.
    Int(DataType),
    /// A DECIMAL(_, `scale`) column; the result is a DECIMAL(38, `out_scale`).
    Decimal { scale: i8, out_scale: i8 },
}

impl Kind {
    fn of(args: &AccumulatorArgs) -> Option<Self> {
        let out = args.return_field.data_type();
        if out.is_integer() {
            return Some(Kind::Int(out.clone()));
        }
        match (args.expr_fields.first()?.data_type(), out) {
            (DataType::Decimal128(_, scale), DataType::Decimal128(_, out_scale)) => {
                Some(Kind::Decimal {
                    scale: *scale,
                    out_scale: *out_scale,
                })
            }
            _ => None,
        }
    }
}

/// The sum (exact, in 128 bits, unscaled for a DECIMAL) and count of a column.
#[derive(Debug)]
struct Exact {
    sum: i128,
    count: u64,
    kind: Kind,
}

impl Exact {
    fn add(&mut self, values: &ArrayRef, sign: i128) -> DfResult<()> {
        let mut each = |v: i128| -> DfResult<()> {
            self.sum = self
                .sum
                .checked_add(sign * v)
                .ok_or_else(|| DataFusionError::Execution("AVG overflowed its sum".into()))?;
            if sign > 0 {
                self.count += 1;
            } else {
                self.count = self.count.saturating_sub(1);
            }
            Ok(())
        };
        match &self.kind {
            Kind::Int(_) => {
                let values = cast(values, &DataType::Int64)?;
                for v in values.as_primitive::<Int64Type>().iter().flatten() {
                    each(i128::from(v))?;
                }
            }
            Kind::Decimal { .. } => {
                for v in values.as_primitive::<Decimal128Type>().iter().flatten() {
                    each(v)?;
                }
            }
        }
        Ok(())
    }
}

impl Accumulator for Exact {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.add(&values[0], 1)
    }
    fn retract_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.add(&values[0], -1)
    }
    fn supports_retract_batch(&self) -> bool {
        true
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let counts = states[0].as_primitive::<UInt64Type>();
        let sums = states[1].as_primitive::<Decimal128Type>();
        for i in 0..counts.len() {
            if counts.is_valid(i) && sums.is_valid(i) {
                self.count += counts.value(i);
                self.sum = self
                    .sum
                    .checked_add(sums.value(i))
                    .ok_or_else(|| DataFusionError::Execution("AVG overflowed its sum".into()))?;
            }
        }
        Ok(())
    }
    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.count)),
            ScalarValue::Decimal128(Some(self.sum), 38, 0),
        ])
    }
    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let count = i128::from(self.count);
        match &self.kind {
            Kind::Int(out) if count == 0 => ScalarValue::try_from(out),
            Kind::Decimal { out_scale, .. } if count == 0 => {
                Ok(ScalarValue::Decimal128(None, 38, *out_scale))
            }
            // Integer division truncates toward zero, as Flink's (Java's) does.
            Kind::Int(out) => {
                let avg = i64::try_from(self.sum / count)
                    .map_err(|_| DataFusionError::Execution("AVG overflowed BIGINT".into()))?;
                ScalarValue::Int64(Some(avg)).cast_to(out)
            }
            Kind::Decimal { scale, out_scale } => {
                let up = 10i128
                    .checked_pow(u32::try_from(out_scale - scale).unwrap_or(0))
                    .and_then(|f| self.sum.checked_mul(f))
                    .ok_or_else(|| {
                        DataFusionError::Execution("AVG overflowed DECIMAL(38)".into())
                    })?;
                // HALF_UP: away from zero at exactly one half.
                let (q, r) = (up / count, up % count);
                let q = if 2 * r.abs() >= count {
                    q + up.signum()
                } else {
                    q
                };
                Ok(ScalarValue::Decimal128(Some(q), 38, *out_scale))
            }
        }
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
