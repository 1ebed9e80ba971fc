//! Command-line arguments, parsed by hand (a handful of flags does not need a parser
//! dependency).

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::path::PathBuf;

use aitrace_insight::time::parse_time;
use aitrace_insight::Filter;

pub const HELP: &str = "\
aitrace: read OTLP/JSON trace files (one ExportTraceServiceRequest per line, as the
AITrace file exporter and other OTLP tools write them) and show what happened.

USAGE:
    aitrace <COMMAND> [OPTIONS] [INPUT...]

COMMANDS:
    tree              span tree of each trace with a waterfall (time bars), duration,
                      model, tokens, cost; errors highlighted
    cost              tokens and cost per trace, per agent run, per model, per provider
    export --chrome   Chrome trace event JSON (open in https://ui.perfetto.dev or
                      chrome://tracing): one process per service, one thread per trace
    view              a local trace viewer in the browser: trace list, waterfall,
                      context explorer, agent state diffs, causal flow, compare, live
                      (inputs: files and directories, default the trace directory)
    help              this text

INPUT:
    FILE              a trace file
    DIR               the newest trace-*.jsonl in DIR (all of them with --all)
    -                 standard input
    (none)            the newest trace-*.jsonl in $AITRACE_TRACE_DIR, else ./traces

FILTERS:
    --trace ID        one trace: its id or a prefix of it (hex)
    --since TIME      spans that end at or after TIME
    --until TIME      spans that start at or before TIME
                      TIME: RFC 3339 (2026-11-22T10:30:00Z, 2026-11-22T11:30:00+01:00,
                      2026-11-22) or Unix nanoseconds (1763807400000000000)
    --name TEXT       spans whose name contains TEXT (case-sensitive)
    --errors          failed spans only (status error or error.type set)
    --name and --errors select spans with everything inside them; `tree` shows their
    ancestors too (dimmed), and traces with no selected span are left out.

OPTIONS:
    --all             read every trace-*.jsonl of a directory, not only the newest
    --json            cost: JSON instead of tables
    --chrome          export: the Chrome trace event format
    -o, --output FILE write to FILE instead of standard output
    --color WHEN      tree: auto (default: when writing to a terminal and NO_COLOR is
                      unset), always, never
    --width N         tree: width of the time bars (default 40; 0: no bars)
    --follow          tree: redraw the tree of the newest (or --trace) trace as spans
                      arrive, until Ctrl-C
    --otlp            view: also receive OTLP/HTTP (JSON and protobuf) on /v1/traces
                      and on 127.0.0.1:4318, written to the trace directory
    --otlp-port N     view: the extra OTLP/HTTP port (default 4318 with --otlp; 0: none)
    --port N          view: the port (default: a free one)
    --bind ADDR       view: the address to listen on (default 127.0.0.1)
    --open            view: open the URL in the browser (xdg-open / open)
    -h, --help        this text
    -V, --version     the version

EXIT STATUS:
    0 done (lines that are not OTLP/JSON are skipped with a warning on stderr)
    1 an input cannot be read, or the output cannot be written
    2 usage error

EXAMPLES:
    aitrace tree                                  # newest trace file in ./traces
    aitrace tree --follow                         # the running trace, redrawn live
    aitrace view                                  # the viewer on ./traces, live
    aitrace view run1.jsonl dir/ --otlp           # files, dirs, and OTLP/HTTP
    aitrace tree traces/ --errors --color always | less -R
    aitrace cost --json traces/ --all | jq .total.cost_usd
    aitrace export --chrome -o trace.json traces/trace-my-agent-1763807400000-42.jsonl
    cat trace.jsonl | aitrace tree - --trace 4bf92f35 --name chat
";

/// The command to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Tree,
    Cost,
    Export,
    View,
}

/// When to color the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Where to read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub command: Command,
    pub inputs: Vec<Input>,
    pub all_files: bool,
    pub filter: Filter,
    pub json: bool,
    pub chrome: bool,
    pub output: Option<PathBuf>,
    pub color: Color,
    pub bar_width: usize,
    pub follow: bool,
    pub view: ViewArgs,
}

/// The flags of `view`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewArgs {
    pub otlp: bool,
    pub otlp_port: Option<u16>,
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    pub open: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Run(Box<Args>),
    Help,
    Version,
}

fn utf8<'a>(flag: &str, value: &'a OsStr) -> Result<&'a str, String> {
    value
        .to_str()
        .ok_or_else(|| format!("the value of {flag} is not valid UTF-8"))
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut args = args.into_iter();
    let mut command = None;
    let mut inputs = Vec::new();
    let mut all_files = false;
    let mut filter = Filter::default();
    let mut json = false;
    let mut chrome = false;
    let mut output = None;
    let mut color = None;
    let mut bar_width = None;
    let mut only_inputs = false;
    let mut follow = false;
    let mut view = ViewArgs::default();
    let mut view_flags = false;

    while let Some(arg) = args.next() {
        let text = arg.to_str();
        if only_inputs || arg == "-" || !text.is_some_and(|t| t.starts_with('-')) {
            if command.is_none() && !only_inputs {
                command = Some(match text {
                    Some("tree") => Command::Tree,
                    Some("cost") => Command::Cost,
                    Some("export") => Command::Export,
                    Some("view") => Command::View,
                    Some("help") => return Ok(Parsed::Help),
                    _ => {
                        return Err(format!(
                            "unknown command {:?} (commands: tree, cost, export, view, help)",
                            arg.to_string_lossy()
                        ))
                    }
                });
            } else if arg == "-" && !only_inputs {
                inputs.push(Input::Stdin);
            } else {
                inputs.push(Input::Path(PathBuf::from(arg)));
            }
            continue;
        }
        let text = text.unwrap_or_default();
        if text == "--" {
            only_inputs = true;
            continue;
        }
        // `--flag=value` or `--flag value`.
        let (flag, inline) = match text.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(OsString::from(value))),
            _ => (text, None),
        };
        let mut value = |flag: &str| -> Result<OsString, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--all" => all_files = true,
            "--errors" => filter.errors_only = true,
            "--json" => json = true,
            "--chrome" => chrome = true,
            "--follow" => follow = true,
            "--otlp" => {
                view.otlp = true;
                view_flags = true;
            }
            "--open" => {
                view.open = true;
                view_flags = true;
            }
            "--port" | "--otlp-port" => {
                let v = value(flag)?;
                let text = utf8(flag, &v)?;
                let port = text
                    .parse::<u16>()
                    .map_err(|_| format!("{flag} {text:?}: a port number from 0 to 65535"))?;
                if flag == "--port" {
                    view.port = Some(port);
                } else {
                    view.otlp_port = Some(port);
                }
                view_flags = true;
            }
            "--bind" => {
                let v = value(flag)?;
                let text = utf8(flag, &v)?;
                view.bind = Some(
                    text.trim_matches(|c| c == '[' || c == ']')
                        .parse()
                        .map_err(|_| {
                            format!("--bind {text:?}: an IP address (127.0.0.1, ::1, 0.0.0.0)")
                        })?,
                );
                view_flags = true;
            }
            "--trace" => {
                let v = value(flag)?;
                let id = utf8(flag, &v)?.trim().to_ascii_lowercase();
                if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "--trace {id:?}: a trace id is up to 32 hex digits (a prefix is enough)"
                    ));
                }
                filter.trace_id = Some(id);
            }
            "--since" | "--until" => {
                let v = value(flag)?;
                let at = parse_time(utf8(flag, &v)?).map_err(|e| format!("{flag}: {e}"))?;
                if flag == "--since" {
                    filter.since = Some(at);
                } else {
                    filter.until = Some(at);
                }
            }
            "--name" => {
                let v = value(flag)?;
                filter.name = Some(utf8(flag, &v)?.to_owned());
            }
            "-o" | "--output" => output = Some(PathBuf::from(value(flag)?)),
            "--color" | "--colour" => {
                let v = value(flag)?;
                color = Some(match utf8(flag, &v)? {
                    "auto" => Color::Auto,
                    "always" => Color::Always,
                    "never" => Color::Never,
                    other => return Err(format!("--color {other:?}: use auto, always or never")),
                });
            }
            "--width" => {
                let v = value(flag)?;
                let text = utf8(flag, &v)?;
                bar_width = Some(
                    text.parse::<usize>()
                        .ok()
                        .filter(|w| *w <= 1000)
                        .ok_or_else(|| format!("--width {text:?}: a number from 0 to 1000"))?,
                );
            }
            _ => return Err(format!("unknown option {text:?}")),
        }
        if inline.is_some()
            && matches!(
                flag,
                "--all"
                    | "--errors"
                    | "--json"
                    | "--chrome"
                    | "--help"
                    | "--version"
                    | "--follow"
                    | "--otlp"
                    | "--open"
            )
        {
            return Err(format!("{flag} takes no value"));
        }
    }

    let Some(command) = command else {
        return Err("no command given (commands: tree, cost, export, view, help)".to_owned());
    };
    if json && command != Command::Cost {
        return Err("--json goes with `cost`".to_owned());
    }
    if chrome && command != Command::Export {
        return Err("--chrome goes with `export`".to_owned());
    }
    if command == Command::Export && !chrome {
        return Err("export needs a format: `export --chrome`".to_owned());
    }
    if (color.is_some() || bar_width.is_some()) && command != Command::Tree {
        return Err("--color and --width go with `tree`".to_owned());
    }
    if follow && command != Command::Tree {
        return Err("--follow goes with `tree`".to_owned());
    }
    if view_flags && command != Command::View {
        return Err("--otlp, --otlp-port, --port, --bind and --open go with `view`".to_owned());
    }
    if command == Command::View {
        if filter != Filter::default() || all_files || output.is_some() {
            return Err(
                "`view` takes files and directories only (filter in the browser)".to_owned(),
            );
        }
        if inputs.contains(&Input::Stdin) {
            return Err("`view` reads files, not standard input".to_owned());
        }
    }
    if follow && inputs.contains(&Input::Stdin) {
        return Err("--follow reads a file, not standard input".to_owned());
    }
    if let (Some(since), Some(until)) = (filter.since, filter.until) {
        if since > until {
            return Err("--since is after --until".to_owned());
        }
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err("standard input (-) can be read once".to_owned());
    }
    Ok(Parsed::Run(Box::new(Args {
        command,
        inputs,
        all_files,
        filter,
        json,
        chrome,
        output,
        color: color.unwrap_or(Color::Auto),
        bar_width: bar_width.unwrap_or(40),
        follow,
        view,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args, String> {
        match parse(args.iter().map(OsString::from))? {
            Parsed::Run(args) => Ok(*args),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn flags_values_and_inputs() {
        let args = run(&[
            "tree",
            "a.jsonl",
            "--trace=0AF7",
            "--since",
            "2023-11-14T22:13:20Z",
            "--until",
            "1700000001000000000",
            "--name",
            "chat",
            "--errors",
            "-",
            "--width",
            "0",
            "--",
            "--odd-name.jsonl",
        ])
        .expect("valid");
        assert_eq!(args.command, Command::Tree);
        assert_eq!(
            args.inputs,
            [
                Input::Path("a.jsonl".into()),
                Input::Stdin,
                Input::Path("--odd-name.jsonl".into())
            ]
        );
        assert_eq!(args.filter.trace_id.as_deref(), Some("0af7"));
        assert_eq!(args.filter.since, Some(1_700_000_000_000_000_000));
        assert_eq!(args.filter.until, Some(1_700_000_001_000_000_000));
        assert_eq!(args.filter.name.as_deref(), Some("chat"));
        assert!(args.filter.errors_only);
        assert_eq!(args.bar_width, 0);
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        for (args, says) in [
            (&["tree", "--frobnicate"][..], "unknown option"),
            (&["frobnicate"][..], "unknown command"),
            (&[][..], "no command"),
            (&["tree", "--trace"][..], "needs a value"),
            (&["tree", "--trace", "xyz"][..], "hex"),
            (&["tree", "--since", "yesterday"][..], "RFC 3339"),
            (
                &["tree", "--since", "2024-01-02", "--until", "2024-01-01"][..],
                "after",
            ),
            (&["tree", "--json"][..], "--json goes with `cost`"),
            (&["export"][..], "--chrome"),
            (&["cost", "--color", "always"][..], "go with `tree`"),
            (&["tree", "--color", "pink"][..], "auto, always or never"),
            (&["tree", "--width", "-1"][..], "number"),
            (&["tree", "--errors=yes"][..], "takes no value"),
            (&["tree", "-", "-"][..], "once"),
            (&["cost", "--follow"][..], "--follow goes with `tree`"),
            (&["tree", "--otlp"][..], "go with `view`"),
            (&["view", "--port", "99999"][..], "port number"),
            (&["view", "--bind", "localhost:80"][..], "an IP address"),
            (&["view", "--errors"][..], "files and directories only"),
            (&["view", "-"][..], "not standard input"),
        ] {
            let err = run(args).expect_err("a usage error");
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn view_flags() {
        let args = run(&[
            "view",
            "a.jsonl",
            "dir",
            "--otlp",
            "--port=8080",
            "--bind",
            "0.0.0.0",
            "--open",
        ])
        .expect("valid");
        assert_eq!(args.command, Command::View);
        assert_eq!(args.inputs.len(), 2);
        assert_eq!(
            args.view,
            ViewArgs {
                otlp: true,
                otlp_port: None,
                port: Some(8080),
                bind: Some("0.0.0.0".parse().unwrap()),
                open: true,
            }
        );
        assert!(
            run(&["tree", "--follow", "--trace", "ab"])
                .expect("valid")
                .follow
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse([OsString::from("--help")]), Ok(Parsed::Help));
        assert_eq!(parse([OsString::from("help")]), Ok(Parsed::Help));
        assert_eq!(
            parse(["cost", "-V"].map(OsString::from)),
            Ok(Parsed::Version)
        );
    }
}
