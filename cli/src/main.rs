//! The `aitrace` command (being built).
fn main() {
    eprintln!("aitrace: not built yet");
    std::process::exit(2);
}
