//! Force-sampling on exported spans: with a sampling ratio of 0, what is marked in code
//! or asked for by the server layer's header is still recorded, with its children, and
//! nothing else is. Alone in its test binary (the global subscriber).

use aitrace::core::sampling;
use aitrace::http::ServerLayer;
use aitrace::insight::tracefile::{self, AttrValue};
use aitrace::{Exporter, Telemetry};
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::FutureExt as _;
use tower::ServiceExt;

async fn handler() -> &'static str {
    let _inner = tracing::info_span!("handler work").entered();
    "ok"
}

async fn get_with(app: &Router, path: &str, header: Option<&str>) {
    let mut request = http::Request::get(path);
    if let Some(value) = header {
        request = request.header("x-debug-trace", value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn forced_contexts_are_kept_at_a_zero_ratio() {
    let dir = std::env::temp_dir().join(format!("aitrace-force-sample-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = Telemetry::builder()
        .service_name("force-sample")
        .exporter(Exporter::File { dir: dir.clone() })
        .sampling_ratio(0.0)
        .log_layer(false)
        .logs(false)
        .metrics(false)
        .print_tree(false)
        .init()
        .expect("setup");

    // In code, synchronous and async.
    drop(tracing::info_span!("sampled out").entered());
    {
        let _forced = sampling::force_current();
        let root = tracing::info_span!("forced in code").entered();
        drop(tracing::info_span!("child of forced").entered());
        drop(root);
    }
    async {
        drop(tracing::info_span!("forced future").entered());
    }
    .with_context(sampling::forced(&opentelemetry::Context::current()))
    .await;

    // Over HTTP, through the server layer.
    let app = Router::new().route("/a", get(handler)).layer(
        ServerLayer::new().force_sample_header(http::HeaderName::from_static("x-debug-trace")),
    );
    get_with(&app, "/a", Some("1")).await;
    get_with(&app, "/a", None).await;
    get_with(&app, "/a", Some("false")).await;

    let file = guard.shutdown().expect("trace file");
    let spans = tracefile::read_file(&file).expect("spans were exported");
    // The server span is `GET /a` with the `axum` feature, `GET` without.
    let mut names: Vec<&str> = spans
        .iter()
        .map(|s| {
            if s.name.starts_with("GET") {
                "GET"
            } else {
                s.name.as_str()
            }
        })
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "GET",
            "child of forced",
            "forced future",
            "forced in code",
            "handler work"
        ]
    );
    let server = spans
        .iter()
        .find(|s| s.name.starts_with("GET"))
        .expect("server span");
    let work = spans
        .iter()
        .find(|s| s.name == "handler work")
        .expect("handler span");
    assert_eq!(work.parent_span_id, server.span_id);
    // Marked for a collector's tail sampling.
    for span in &spans {
        assert_eq!(
            span.attr(sampling::FORCED_ATTRIBUTE),
            Some(&AttrValue::Bool(true)),
            "{}",
            span.name
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
