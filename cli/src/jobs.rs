//! `pagewise get`, `fetch` and `push`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use clap::ValueEnum;
use pagewise::{JsonText, ManyReport};
use serde_json::{json, Value};

use crate::fail::{self, Fail, Result};
use crate::options::{self, ApiArgs};
use crate::output::{Format, Output};
use crate::progress::{Mode, Progress, Snapshot};

/// What `push` does with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// Create (POST).
    Insert,
    /// Change (PATCH by id).
    Update,
    /// Create or replace (PUT by id).
    Upsert,
    /// Delete by id.
    Delete,
}

/// The lines of `path` ("-" or `None`: stdin), blank ones skipped.
fn lines(path: Option<&Path>) -> Result<Vec<String>> {
    let reader: Box<dyn Read> = match path {
        None => Box::new(std::io::stdin()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin()),
        // An input that cannot be opened is a usage error, like an
        // unreadable --options or --token-file: nothing was sent.
        Some(p) => Box::new(
            std::fs::File::open(p)
                .map_err(|e| Fail::usage(format!("cannot open the input {}: {e}", p.display())))?,
        ),
    };
    let mut out = Vec::new();
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| Fail::failed(format!("cannot read the input: {e}")))?;
        let t = line.trim();
        if !t.is_empty() {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// `get`: one document, as received.
pub fn get(
    target: &str,
    api: &ApiArgs,
    output: Option<&Path>,
    report: Option<&Path>,
) -> Result<i32> {
    let mut doc = api.document()?;
    let (path, query) = options::target(&mut doc, target)?;
    let query = options::query_to_defaults(&mut doc, query, false);
    let built = api.build(&doc)?;
    let q: Vec<(&str, &str)> = query
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let got: JsonText = built.blocking().get_with_query(&path, &q)?;
    let mut out = Output::open(output, Format::Ndjson, None, None)?;
    out.line(got.as_str())?;
    out.finish()?;
    crate::write_report(report, &json!({ "status": "complete", "bytes": out.bytes }))?;
    Ok(fail::OK)
}

/// The report of a many-items job as JSON.
fn many_json(r: Option<&ManyReport>) -> Value {
    let Some(r) = r else { return json!({}) };
    json!({
        "items": r.items,
        "succeeded": r.succeeded,
        "failed": r.failed,
        "unknown": r.unknown,
        "requests": r.requests,
        "durationMs": r.duration.as_millis() as u64,
        "throttledMs": r.throttled.as_millis() as u64,
        "retries": {
            "throttled": r.retries.throttled,
            "serverError": r.retries.server_error,
            "timeout": r.retries.timeout,
            "transport": r.retries.transport,
            "badBody": r.retries.bad_body,
        },
    })
}

/// The exit code and stderr line of a finished many-items job.
fn finish(
    what: &str,
    ok: u64,
    failed: u64,
    report: Value,
    quiet: bool,
    path: Option<&Path>,
) -> Result<i32> {
    let code = if failed > 0 {
        fail::INCOMPLETE
    } else {
        fail::OK
    };
    let mut report = report;
    report["status"] = json!(if code == fail::OK {
        "complete"
    } else {
        "incomplete"
    });
    if !quiet {
        eprintln!("pagewise: {what}: {ok} succeeded, {failed} failed");
    }
    crate::write_report(path, &report)?;
    Ok(code)
}

/// Writes the NDJSON line of each item of a job (`Ok`: it succeeded,
/// `Err`: it failed; both are written) and shows the progress after each;
/// answers how many succeeded and how many failed.
fn write_results(
    lines: impl Iterator<Item = Result<std::result::Result<String, String>>>,
    total: u64,
    built: &pagewise::Api,
    progress: &Progress,
    out: &mut Output,
) -> Result<(u64, u64)> {
    let (mut ok, mut failed) = (0u64, 0u64);
    for line in lines {
        let line = match line? {
            Ok(line) => {
                ok += 1;
                line
            }
            Err(line) => {
                failed += 1;
                line
            }
        };
        out.line(&line)?;
        progress.show(
            &Snapshot {
                records: ok + failed,
                total: Some(total),
                concurrency: built.current_concurrency(),
                ..Snapshot::default()
            },
            false,
        );
    }
    Ok((ok, failed))
}

/// `fetch`: records by id to NDJSON of per-id results.
pub fn fetch(
    template: &str,
    ids: Option<&Path>,
    concurrency: Option<usize>,
    api: &ApiArgs,
    output: Option<&Path>,
    mode: Mode,
    report: Option<&Path>,
) -> Result<i32> {
    let mut doc = api.document()?;
    // The template's query goes with each request.
    let (path, query) = options::target(&mut doc, template)?;
    options::query_to_defaults(&mut doc, query, true);
    let built = api.build(&doc)?;
    let ids = lines(ids)?;
    let total = ids.len() as u64;
    let client = built.blocking();
    let mut job = client.fetch_many(&path, ids);
    if let Some(n) = concurrency {
        job = job.concurrency(n);
    }
    let progress = Progress::new(mode, "fetch");
    let mut out = Output::open(output, Format::Ndjson, None, None)?;
    let mut results = job.iter::<JsonText>();
    let lines = results.by_ref().map(|(id, result)| {
        Ok(match result {
            Ok(record) => Ok(format!(
                "{{\"id\":{},\"record\":{}}}",
                json!(id),
                record.as_str().replace(['\n', '\r'], " ")
            )),
            Err(e) => Err(
                json!({ "id": id, "error": e.to_string(), "kind": e.kind().to_string() })
                    .to_string(),
            ),
        })
    });
    let (ok, failed) = write_results(lines, total, &built, &progress, &mut out)?;
    out.finish()?;
    progress.finish();
    let r = many_json(results.report());
    finish(
        "fetch",
        ok,
        failed,
        r,
        mode == Mode::Quiet && output.is_none(),
        report,
    )
}

/// `push`: records from NDJSON, one outcome a line.
pub fn push(
    target: &str,
    op: Op,
    input: Option<&Path>,
    api: &ApiArgs,
    output: Option<&Path>,
    mode: Mode,
    report: Option<&Path>,
) -> Result<i32> {
    let mut doc = api.document()?;
    // The collection's query goes with each request.
    let (path, query) = options::target(&mut doc, target)?;
    options::query_to_defaults(&mut doc, query, true);
    let built = api.build(&doc)?;
    let mut records = Vec::new();
    for (i, line) in lines(input)?.into_iter().enumerate() {
        let r = JsonText::parse(line)
            .map_err(|e| Fail::usage(format!("input record {} is not JSON: {e}", i + 1)))?;
        records.push(r);
    }
    let total = records.len() as u64;
    let client = built.blocking();
    let job = match op {
        Op::Insert => client.insert_many(&path, records),
        Op::Update => client.update_many(&path, records),
        Op::Upsert => client.upsert_many(&path, records),
        Op::Delete => client.delete_many(&path, records),
    };
    let progress = Progress::new(mode, "push");
    let mut out = Output::open(output, Format::Ndjson, None, None)?;
    let mut outcomes = job.iter();
    let lines = outcomes.by_ref().map(|outcome| {
        let outcome = outcome?;
        Ok(match &outcome.result {
            Ok(w) => Ok(
                json!({ "index": outcome.index, "id": w.id, "status": w.status }).to_string(),
            ),
            Err(e) => Err(json!({ "index": outcome.index, "error": e.to_string(), "kind": e.kind().to_string() }).to_string()),
        })
    });
    let (ok, failed) = write_results(lines, total, &built, &progress, &mut out)?;
    out.finish()?;
    progress.finish();
    let r = many_json(outcomes.report());
    finish(
        "push",
        ok,
        failed,
        r,
        mode == Mode::Quiet && output.is_none(),
        report,
    )
}
