//! Salesforce's `Sforce-Limit-Info: api-usage=used/limit` (the org's daily
//! API request limit), as the test server's Salesforce family sends it on
//! every answer: a sweep through `Preset::Salesforce` reports the latest
//! usage, and raises `Notice::ApiUsageHigh` once at 90% of the limit; a
//! write job reports it too. The npm package checks the same in
//! bindings/npm/test/presets-e2e.test.mjs.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use pagewise::{Api, ApiUsage, Client, Notice, Preset, Report};
use pagewise_testserver::{Config, FamilyConfig, TestServer};
use serde_json::{json, Value};

const RECORDS: u64 = 2_500;
const SOQL: &str = "SELECT Id, Name, SystemModstamp FROM Account";

/// A Salesforce family announcing `api_limit` as the daily limit.
fn server(api_limit: u64) -> TestServer {
    TestServer::start(Config {
        records: RECORDS,
        latency: Duration::from_millis(1),
        families: FamilyConfig {
            salesforce_api_limit: api_limit,
            ..FamilyConfig::default()
        },
        ..Config::default()
    })
    .expect("test server starts")
}

fn api(server: &TestServer) -> Api {
    Api::builder(format!("{}/services/data/v60.0/", server.url()))
        .preset(Preset::Salesforce)
        // 200 records a query page (the preset asks for 2000).
        .header("Sforce-Query-Options", "batchSize=200")
        .build()
        .expect("the preset builds")
}

fn pull(api: &Api, blocking: bool) -> Report {
    let (records, report) = if blocking {
        api.blocking()
            .list("query")
            .query("q", SOQL)
            .collect_with_report::<Value>()
    } else {
        futures::executor::block_on(
            Client::new(api)
                .list("query")
                .query("q", SOQL)
                .collect_with_report::<Value>(),
        )
    }
    .expect("the pull succeeds");
    assert_eq!(records.len() as u64, RECORDS);
    report
}

fn usage(used: u64, limit: u64) -> Option<(u64, u64)> {
    Some((used, limit))
}

fn pair(u: Option<ApiUsage>) -> Option<(u64, u64)> {
    u.map(|u| (u.used, u.limit))
}

fn high_notices(report: &Report) -> Vec<(u64, u64)> {
    report
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::ApiUsageHigh { used, limit } => Some((*used, *limit)),
            _ => None,
        })
        .collect()
}

fn usage_in_the_report(blocking: bool) {
    let server = server(15_000);
    let api = api(&server);
    let report = pull(&api, blocking);
    // The family counts every Salesforce request; the sweep's were the only ones.
    assert_eq!(report.requests, 13);
    assert_eq!(pair(report.api_usage), usage(13, 15_000), "{report:?}");
    assert!(high_notices(&report).is_empty(), "{:?}", report.notices);
    assert!(!report.changed_during_sweep);

    // A second pull sees the usage go on.
    let report = pull(&api, blocking);
    assert_eq!(pair(report.api_usage), usage(26, 15_000));
}

#[test]
fn a_salesforce_pull_reports_its_api_usage_blocking() {
    usage_in_the_report(true);
}

#[test]
fn a_salesforce_pull_reports_its_api_usage_async() {
    usage_in_the_report(false);
}

fn notice_near_the_limit(blocking: bool) {
    // 13 pages against a limit of 12: 90% is reached at the 11th answer.
    let server = server(12);
    let report = pull(&api(&server), blocking);
    assert_eq!(
        high_notices(&report),
        vec![(11, 12)],
        "once, the first time"
    );
    assert_eq!(pair(report.api_usage), usage(13, 12), "the latest usage");
    assert_eq!(report.complete, Some(true), "a usage notice is no change");
    assert!(!report.changed_during_sweep);
}

#[test]
fn a_notice_once_usage_reaches_ninety_percent_blocking() {
    notice_near_the_limit(true);
}

#[test]
fn a_notice_once_usage_reaches_ninety_percent_async() {
    notice_near_the_limit(false);
}

#[test]
fn a_write_job_reports_the_api_usage() {
    let server = server(15_000);
    let api = api(&server);
    let new: Vec<Value> = (0..450)
        .map(|i| json!({ "Name": format!("new {i}") }))
        .collect();
    let (outcomes, report) = api
        .blocking()
        .insert_many("Account", &new)
        .run_with_report()
        .expect("the job runs");
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    assert_eq!(report.requests, 3, "200 records a request");
    assert_eq!(pair(report.api_usage), usage(3, 15_000), "{report:?}");

    let (_, report) = futures::executor::block_on(
        Client::new(&api)
            .insert_many("Account", &new[..10])
            .run_with_report(),
    )
    .expect("the job runs");
    assert_eq!(pair(report.api_usage), usage(4, 15_000));
}

/// Other APIs announce no usage: the report says none.
#[test]
fn no_usage_without_the_header() {
    let server = server(15_000);
    let report = Api::builder(format!("{}/api/now/table/", server.url()))
        .preset(Preset::ServiceNow)
        .build()
        .expect("the preset builds")
        .blocking()
        .list("incident")
        .collect_with_report::<Value>()
        .expect("the pull succeeds")
        .1;
    assert_eq!(report.api_usage, None);
}
