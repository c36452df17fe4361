//! Bytes as audit log files and a checkpoint file through verify and query
//! (`sqlgate::fuzzing::audit_reader`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqlgate::fuzzing::audit_reader(data));
