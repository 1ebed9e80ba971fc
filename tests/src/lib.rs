//! End-to-end tests of AITrace against a real OTLP receiver live in `tests/`.
#![forbid(unsafe_code)]
