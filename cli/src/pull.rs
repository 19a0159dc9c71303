//! `pagewise pull`: every record of a collection to a file, resumable.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use pagewise::{Checkpoint, Report, Watermark};
use serde_json::{json, Value};

use crate::fail::{self, Fail, Result};
use crate::options::{self, ApiArgs};
use crate::output::{Format, Output};
use crate::progress::{Mode, Progress, Snapshot};
use crate::state::{self, OutputState, State};
use crate::Chatter;

/// Set by the first Ctrl-C: the pull stops after the page it is writing.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The arguments of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// A full URL (https://h/v1/items?active=true), or a collection path
    /// under the base URL (--preset, --base-url, --options).
    #[arg(required_unless_present = "demo")]
    target: Option<String>,
    /// Pull from the built-in demo API (a local test server with latency,
    /// a rate limit and a few 5xx).
    #[arg(long, conflicts_with = "target")]
    demo: bool,
    /// Records of the demo API.
    #[arg(long, hide = true, default_value_t = 200_000)]
    demo_records: u64,
    /// The output file (default: stdout).
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    output: Option<PathBuf>,
    /// The output format.
    #[arg(long, value_enum, default_value = "ndjson", help_heading = "Output")]
    format: Format,
    /// CSV columns, comma-separated (default: the members of the first records).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B",
        help_heading = "Output"
    )]
    columns: Vec<String>,
    /// A state file: written atomically as the pull goes and on Ctrl-C; the
    /// same command run again resumes where it stopped (needs -o). Once a
    /// pull finished, the next run starts over, from the stored watermark
    /// when the API has a delta filter.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    state: Option<PathBuf>,
    /// Only the records changed since FIELD=VALUE (the API's delta filter:
    /// a preset's, `delta` in --options, or `?FIELD_gte=VALUE`); with
    /// --state, each later run of the same command writes a new output of
    /// the records changed since the watermark the last one stored.
    #[arg(long, value_name = "FIELD=VALUE")]
    since: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    pub chatter: Chatter,
}

/// What ended the loop.
enum End {
    Done(Box<Report>),
    Interrupted,
    Failed(Fail),
}

fn since(text: &str) -> Result<Watermark> {
    match text.split_once('=') {
        Some((f, v)) if !f.is_empty() => Ok(Watermark::new(f, v)),
        _ => Err(Fail::usage(format!(
            "--since {text:?}: expected FIELD=VALUE"
        ))),
    }
}

/// Runs `pull`; returns the exit code.
pub fn run(args: PullArgs, mode: Mode) -> Result<i32> {
    let mut doc = args.api.document()?;
    if args.format != Format::Csv && !args.columns.is_empty() {
        return Err(Fail::usage("--columns is for --format csv".into()));
    }
    if args.state.is_some() && args.output.is_none() {
        return Err(Fail::usage("--state needs an output file (-o FILE)".into()));
    }
    // The command's digest: what decides which records land where, not
    // how fast (concurrency, pacing, retries may change between runs).
    let digest = {
        let mut d = doc.clone();
        for k in ["concurrency", "pacing", "retry", "timeoutMs", "window"] {
            d.remove(k);
        }
        let target = if args.demo {
            "--demo"
        } else {
            args.target.as_deref().unwrap_or("")
        };
        state::digest(&format!(
            "pull\n{}\n{target}\n{}\n{:?}\n{:?}\n{}",
            Value::Object(d),
            args.format.name(),
            args.columns,
            args.output,
            if args.demo { args.demo_records } else { 0 },
        ))
    };

    #[cfg(feature = "demo")]
    let _server;
    let target = if args.demo {
        #[cfg(feature = "demo")]
        {
            let server = demo_server(args.demo_records, args.chatter.quiet)?;
            for (k, v) in [
                ("baseUrl", json!(format!("{}/offset/", server.url()))),
                ("recordsAt", json!("/data")),
                (
                    "pagination",
                    json!({ "type": "offset", "total": { "header": "X-Total-Count" } }),
                ),
                ("pageSize", json!(1000)),
            ] {
                doc.entry(k).or_insert(v);
            }
            _server = server;
            "items".to_string()
        }
        #[cfg(not(feature = "demo"))]
        return Err(Fail::usage(
            "this pagewise was built without the demo (feature `demo`)".into(),
        ));
    } else {
        args.target.clone().unwrap_or_default()
    };
    let (path, query) = options::target(&mut doc, &target)?;
    // A credential in the target's query (`?api_key=`) goes with every
    // request, redacted in logs and kept out of the state file.
    let query = options::query_to_defaults(&mut doc, query, false);
    let api = args.api.build(&doc)?;

    // Where the last run got to.
    let mut columns = (!args.columns.is_empty()).then(|| args.columns.clone());
    let mut watermark = args.since.as_deref().map(since).transpose()?;
    let mut resume: Option<(Checkpoint, u64, u64)> = None;
    if let Some(sp) = &args.state {
        if let Some(st) = State::read(sp)? {
            if st.command != digest {
                return Err(Fail::usage(format!(
                    "the state file {} was written by another command (other target, \
                     options, format or output): run that command to resume it, or \
                     remove the state file to start over",
                    sp.display()
                )));
            }
            if st.finished {
                // The nightly job: the same command, from where the last ended.
                watermark = st.watermark.or(watermark);
            } else {
                let cp = match st.checkpoint {
                    Some(v) => Checkpoint::from_json(&v.to_string())?,
                    None => {
                        return Err(Fail::usage(format!(
                            "the state file {} has no checkpoint: remove it to start over",
                            sp.display()
                        )))
                    }
                };
                watermark = st.watermark;
                columns = st.output.columns.or(columns);
                resume = Some((cp, st.output.bytes, st.output.records));
            }
        }
    }

    let mut out = Output::open(
        args.output.as_deref(),
        args.format,
        columns,
        resume.as_ref().map(|r| (r.1, r.2)),
    )?;
    if resume.is_some() && !args.chatter.quiet {
        eprintln!(
            "pagewise: resuming after {} records ({} bytes of {})",
            out.records,
            out.bytes,
            args.output
                .as_deref()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }

    let written = Arc::new(AtomicU64::new(out.records));
    let progress = Arc::new(Progress::new(mode, "pull"));
    let client = api.blocking();
    let mut list = client.list(&path);
    for (n, v) in query {
        list = list.query(n, v);
    }
    if let Some(w) = watermark.clone() {
        list = list.since(w);
    }
    if let Some((cp, _, _)) = resume {
        list = list.resume(cp);
    }
    {
        let (p, api, written) = (progress.clone(), api.clone(), written.clone());
        list = list.on_progress(move |pr| {
            let throttled = pr.retries_by_cause.throttled;
            p.show(
                &Snapshot {
                    records: written.load(Ordering::Relaxed),
                    total: pr.records_total,
                    throttled,
                    retries: pr.retries.saturating_sub(throttled),
                    concurrency: api.current_concurrency(),
                    eta: pr.eta,
                },
                false,
            );
        });
    }

    ctrlc_once();
    let save = |out: &Output,
                checkpoint: Option<Checkpoint>,
                finished: bool,
                w: Option<Watermark>|
     -> Result<()> {
        let (Some(sp), Some(op)) = (&args.state, &args.output) else {
            return Ok(());
        };
        let st = State {
            version: state::VERSION,
            command: digest.clone(),
            checkpoint: checkpoint
                .map(|c| serde_json::from_str(&c.to_json()).unwrap_or(Value::Null)),
            finished,
            output: OutputState {
                path: op.clone(),
                bytes: out.bytes,
                records: out.records,
                columns: out.columns.clone(),
            },
            watermark: w,
        };
        st.write(sp, finished)
    };

    let mut pages = list.raw_pages();
    let end = loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            break End::Interrupted;
        }
        match pages.next() {
            None => match pages.report() {
                Some(r) => break End::Done(Box::new(r.clone())),
                None => break End::Failed(Fail::failed("the sweep ended without a report".into())),
            },
            Some(Err(e)) => break End::Failed(Fail::from(e)),
            Some(Ok(page)) => {
                out.page(&page.records)?;
                out.flush()?;
                written.store(out.records, Ordering::Relaxed);
                save(&out, pages.checkpoint(), false, watermark.clone())?;
            }
        }
    };
    progress.finish();
    let quiet = args.chatter.quiet;
    let output = json!({
        "path": args.output,
        "bytes": out.bytes,
        "records": out.records,
    });
    match end {
        End::Done(report) => {
            out.finish()?;
            // On disk before the state says finished (and moves the watermark).
            if args.state.is_some() {
                out.sync()?;
            }
            let c = &report.retries;
            progress.show(
                &Snapshot {
                    records: out.records,
                    total: report.total,
                    throttled: c.throttled,
                    retries: c.server_error + c.timeout + c.transport + c.bad_body,
                    concurrency: api.current_concurrency(),
                    eta: Some(Duration::ZERO),
                },
                true,
            );
            save(&out, None, true, report.watermark.clone().or(watermark))?;
            let code = if report.complete == Some(false) {
                fail::INCOMPLETE
            } else {
                fail::OK
            };
            let status = if code == fail::OK {
                "complete"
            } else {
                "incomplete"
            };
            if !quiet {
                eprintln!("pagewise: {}", summary(status, &report, out.records));
            }
            let mut r = report_json(status, Some(&report));
            r["output"] = output;
            crate::write_report(args.chatter.report.as_deref(), &r)?;
            Ok(code)
        }
        End::Interrupted => {
            out.flush()?;
            // No checkpoint: the sweep never started (a configuration error);
            // the state file, if any, is left as it was.
            if let Some(cp) = pages.checkpoint() {
                save(&out, Some(cp), false, watermark)?;
            }
            // A JSON array is closed, so that what was written reads; the
            // state's length is before the bracket, where a resume cuts.
            out.finish()?;
            let progress = pages.progress().cloned();
            let mut r = report_json("interrupted", progress.as_ref());
            r["output"] = output;
            crate::write_report(args.chatter.report.as_deref(), &r)?;
            eprintln!(
                "pagewise: interrupted after {} records{}",
                out.records,
                if args.state.is_some() {
                    "; the state is saved: run the same command to resume"
                } else {
                    ""
                }
            );
            Ok(fail::INTERRUPTED)
        }
        End::Failed(e) => {
            out.flush()?;
            // No checkpoint: the sweep never started (a configuration error,
            // say); a state without one could only be refused by the next
            // run, so the state file, if any, is left as it was.
            if let Some(cp) = pages.checkpoint() {
                save(&out, Some(cp), false, watermark)?;
            }
            out.finish()?;
            let progress = pages.progress().cloned();
            let mut r = report_json("failed", progress.as_ref());
            r["output"] = output;
            r["error"] = json!(e.message);
            crate::write_report(args.chatter.report.as_deref(), &r)?;
            let mut f = e;
            f.message = format!(
                "{} (after {} records{})",
                f.message,
                out.records,
                if args.state.is_some() {
                    "; the state is saved: run the same command to resume"
                } else {
                    ""
                }
            );
            Err(f)
        }
    }
}

/// Installs the Ctrl-C handler: the first stops the pull after the page
/// being written (the state is saved there); a second, or a pull that does
/// not stop within 3 s, exits at once — the state file is always one
/// written after a flushed page, and a resume cuts the output to it.
fn ctrlc_once() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(fail::INTERRUPTED);
        }
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_secs(3));
            std::process::exit(fail::INTERRUPTED);
        });
    });
}

/// One line saying what the pull did.
fn summary(status: &str, r: &Report, written: u64) -> String {
    let mut s = format!(
        "{status}: {} records this run ({written} in the output), {} pages, {} requests in {:.1} s",
        r.records,
        r.pages,
        r.requests,
        r.duration.as_secs_f64()
    );
    if let Some(t) = r.total {
        s.push_str(&format!("; total {t}"));
    }
    let c = &r.retries;
    let retries = c.throttled + c.server_error + c.timeout + c.transport + c.bad_body;
    if retries > 0 {
        s.push_str(&format!(
            "; {retries} retries (429: {}, 5xx: {}, timeouts: {}, connections: {}, bad bodies: {})",
            c.throttled, c.server_error, c.timeout, c.transport, c.bad_body
        ));
    }
    if !r.throttled.is_zero() {
        s.push_str(&format!("; throttled {:.1} s", r.throttled.as_secs_f64()));
    }
    for n in &r.notices {
        s.push_str(&format!("\n  notice: {n:?}"));
    }
    s
}

/// The report as JSON (`--report`).
pub fn report_json(status: &str, r: Option<&Report>) -> Value {
    let Some(r) = r else {
        return json!({ "status": status });
    };
    let c = &r.retries;
    json!({
        "status": status,
        "records": r.records,
        "pages": r.pages,
        "requests": r.requests,
        "total": r.total,
        "complete": r.complete,
        "durationMs": r.duration.as_millis() as u64,
        "retries": {
            "throttled": c.throttled,
            "serverError": c.server_error,
            "timeout": c.timeout,
            "transport": c.transport,
            "badBody": c.bad_body,
        },
        "throttledMs": r.throttled.as_millis() as u64,
        "bytes": r.bytes,
        "notices": r.notices.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>(),
        "watermark": r.watermark,
        "changedDuringSweep": r.changed_during_sweep,
    })
}

/// The demo API: the test server's demo, without its static files.
#[cfg(feature = "demo")]
fn demo_server(records: u64, quiet: bool) -> Result<pagewise_testserver::TestServer> {
    let config = pagewise_testserver::Config {
        records,
        www_dir: None,
        npm_dir: None,
        vendor_dir: None,
        ..pagewise_testserver::Config::demo()
    };
    let summary = config.api_summary();
    let server = pagewise_testserver::TestServer::start(config)
        .map_err(|e| Fail::failed(format!("cannot start the demo server: {e}")))?;
    if !quiet {
        eprintln!("pagewise: demo API at {}: {summary}", server.url());
    }
    Ok(server)
}
