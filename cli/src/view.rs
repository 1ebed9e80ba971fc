//! `aitrace view`: the browser viewer (aitrace-insight's `view` server).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use aitrace_insight::view::{default_trace_dir, serve_blocking, ViewOptions};

use crate::args::{Args, Input};
use crate::Failure;

/// The standard OTLP/HTTP port, listened on with `--otlp` unless `--otlp-port` says
/// otherwise.
const OTLP_PORT: u16 = 4318;

pub fn run(args: &Args) -> Result<(), Failure> {
    let mut inputs: Vec<PathBuf> = args
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => Some(p.clone()),
            Input::Stdin => None,
        })
        .collect();
    let trace_dir = default_trace_dir();
    if inputs.is_empty() {
        if !trace_dir.is_dir() && !args.view.otlp {
            return Err(Failure::Input(format!(
                "no input given, and no trace directory {} (pass trace files or \
                 directories, or --otlp to receive traces)",
                trace_dir.display()
            )));
        }
        inputs.push(trace_dir.clone());
    }
    for input in &inputs {
        if !input.exists() && *input != trace_dir {
            return Err(Failure::Input(format!(
                "cannot read {}: no such file or directory",
                input.display()
            )));
        }
    }
    let ip = args.view.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !ip.is_loopback() {
        eprintln!(
            "aitrace: warning: listening on {ip}, not loopback: anyone who can reach this \
             address can read the traces (prompts and answers included)"
        );
    }
    let mut options = ViewOptions::new(inputs);
    options.trace_dir = trace_dir;
    options.bind = SocketAddr::new(ip, args.view.port.unwrap_or(0));
    options.otlp = args.view.otlp;
    let explicit_otlp_port = args.view.otlp_port.is_some();
    options.otlp_port = match args.view.otlp_port {
        Some(0) => None,
        Some(port) => Some(port),
        None if args.view.otlp => Some(OTLP_PORT),
        None => None,
    };
    let open = args.view.open;
    let otlp_on = viewer_otlp(args);
    let result = serve_blocking(options.clone(), |v| announce(v, otlp_on, open));
    match result {
        Err(e)
            if e.kind() == std::io::ErrorKind::AddrInUse
                && !explicit_otlp_port
                && options.otlp_port.is_some() =>
        {
            eprintln!(
                "aitrace: warning: port {OTLP_PORT} is in use; OTLP/HTTP is received on the \
                 viewer's own port only"
            );
            options.otlp_port = None;
            serve_blocking(options, |v| announce(v, otlp_on, open))
                .map_err(|e| Failure::Input(format!("cannot serve: {e}")))
        }
        Err(e) => Err(Failure::Input(format!(
            "cannot serve on {}: {e}",
            options.bind
        ))),
        Ok(()) => Ok(()),
    }
}

fn announce(viewer: &aitrace_insight::view::Viewer, otlp: bool, open: bool) {
    let url = viewer.url();
    println!("aitrace view: {url}");
    if let Some(extra) = viewer.otlp_addr() {
        println!("OTLP/HTTP: http://{extra}/v1/traces (and {url}v1/traces)");
    } else if otlp {
        println!("OTLP/HTTP: {url}v1/traces");
    }
    println!("(Ctrl-C to stop)");
    if open {
        open_browser(&url);
    }
}

fn viewer_otlp(args: &Args) -> bool {
    args.view.otlp || args.view.otlp_port.is_some_and(|p| p != 0)
}

fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => eprintln!("aitrace: warning: cannot run {program}: {e}"),
    }
}
