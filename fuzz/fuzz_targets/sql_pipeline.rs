//! Statement text through parse → resolve → authorize → rewrite → render, and the canonical
//! round trip (`sqlgate::fuzzing::sql_pipeline`), on a stack like the gateway's decision
//! workers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sqlgate::fuzzing::on_decision_stack(|| sqlgate::fuzzing::sql_pipeline(data));
});
