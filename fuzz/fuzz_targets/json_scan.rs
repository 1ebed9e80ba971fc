#![no_main]

#[path = "../../llm-middleware/tests/fuzz_regressions/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::json_scan(data));
