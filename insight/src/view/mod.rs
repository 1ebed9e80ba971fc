//! `aitrace view`: a local trace viewer, served over HTTP to a browser (feature `view`).
//!
//! The server indexes the trace files it is given (per file, the byte offsets of the
//! lines of each trace and a per-trace summary), watches them grow (every 250 ms;
//! rotated or cut files are re-read), reads a trace's lines only when it is opened,
//! and serves a single-page app compiled into the binary with a strict
//! Content-Security-Policy. With [`ViewOptions::otlp`] it also receives OTLP/HTTP
//! (`POST /v1/traces`, JSON and protobuf) and appends what arrives to
//! `<trace dir>/trace-otlp-<pid>.jsonl`, so nothing is lost when the viewer stops.
//!
//! The HTTP API is documented in `API.md` next to this module's source.
//!
//! ```no_run
//! use aitrace_insight::view::{ViewOptions, Viewer};
//!
//! # fn main() -> std::io::Result<()> {
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let viewer = Viewer::bind(ViewOptions::new(vec!["traces".into()])).await?;
//!     println!("aitrace view: {}", viewer.url());
//!     viewer.run().await
//! })
//! # }
//! ```

mod compare;
mod diff;
mod index;
mod model;
mod server;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Trace files and directories (a directory: every `*.jsonl` in it, new ones
    /// included as they appear; a file: its whole rotated set).
    pub inputs: Vec<PathBuf>,
    /// Where OTLP data received with [`ViewOptions::otlp`] is written
    /// (`trace-otlp-<pid>.jsonl`). Default `AITRACE_TRACE_DIR`, else `traces`.
    pub trace_dir: PathBuf,
    /// The address to listen on. Default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    /// Also receive OTLP/HTTP traces on `POST /v1/traces`.
    pub otlp: bool,
    /// Also listen for OTLP/HTTP on this port (4318 is the standard one), on the
    /// same IP as [`ViewOptions::bind`]. Implies [`ViewOptions::otlp`].
    pub otlp_port: Option<u16>,
    /// How often the files are checked for new spans. Default 250 ms.
    pub poll_interval: Duration,
}

impl ViewOptions {
    /// Options for `inputs`, with the defaults.
    ///
    /// ```
    /// use aitrace_insight::view::ViewOptions;
    ///
    /// let options = ViewOptions::new(vec!["traces".into()]);
    /// assert!(options.bind.ip().is_loopback());
    /// assert_eq!(options.bind.port(), 0);
    /// ```
    pub fn new(inputs: Vec<PathBuf>) -> ViewOptions {
        ViewOptions {
            inputs,
            trace_dir: default_trace_dir(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            otlp: false,
            otlp_port: None,
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// Binds and serves on a Tokio runtime of its own, blocking the calling thread (for a
/// command without a runtime). `ready` is called once the listeners are open, with
/// the viewer (print its [`Viewer::url`] there).
///
/// ```no_run
/// use aitrace_insight::view::{serve_blocking, ViewOptions};
///
/// serve_blocking(ViewOptions::new(vec!["traces".into()]), |viewer| {
///     println!("aitrace view: {}", viewer.url());
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_blocking(options: ViewOptions, ready: impl FnOnce(&Viewer)) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let viewer = Viewer::bind(options).await?;
        ready(&viewer);
        viewer.run().await
    })
}

/// `AITRACE_TRACE_DIR`, else `traces` (where the file exporter writes by default).
pub fn default_trace_dir() -> PathBuf {
    std::env::var_os("AITRACE_TRACE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("traces"), PathBuf::from)
}

/// A bound viewer: the listeners are open (so the URL is known), serving starts with
/// [`Viewer::run`].
pub struct Viewer {
    shared: Arc<server::Shared>,
    listener: tokio::net::TcpListener,
    otlp_listener: Option<tokio::net::TcpListener>,
    addr: SocketAddr,
    otlp_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("addr", &self.addr)
            .field("otlp_addr", &self.otlp_addr)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    /// Opens the listeners. Must be called within a Tokio runtime (with I/O and time
    /// enabled). Indexing starts when [`Viewer::run`] runs; the list fills as it goes.
    pub async fn bind(options: ViewOptions) -> io::Result<Viewer> {
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let otlp_listener = match options.otlp_port {
            Some(port) => {
                Some(tokio::net::TcpListener::bind(SocketAddr::new(options.bind.ip(), port)).await?)
            }
            None => None,
        };
        let otlp_addr = match &otlp_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let mut ports = vec![addr.port()];
        ports.extend(otlp_addr.map(|a| a.port()));
        let shared = Arc::new(server::Shared::new(&options, addr.ip(), ports));
        Ok(Viewer {
            shared,
            listener,
            otlp_listener,
            addr,
            otlp_addr,
        })
    }

    /// The address the viewer listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The extra OTLP/HTTP listener's address ([`ViewOptions::otlp_port`]).
    pub fn otlp_addr(&self) -> Option<SocketAddr> {
        self.otlp_addr
    }

    /// The URL to open in a browser.
    pub fn url(&self) -> String {
        match self.addr.ip() {
            ip if ip.is_unspecified() => format!("http://127.0.0.1:{}/", self.addr.port()),
            _ => format!("http://{}/", self.addr),
        }
    }

    /// Serves until an I/O error stops the listener (or the task is dropped).
    pub async fn run(self) -> io::Result<()> {
        let poller = tokio::spawn(server::poll(self.shared.clone()));
        let app = server::router(self.shared.clone());
        let otlp = self.otlp_listener.map(|listener| {
            let app = server::router(self.shared.clone());
            tokio::spawn(async move { axum::serve(listener, app).await })
        });
        let served = axum::serve(self.listener, app).await;
        poller.abort();
        if let Some(otlp) = otlp {
            otlp.abort();
        }
        served
    }
}
