//! Integration tests of aitrace-tool through its public API, asserting on the spans a
//! collector would receive (one binary: the telemetry is installed once; each test
//! runs in a trace of its own).

mod helpers;

mod agent;
mod bad_input;
mod budget;
mod tool;
