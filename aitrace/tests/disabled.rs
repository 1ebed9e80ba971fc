//! `OTEL_SDK_DISABLED=true` installs nothing.

#[test]
fn sdk_disabled_installs_nothing() {
    let dir = std::env::temp_dir().join(format!("aitrace-disabled-{}", std::process::id()));
    // Set before any thread starts: this test binary has only this test.
    std::env::set_var("OTEL_SDK_DISABLED", "true");
    std::env::set_var("AITRACE_TRACE_DIR", &dir);
    let guard = aitrace::init().expect("init");
    assert!(!guard.is_enabled());
    assert!(guard.trace_file().is_none());
    assert!(
        !tracing::dispatcher::has_been_set(),
        "no subscriber installed"
    );
    tracing::info_span!("nothing").in_scope(|| tracing::info!("dropped"));
    drop(guard);
    assert!(!dir.exists(), "no trace directory created");
}
