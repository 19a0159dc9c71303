//! Every preset, pulled through the blocking client from the built-in test
//! API server, which speaks each API family's wire format (20,000 records,
//! 20 ms latency per request, the families' own page-size caps): records,
//! pages and seconds per preset.
//!
//! ```text
//! cargo run --release --example presets
//! ```

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pagewise::{Api, Preset};
use pagewise_testserver::{Config, TestServer};
use serde_json::Value;

const RECORDS: u64 = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(Config {
        records: RECORDS,
        latency: Duration::from_millis(20),
        ..Config::default()
    })?;
    println!(
        "test API server on {} ({RECORDS} records, 20 ms latency)",
        server.url()
    );
    // (preset, base URL under the server, collection, query, id pointer)
    let soql = "SELECT Id, Name, SystemModstamp FROM Account";
    type Run<'a> = (Preset, &'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
    let runs: [Run; 7] = [
        (
            Preset::ServiceNow,
            "/api/now/table/",
            "incident",
            &[],
            "/sys_id",
        ),
        (
            Preset::Salesforce,
            "/services/data/v60.0/",
            "query",
            &[("q", soql)],
            "/Id",
        ),
        (
            Preset::GitHub,
            "/",
            "repos/acme/widgets/issues",
            &[("state", "all")],
            "/number",
        ),
        (Preset::JsonApi, "/jsonapi/", "articles", &[], "/id"),
        (Preset::JsonApiPage, "/jsonapi/", "articles", &[], "/id"),
        (Preset::PostgRest, "/rest/v1/", "items", &[], "/id"),
        (Preset::Stripe, "/v1/", "customers", &[], "/id"),
    ];
    println!(
        "{:<13} {:>8} {:>6} {:>8}  complete",
        "preset", "records", "pages", "seconds"
    );
    for (preset, base, path, query, id) in runs {
        let api = Api::builder(format!("{}{base}", server.url()))
            .preset(preset)
            .concurrency(16)
            .build()?;
        let client = api.blocking();
        let mut list = client.list(path);
        for (k, v) in query {
            list = list.query(*k, *v);
        }
        let started = Instant::now();
        let (records, report) = list.collect_with_report::<Value>()?;
        let seconds = started.elapsed().as_secs_f64();
        let ids: HashSet<String> = records
            .iter()
            .map(|r| r.pointer(id).map(Value::to_string).unwrap_or_default())
            .collect();
        assert_eq!(ids.len(), records.len(), "{preset}: a record came twice");
        println!(
            "{:<13} {:>8} {:>6} {:>8.2}  {}",
            preset.to_string(),
            records.len(),
            report.pages,
            seconds,
            report
                .complete
                .map_or("unknown (no total)".into(), |c| c.to_string()),
        );
    }
    Ok(())
}
