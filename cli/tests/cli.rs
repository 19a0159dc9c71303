//! The `pagewise` binary against the test server, started in-process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pagewise_testserver::{Config, FailPath, Faults, TestServer};
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pagewise"));
    c.env_remove("RUST_LOG");
    c
}

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pagewise-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

const OFFSET: [&str; 6] = [
    "--records-at",
    "/data",
    "--pagination",
    "offset",
    "--total-header",
    "X-Total-Count",
];

fn ids_of(ndjson: &str) -> Vec<u64> {
    ndjson
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn pull_writes_each_record_as_received() {
    let server = TestServer::start(Config {
        records: 1050,
        ..Config::default()
    })
    .unwrap();
    let d = dir("ndjson");
    let out = d.join("out.ndjson");
    let report = d.join("report.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--page-size",
        "100",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(OFFSET);
    args.extend(["--report", report.to_str().unwrap()]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 1050);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            Some(line.to_string()),
            server.record_json(i as u64 + 1),
            "line {i}"
        );
    }
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "complete");
    assert_eq!(r["records"], 1050);
    assert_eq!(r["total"], 1050);
    assert_eq!(r["output"]["records"], 1050);
    assert_eq!(r["output"]["bytes"], written.len() as u64);
    assert!(
        text(&o.stderr).contains("complete: 1050 records"),
        "{}",
        text(&o.stderr)
    );

    // To stdout, as a JSON array: the same records.
    let mut args = vec!["pull", &url, "--format", "json", "-q"];
    args.extend(OFFSET);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0));
    let array: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(array.len(), 1050);
    assert_eq!(array[7], server.record_value(8).unwrap());
    assert!(o.stderr.is_empty(), "quiet: {}", text(&o.stderr));
}

/// Reads CSV (RFC 4180) into rows of cells.
fn csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

#[test]
fn csv_cells_match_the_records() {
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    // Values CSV must quote and nested values.
    server.set_faults(Default::default());
    let url = format!("{}/offset/items", server.url());
    let mut args = vec!["pull", &url, "--format", "csv", "-q"];
    args.extend(OFFSET);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let rows = csv(&text(&o.stdout));
    assert_eq!(rows.len(), 301);
    let header = &rows[0];
    let first = server.record_value(1).unwrap();
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(header.len(), keys.len());
    for id in [1u64, 2, 57, 150, 299, 300] {
        let record = server.record_value(id).unwrap();
        let row = &rows[id as usize];
        assert_eq!(row.len(), header.len(), "row {id}");
        for (col, cell) in header.iter().zip(row) {
            let want = match &record[col] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Numbers as written by the server (1.50 stays 1.50).
            let want = if record[col].is_number() {
                let raw = server.record_json(id).unwrap();
                let at = raw.find(&format!("\"{col}\":")).unwrap() + col.len() + 3;
                raw[at..].split([',', '}']).next().unwrap().to_string()
            } else {
                want
            };
            assert_eq!(cell, &want, "record {id}, column {col}");
        }
    }

    // Chosen columns, in their order; a missing member is an empty cell.
    let mut args = vec![
        "pull",
        &url,
        "--format",
        "csv",
        "--columns",
        "name,id,nothing",
        "-q",
    ];
    args.extend(OFFSET);
    let o = run(&args);
    let rows = csv(&text(&o.stdout));
    assert_eq!(rows[0], ["name", "id", "nothing"]);
    let r5 = server.record_value(5).unwrap();
    assert_eq!(
        rows[5],
        [
            r5["name"].as_str().unwrap().to_string(),
            "5".to_string(),
            String::new()
        ]
    );
}

#[test]
fn a_secret_appears_nowhere() {
    let server = TestServer::start(Config {
        records: 250,
        ..Config::default()
    })
    .unwrap();
    let secret = "s3cr3t-T0KEN-value-4242";
    let d = dir("secret");
    let out = d.join("out.ndjson");
    let state = d.join("state.json");
    let report = d.join("report.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--token-env",
        "PAGEWISE_CLI_TEST_TOKEN",
        "-vvv",
        "--page-size",
        "50",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--json-progress",
    ];
    args.extend(OFFSET);
    let o = bin()
        .args(&args)
        .env("PAGEWISE_CLI_TEST_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains(secret));
    assert!(!text(&o.stderr).contains(secret));
    let last: Value = text(&o.stderr)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("--json-progress lines on stderr");
    assert_eq!(last["done"], true);
    assert_eq!(last["records"], 250);
    assert_eq!(last["total"], 250);
    for f in [&out, &state, &report] {
        assert!(
            !std::fs::read_to_string(f).unwrap().contains(secret),
            "{}",
            f.display()
        );
    }
    // A failure says where, not the token.
    let bad = format!("{}/garbage/status/401/items", server.url());
    let mut args = vec![
        "pull",
        &bad,
        "--token-env",
        "PAGEWISE_CLI_TEST_TOKEN",
        "-vvv",
        "--max-retries",
        "0",
    ];
    args.extend(OFFSET);
    let o = bin()
        .args(&args)
        .env("PAGEWISE_CLI_TEST_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("401"), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains(secret));
    assert!(!text(&o.stdout).contains(secret));

    // From a file, the same.
    let tf = d.join("token");
    std::fs::write(&tf, format!("{secret}\n")).unwrap();
    let mut args = vec![
        "pull",
        &url,
        "--token-file",
        tf.to_str().unwrap(),
        "-vv",
        "-q",
    ];
    args.extend(OFFSET);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0));
    assert!(!text(&o.stderr).contains(secret));
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &[
            "pull",
            "incident",
            "--preset",
            "servicenw",
            "--instance",
            "acme",
        ],
        &["pull", "incident", "--preset", "servicenow"],
        &["pull", "http://127.0.0.1:9/items", "--state", "s.json"],
        &[
            "pull",
            "http://127.0.0.1:9/items",
            "--token-env",
            "PAGEWISE_CLI_TEST_UNSET",
        ],
        &["pull", "http://127.0.0.1:9/items", "--header", "novalue"],
        &["pull", "http://127.0.0.1:9/items", "--columns", "a"],
        &[
            "pull",
            "http://127.0.0.1:9/items",
            "--options",
            "/nonexistent/options.json",
        ],
        &["pull", "--frobnicate"],
        &[
            "fetch",
            "items/{id}",
            "--base-url",
            "http://127.0.0.1:9/",
            "--ids",
            "/nonexistent/ids.txt",
        ],
        &[
            "push",
            "http://127.0.0.1:9/items",
            "--input",
            "/nonexistent/in.ndjson",
        ],
    ];
    for args in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(!o.stderr.is_empty());
    }
    let o = run(&[
        "pull",
        "incident",
        "--preset",
        "servicenw",
        "--instance",
        "acme",
    ]);
    assert!(text(&o.stderr).contains("servicenw"), "{}", text(&o.stderr));
    let o = run(&[
        "pull",
        "http://127.0.0.1:9/items",
        "--token-env",
        "PAGEWISE_CLI_TEST_UNSET",
    ]);
    assert!(
        text(&o.stderr).contains("PAGEWISE_CLI_TEST_UNSET is not set"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn options_file_with_flags_over_it() {
    let server = TestServer::start(Config {
        records: 120,
        ..Config::default()
    })
    .unwrap();
    let d = dir("options");
    let options = d.join("options.json");
    std::fs::write(
        &options,
        format!(
            r#"{{ "baseUrl": "{}/page/", "recordsAt": "/results",
                 "pagination": {{ "type": "page", "pageParam": "page", "sizeParam": "per_page" }},
                 "pageSize": 7 }}"#,
            server.url()
        ),
    )
    .unwrap();
    let o = run(&[
        "pull",
        "items",
        "--options",
        options.to_str().unwrap(),
        "--total-pointer",
        "/total",
        "--page-size",
        "25",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ids_of(&text(&o.stdout)), (1..=120).collect::<Vec<_>>());
    let pages = server
        .log()
        .iter()
        .filter(|r| r.path.contains("/page/items"))
        .count();
    assert_eq!(
        pages, 5,
        "page size 25 from the flag, over the document's 7"
    );
}

#[test]
fn interrupted_pull_resumes_without_duplicates() {
    let server = TestServer::start(Config {
        records: 2000,
        latency: Duration::from_millis(40),
        ..Config::default()
    })
    .unwrap();
    let d = dir("resume");
    let out = d.join("out.ndjson");
    let state = d.join("state.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--page-size",
        "20",
        "--concurrency",
        "2",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "-q",
    ];
    args.extend(OFFSET);
    let child = bin()
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a few pages are written (100 pages at 40 ms, two at a time).
    let start = Instant::now();
    while records_in(&state).is_none_or(|n| n < 100) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no state file written"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let first = records_in(&state).unwrap();
    assert!(first < 2000, "interrupted mid-pull: {first}");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["finished"], false);
    assert_eq!(
        st["output"]["bytes"],
        std::fs::metadata(&out).unwrap().len()
    );

    // Again: it resumes and finishes.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ids = ids_of(&std::fs::read_to_string(&out).unwrap());
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for id in &ids {
        *seen.entry(*id).or_default() += 1;
    }
    assert_eq!(ids.len(), 2000, "every id once: {} lines", ids.len());
    assert!((1..=2000).all(|id| seen.get(&id) == Some(&1)));
    assert_eq!(ids, (1..=2000).collect::<Vec<_>>(), "in order");
    // Pages before the checkpoint were not asked for again.
    let offsets = server
        .log()
        .iter()
        .filter(|r| r.path.contains("offset=0&") || r.path.ends_with("offset=0"))
        .count();
    assert_eq!(offsets, 1, "the first page was fetched once");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["finished"], true);
    eprintln!("interrupted after {first} records; resumed to 2000");

    // Another command is refused with the same state file.
    let mut other = args.clone();
    other[1] = "http://127.0.0.1:9/other";
    let o = run(&other);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

fn records_in(state: &Path) -> Option<u64> {
    let t = std::fs::read_to_string(state).ok()?;
    serde_json::from_str::<Value>(&t).ok()?["output"]["records"].as_u64()
}

#[test]
fn demo_pull() {
    let d = dir("demo");
    let out = d.join("demo.ndjson");
    let o = run(&[
        "pull",
        "--demo",
        "--demo-records",
        "2500",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        ids_of(&std::fs::read_to_string(&out).unwrap()),
        (1..=2500).collect::<Vec<_>>()
    );
    assert!(text(&o.stderr).contains("demo API at http://127.0.0.1:"));
}

#[test]
fn get_fetch_push() {
    let server = TestServer::start(Config {
        records: 50,
        ..Config::default()
    })
    .unwrap();
    let base = format!("{}/", server.url());
    let o = run(&["get", &format!("{base}items/7")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim_end(), server.record_json(7).unwrap());

    let d = dir("jobs");
    let ids = d.join("ids.txt");
    std::fs::write(&ids, "3\n999\n5\n").unwrap();
    let o = run(&[
        "fetch",
        "items/{id}",
        "--base-url",
        &base,
        "--ids",
        ids.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "one id failed: {}",
        text(&o.stderr)
    );
    let lines: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "3");
    assert_eq!(lines[0]["record"], server.record_value(3).unwrap());
    assert_eq!(lines[1]["id"], "999");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("404"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["record"]["id"], 5);

    let input = d.join("in.ndjson");
    std::fs::write(
        &input,
        "{\"name\":\"a\"}\n{\"name\":\"b\",\"reject\":true}\n",
    )
    .unwrap();
    let o = run(&[
        "push",
        &format!("{base}items"),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "one record rejected: {}",
        text(&o.stderr)
    );
    let lines: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], 201);
    let id: u64 = lines[0]["id"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or(lines[0]["id"].as_u64())
        .unwrap();
    assert_eq!(server.record_value(id).unwrap()["name"], "a");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("422"),
        "{}",
        lines[1]
    );
}

#[test]
fn delta_pulls_only_what_changed_since_the_stored_watermark() {
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    let d = dir("delta");
    let out = d.join("out.ndjson");
    let state = d.join("state.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--since",
        "updated_at=2000-01-01T00:00:00Z",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "-q",
    ];
    args.extend(OFFSET);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ids_of(&std::fs::read_to_string(&out).unwrap()).len(), 300);
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(st["finished"], true);
    assert_eq!(st["watermark"]["field"], "updated_at");

    server.update(&[5, 6]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(ids_of(&std::fs::read_to_string(&out).unwrap()), vec![5, 6]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        ids_of(&std::fs::read_to_string(&out).unwrap()),
        Vec::<u64>::new()
    );
}

#[test]
fn verbose_flags_show_the_library_logs() {
    let server = TestServer::start(Config {
        records: 250,
        ..Config::default()
    })
    .unwrap();
    let url = format!("{}/offset/items", server.url());
    let d = dir("verbose");
    let out = d.join("out.ndjson");
    let pull = |v: Option<&str>| {
        let mut args = vec!["pull", url.as_str()];
        args.extend(OFFSET);
        args.extend(["--page-size", "100", "-o", out.to_str().unwrap()]);
        args.extend(v);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        text(&o.stderr)
    };
    // Quiet by default; -v: the sweep's end (info); -vv: one line per request (debug).
    let none = pull(None);
    assert!(!none.contains("-> 200 in"), "{none}");
    let info = pull(Some("-v"));
    assert!(!info.contains("-> 200 in"), "{info}");
    let debug = pull(Some("-vv"));
    let requests: Vec<&str> = debug.lines().filter(|l| l.contains("-> 200 in")).collect();
    assert_eq!(requests.len(), 3, "{debug}");
    assert!(
        requests
            .iter()
            .all(|l| l.contains("GET http://127.0.0.1:") && l.contains("/offset/items?")),
        "{debug}"
    );
}

/// The test server failing every request whose path holds `at` (a 404,
/// which no retry mends), so that a pull stops there with its state saved.
fn failing_at(server: &TestServer, at: &str) {
    server.set_faults(Faults {
        fail_paths: vec![FailPath {
            contains: at.into(),
            status: 404,
        }],
        ..Faults::default()
    });
}

#[test]
fn a_credential_in_the_target_query_stays_out_of_logs_and_state() {
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    let secret = "qu3ry-S3CRET-9911";
    let d = dir("query-secret");
    let out = d.join("out.ndjson");
    let state = d.join("state.json");
    let url = format!("{}/offset/items?api_key={secret}&active=true", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--page-size",
        "50",
        "--max-retries",
        "0",
        "-vv",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend(OFFSET);
    failing_at(&server, "offset=100");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("GET "),
        "request lines at -vv: {}",
        text(&o.stderr)
    );
    assert!(
        !text(&o.stderr).contains(secret),
        "the query's credential in the logs: {}",
        text(&o.stderr)
    );
    let st = std::fs::read_to_string(&state).unwrap();
    assert!(
        !st.contains(secret),
        "the credential in the state file: {st}"
    );
    assert_eq!(records_in(&state), Some(100));

    // The resume still sends it, and the other parameter, with every request.
    server.set_faults(Faults::default());
    server.reset();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains(secret));
    assert_eq!(
        ids_of(&std::fs::read_to_string(&out).unwrap()),
        (1..=300).collect::<Vec<_>>()
    );
    let log = server.log();
    assert!(!log.is_empty());
    for r in &log {
        assert!(
            r.path.contains(&format!("api_key={secret}")) && r.path.contains("active=true"),
            "{}",
            r.path
        );
    }
}

#[test]
fn a_json_array_reads_after_a_failure_and_after_the_resume() {
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    let d = dir("json-resume");
    let out = d.join("out.json");
    let state = d.join("state.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--format",
        "json",
        "--page-size",
        "50",
        "--max-retries",
        "0",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend(OFFSET);
    failing_at(&server, "offset=100");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap())
        .expect("the output of a failed pull is a JSON array");
    assert_eq!(first.as_array().unwrap().len(), 100);

    // The output gone: a usage error that says what to do.
    let aside = d.join("aside.json");
    std::fs::rename(&out, &aside).unwrap();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("remove the state file"),
        "{}",
        text(&o.stderr)
    );
    std::fs::rename(&aside, &out).unwrap();

    server.set_faults(Faults::default());
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let all: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap())
        .expect("the resumed output is one JSON array");
    let ids: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=300).collect::<Vec<_>>());
}

#[test]
fn a_run_that_could_not_start_leaves_no_state_in_the_way() {
    let server = TestServer::start(Config {
        records: 120,
        ..Config::default()
    })
    .unwrap();
    let d = dir("no-start");
    let out = d.join("out.ndjson");
    let state = d.join("state.json");
    let url = format!(
        "{}/offset/items?updated_at_gte=2000-01-01T00:00:00Z",
        server.url()
    );
    let mut args = vec![
        "pull",
        &url,
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend(OFFSET);
    // The delta filter would set a parameter the target already has.
    let mut clash = args.clone();
    clash.extend(["--since", "updated_at=2001-01-01T00:00:00Z"]);
    let o = run(&clash);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    // Corrected (no --since), the same command runs.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        ids_of(&std::fs::read_to_string(&out).unwrap()),
        (1..=120).collect::<Vec<_>>()
    );
}

#[test]
fn fetch_takes_a_full_url_template_and_its_query() {
    let server = TestServer::start(Config {
        records: 20,
        ..Config::default()
    })
    .unwrap();
    let d = dir("fetch-url");
    let ids = d.join("ids.txt");
    std::fs::write(&ids, "3\n5\n").unwrap();
    let template = format!("{}/items/{{id}}?fields_hint=all", server.url());
    let o = run(&["fetch", &template, "--ids", ids.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["record"]["id"], 3);
    assert_eq!(lines[1]["record"]["id"], 5);
    for r in server.log() {
        assert!(r.path.contains("fields_hint=all"), "{}", r.path);
    }
}

#[test]
fn a_resumed_csv_has_one_header_and_every_row_once() {
    let server = TestServer::start(Config {
        records: 300,
        ..Config::default()
    })
    .unwrap();
    let d = dir("csv-resume");
    let out = d.join("out.csv");
    let state = d.join("state.json");
    let url = format!("{}/offset/items", server.url());
    let mut args = vec![
        "pull",
        &url,
        "--format",
        "csv",
        "--page-size",
        "50",
        "--max-retries",
        "0",
        "-q",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend(OFFSET);
    failing_at(&server, "offset=100");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    server.set_faults(Faults::default());
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let rows = csv(&std::fs::read_to_string(&out).unwrap());
    let header = &rows[0];
    let id = header.iter().position(|c| c == "id").expect("an id column");
    assert_eq!(rows.len(), 301, "one header, 300 rows");
    let ids: Vec<u64> = rows[1..].iter().map(|r| r[id].parse().unwrap()).collect();
    assert_eq!(ids, (1..=300).collect::<Vec<_>>());
}
