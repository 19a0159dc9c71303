//! `pagewise`: every record of a paginated JSON REST API into a file,
//! resumable; one document, records by id and writes with the same options.
//!
//! Exit codes: 0 complete; 1 failed; 2 usage or configuration; 3
//! incomplete (the API's total says rows are missing); 130 interrupted
//! (the state, with `--state`, saved).

#![forbid(unsafe_code)]

mod fail;
mod jobs;
mod options;
mod output;
mod progress;
mod pull;
mod state;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::fail::Fail;
use crate::options::ApiArgs;

/// Move records through paginated JSON REST APIs: pull every record into
/// NDJSON, CSV or JSON (resumable with --state), get one document, fetch
/// records by id, push records.
#[derive(Debug, Parser)]
#[command(name = "pagewise", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What every subcommand says while it runs.
#[derive(Debug, Clone, Args)]
struct Chatter {
    /// No progress, and only errors logged.
    #[arg(long, short = 'q', global = true, help_heading = "Display")]
    quiet: bool,
    /// One JSON line of progress a second on stderr (for scripts).
    #[arg(long, global = true, help_heading = "Display")]
    json_progress: bool,
    /// Log the library's events: -v info (retries, pacing), -vv debug (every request), -vvv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Display")]
    verbose: u8,
    /// Also write the final report as JSON to this file.
    #[arg(long, value_name = "FILE", global = true, help_heading = "Display")]
    report: Option<PathBuf>,
}

/// Where the results go.
#[derive(Debug, Clone, Args)]
struct OutArgs {
    /// The output file (default: stdout).
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every record of a collection, in order, to NDJSON, CSV or JSON.
    Pull(pull::PullArgs),
    /// One document (GET), as received.
    Get {
        /// A full URL, or a path under the base URL (--preset, --base-url, --options).
        target: String,
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        out: OutArgs,
        #[command(flatten)]
        chatter: Chatter,
    },
    /// Records by id (ids one a line from --ids FILE or stdin) to NDJSON of
    /// per-id results: {"id","record"} or {"id","error"}.
    Fetch {
        /// A path template holding {id} (items/{id}), a full URL or under the base URL.
        template: String,
        /// The ids, one a line ("-" or left out: stdin).
        #[arg(long, value_name = "FILE")]
        ids: Option<PathBuf>,
        /// Requests in flight at once for this job.
        #[arg(long, value_name = "N")]
        job_concurrency: Option<usize>,
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        out: OutArgs,
        #[command(flatten)]
        chatter: Chatter,
    },
    /// Writes records (NDJSON from --input FILE or stdin) to NDJSON of
    /// per-item outcomes: {"index","id","status"} or {"index","error"}.
    Push {
        /// The collection: a full URL, or a path under the base URL.
        target: String,
        /// What to do with each record.
        #[arg(long, value_enum, default_value = "insert")]
        op: jobs::Op,
        /// The records, one JSON object a line ("-" or left out: stdin).
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        out: OutArgs,
        #[command(flatten)]
        chatter: Chatter,
    },
}

impl Chatter {
    fn start(&self) -> progress::Mode {
        progress::init_logging(self.verbose, self.quiet);
        progress::Mode::choose(self.quiet, self.json_progress)
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(Fail { code, message }) => {
            eprintln!("pagewise: {message}");
            code
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> fail::Result<i32> {
    match cli.command {
        Command::Pull(args) => {
            let mode = args.chatter.start();
            pull::run(args, mode)
        }
        Command::Get {
            target,
            api,
            out,
            chatter,
        } => {
            chatter.start();
            jobs::get(
                &target,
                &api,
                out.output.as_deref(),
                chatter.report.as_deref(),
            )
        }
        Command::Fetch {
            template,
            ids,
            job_concurrency,
            api,
            out,
            chatter,
        } => {
            let mode = chatter.start();
            jobs::fetch(
                &template,
                ids.as_deref(),
                job_concurrency,
                &api,
                out.output.as_deref(),
                mode,
                chatter.report.as_deref(),
            )
        }
        Command::Push {
            target,
            op,
            input,
            api,
            out,
            chatter,
        } => {
            let mode = chatter.start();
            jobs::push(
                &target,
                op,
                input.as_deref(),
                &api,
                out.output.as_deref(),
                mode,
                chatter.report.as_deref(),
            )
        }
    }
}

/// Writes `value` to the `--report` file, if one was asked for.
fn write_report(path: Option<&std::path::Path>, value: &serde_json::Value) -> fail::Result<()> {
    if let Some(p) = path {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        std::fs::write(p, text + "\n").map_err(|e| Fail::io("cannot write the report", p, e))?;
    }
    Ok(())
}
