//! The `aitrace` command (see the library's docs).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    aitrace_cli::main()
}
