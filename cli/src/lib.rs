//! `aitrace`: read OTLP/JSON trace files and show what happened: the span tree with a
//! waterfall (`tree`), tokens and cost (`cost`), or a Chrome trace for Perfetto
//! (`export --chrome`). See `aitrace --help` and the crate README.
//!
//! A library too, so another package's binary can be the same command: the examples
//! package's `aitrace-cli` binary runs [`main`] within the demo's build (one build, one
//! feature resolution, nothing compiled twice).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod follow;
mod input;
#[cfg(feature = "view")]
mod view;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use aitrace_insight::{chrome, tree, CostReport};

use args::{Args, Color, Command, Parsed};

/// Why the command stopped.
#[derive(Debug)]
pub enum Failure {
    /// Bad command line: exit status 2.
    Usage(String),
    /// An input cannot be read or the output written: exit status 1.
    Input(String),
    /// The reader of our output went away (`aitrace tree | head`): not an error.
    BrokenPipe,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Input(format!("cannot write the output: {e}"))
        }
    }
}

/// Runs the command with the process's arguments; the exit code says how it went (0,
/// 1 for an unreadable input, 2 for a bad command line).
pub fn main() -> ExitCode {
    match run(std::env::args_os().skip(1)) {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("aitrace: {message}\nTry `aitrace --help`.");
            ExitCode::from(2)
        }
        Err(Failure::Input(message)) => {
            eprintln!("aitrace: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(argv: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(), Failure> {
    let args = match args::parse(argv).map_err(Failure::Usage)? {
        Parsed::Help => {
            io::stdout().write_all(args::HELP.as_bytes())?;
            return Ok(());
        }
        Parsed::Version => {
            println!("aitrace {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Parsed::Run(args) => args,
    };
    if args.command == Command::View {
        #[cfg(feature = "view")]
        return view::run(&args);
        #[cfg(not(feature = "view"))]
        return Err(Failure::Usage(
            "this build has no viewer (build aitrace-cli with the `view` feature)".to_owned(),
        ));
    }
    if args.follow {
        return follow::run(&args);
    }
    let sources = input::resolve(&args.inputs, args.all_files)?;
    // `export` writes every attribute and event; `tree` and `cost` read a few (`view`
    // returned above).
    let fields = if args.command == Command::Export {
        input::Fields::All
    } else {
        input::Fields::Reports
    };
    let loaded = input::load(&sources, &args.filter, fields)?;
    let read_any = loaded.stats.spans > 0;
    let kept_any = !loaded.spans.is_empty();
    let traces = args
        .filter
        .select(aitrace_insight::Trace::group(loaded.spans));
    if !read_any {
        eprintln!("aitrace: no spans in the input");
    } else if traces.is_empty() || !kept_any {
        eprintln!("aitrace: no span matches the filters");
    }

    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(io::BufWriter::new(std::fs::File::create(path).map_err(
            |e| Failure::Input(format!("cannot create {}: {e}", path.display())),
        )?)),
        None => Box::new(io::BufWriter::with_capacity(
            256 * 1024,
            io::stdout().lock(),
        )),
    };
    write_report(&mut out, &args, &traces, to_terminal)?;
    out.flush()?;
    Ok(())
}

pub(crate) fn use_color(choice: Color, to_terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            to_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

fn write_report(
    out: &mut dyn Write,
    args: &Args,
    traces: &[aitrace_insight::Trace],
    to_terminal: bool,
) -> Result<(), Failure> {
    match args.command {
        Command::Tree => {
            let options = tree::TreeOptions {
                color: use_color(args.color, to_terminal),
                bar_width: args.bar_width,
                ..tree::TreeOptions::default()
            };
            tree::write_tree(out, traces, &options)?;
        }
        Command::Cost => {
            let report = CostReport::new(traces);
            if args.json {
                writeln!(out, "{}", report.to_json())?;
            } else {
                report.write_table(out)?;
            }
        }
        Command::Export => chrome::write_chrome(out, traces)?,
        Command::View => {}
    }
    Ok(())
}
