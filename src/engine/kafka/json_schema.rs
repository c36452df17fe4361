//! Flink columns to and from JSON Schema. STUB: being written.

use crate::engine::FlinkType;

/// The JSON Schema text registered for `columns`.
pub fn to_json_schema(_columns: &[(String, FlinkType)]) -> Result<String, String> {
    Err("not implemented".into())
}

/// The columns a registered JSON Schema describes.
pub fn from_json_schema(_text: &str) -> Result<Vec<(String, FlinkType)>, String> {
    Err("not implemented".into())
}
