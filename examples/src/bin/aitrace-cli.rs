//! The `aitrace` command, built with the demo: `cargo run -p aitrace-examples --bin
//! aitrace-cli -- tree` reads the demo's trace without compiling anything again (`cargo
//! run -p aitrace-cli` resolves features for the command alone, so it rebuilds the
//! crates the two share).

fn main() -> std::process::ExitCode {
    aitrace_cli::main()
}
