//! `aitrace tree --follow`: redraws the tree of the newest (or `--trace`) trace as its
//! spans arrive, until Ctrl-C.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aitrace_insight::{tree, Trace};

use crate::args::Args;
use crate::input::{self, Source};
use crate::Failure;

const POLL: Duration = Duration::from_millis(250);

/// Sizes and modification times of the files: what tells that spans arrived.
fn fingerprint(sources: &[Source]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => {
                let meta = std::fs::metadata(p).ok();
                Some((
                    p.clone(),
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                ))
            }
            Source::Stdin => None,
        })
        .collect()
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let options = tree::TreeOptions {
        color: crate::use_color(args.color, to_terminal),
        bar_width: args.bar_width,
        ..tree::TreeOptions::default()
    };
    let mut last: Option<Vec<(PathBuf, u64, Option<SystemTime>)>> = None;
    let mut last_text = String::new();
    loop {
        // Directories are resolved again: a newer trace file takes over.
        let sources = match input::resolve(&args.inputs, args.all_files) {
            Ok(s) => s,
            Err(Failure::Input(message)) if last.is_none() => {
                eprintln!("aitrace: {message}; waiting for spans");
                std::thread::sleep(POLL * 4);
                last = Some(Vec::new());
                continue;
            }
            Err(_) => {
                std::thread::sleep(POLL);
                continue;
            }
        };
        let now = fingerprint(&sources);
        if last.as_ref() != Some(&now) {
            last = Some(now);
            let loaded = input::load_quiet(&sources, &args.filter, input::Fields::Reports);
            let traces = args.filter.select(Trace::group(loaded));
            // The newest trace (the one running), unless --trace chose one.
            let newest: Vec<Trace> = traces
                .into_iter()
                .max_by_key(|t| t.start_unix_nano())
                .into_iter()
                .collect();
            let text = if newest.is_empty() {
                "aitrace: waiting for spans...\n".to_owned()
            } else {
                tree::render(&newest, &options)
            };
            if text != last_text {
                let mut out = io::stdout().lock();
                if to_terminal {
                    // Clear the screen and draw from the top.
                    out.write_all(b"\x1b[H\x1b[2J")?;
                } else if !last_text.is_empty() {
                    out.write_all(b"\n---\n")?;
                }
                out.write_all(text.as_bytes())?;
                out.flush()?;
                last_text = text;
            }
        }
        std::thread::sleep(POLL);
    }
}
