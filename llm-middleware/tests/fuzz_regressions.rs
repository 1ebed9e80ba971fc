//! The inputs the fuzzer found interesting (`fuzz_regressions/<target>/`, kept from
//! `cargo fuzz` runs of the targets in `fuzz/`), fed through the same checks the
//! fuzzer ran (`fuzz_regressions/checks.rs`): no panic, invariants hold. CI runs these,
//! not the fuzzer.

#[path = "fuzz_regressions/checks.rs"]
mod checks;

use std::path::Path;

fn run_target(name: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(name);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in &entries {
        let input = std::fs::read(path).expect("readable input");
        let outcome = std::panic::catch_unwind(|| check(&input));
        assert!(
            outcome.is_ok(),
            "{name}: input {} fails its checks",
            path.display()
        );
    }
    entries.len()
}

#[test]
fn every_kept_fuzz_input_passes_its_checks() {
    let mut total = 0;
    for (name, check) in checks::TARGETS {
        let n = run_target(name, *check);
        assert!(n > 0, "no kept inputs for fuzz target {name}");
        total += n;
    }
    assert!(total >= checks::TARGETS.len());
}
