//! A `POST …/statements` (and `PATCH`) body through decoding, the request checks and the
//! echoed Statement (`sqlgate::fuzzing::create_statement_request`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sqlgate::fuzzing::create_statement_request(data));
