//! `https://` collectors: the exporters speak TLS (feature `tls` = `tls-aws-lc`, on by default, or `tls-ring`).
//! A plain TCP listener stands in for the collector and checks that what arrives is a
//! TLS handshake, over OTLP/HTTP and over OTLP/gRPC.
#![cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aitrace::{Exporter, Protocol, Telemetry};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

/// The first bytes a client sends to the listener (waits up to 10 s).
fn first_bytes(listener: &TcpListener) -> Vec<u8> {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut buf = [0u8; 3];
                stream.read_exact(&mut buf).unwrap();
                return buf.to_vec();
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("no connection from the exporter: {e}"),
        }
    }
}

fn exports_over_tls(protocol: Protocol) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let guard = Telemetry::builder()
        .exporter(Exporter::Otlp {
            endpoint: Some(format!("https://127.0.0.1:{port}")),
            protocol,
        })
        .install_subscriber(false)
        .metrics(false)
        .shutdown_timeout(Duration::from_secs(1))
        .export_timeout(Duration::from_secs(1))
        .init()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("tls-test");
    tracer.start("over tls").end();
    // Export in the background; the listener never completes the handshake.
    let flusher = std::thread::spawn(move || {
        guard.flush();
        drop(guard);
    });
    let bytes = first_bytes(&listener);
    // A TLS record: content type 22 (handshake), version 3.x.
    assert_eq!(
        bytes[0], 0x16,
        "{protocol:?}: not a TLS handshake: {bytes:?}"
    );
    assert_eq!(
        bytes[1], 0x03,
        "{protocol:?}: not a TLS handshake: {bytes:?}"
    );
    drop(listener);
    flusher.join().unwrap();
}

#[test]
fn otlp_http_speaks_tls_to_https_endpoints() {
    exports_over_tls(Protocol::HttpProtobuf);
}

#[test]
fn otlp_grpc_speaks_tls_to_https_endpoints() {
    exports_over_tls(Protocol::Grpc);
}
