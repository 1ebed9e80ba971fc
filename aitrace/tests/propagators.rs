//! The pipeline installs W3C trace context and W3C baggage propagators, so trace ids and
//! the ids an application opts to send in baggage reach other services.

#[test]
fn trace_context_and_baggage_are_propagated() {
    let guard = aitrace::Telemetry::builder()
        .service_name("propagators")
        .exporter(aitrace::Exporter::None)
        .install_subscriber(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("init");
    let fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert!(fields.contains(&"traceparent".to_owned()), "{fields:?}");
    assert!(fields.contains(&"tracestate".to_owned()), "{fields:?}");
    assert!(fields.contains(&"baggage".to_owned()), "{fields:?}");
    drop(guard);
}
