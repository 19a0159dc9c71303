//! Every preset against the test server's wire format of its API family
//! (tests/server/FAMILIES.md), on the blocking and the async client: a pull
//! of every record, a delta sync, id lookups and batch writes where the API
//! has them. The npm package runs the same cases in
//! bindings/npm/test/presets-e2e.test.mjs.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::time::Duration;

use pagewise::{Api, Client, Preset, Report, Watermark};
use pagewise_testserver::{Config, FamilyConfig, TestServer};
use serde_json::Value;

const RECORDS: u64 = 2_500;

fn server() -> TestServer {
    TestServer::start(Config {
        records: RECORDS,
        latency: Duration::from_millis(2),
        families: FamilyConfig {
            // Small caps, so that every sweep has many pages.
            servicenow_max_limit: 200,
            jsonapi_max_page_size: 50,
            postgrest_max_rows: 250,
            ..FamilyConfig::default()
        },
        ..Config::default()
    })
    .expect("test server starts")
}

/// One preset, as a user of its API would call it.
struct Case {
    preset: Preset,
    /// The base URL under the test server's address.
    base: &'static str,
    /// The collection a pull reads.
    path: &'static str,
    /// Query parameters of the pull.
    query: &'static [(&'static str, &'static str)],
    /// Where a record's id is.
    id: &'static str,
    /// The watermark's field and a value before every record.
    field: &'static str,
    epoch: &'static str,
    /// Whether a record updated on the server is seen by the delta filter
    /// (Stripe filters on `created`: only new records are).
    sees_updates: bool,
    /// Whether the report knows the total (and so says `complete`).
    knows_total: bool,
}

const SOQL: &str = "SELECT Id, Name, SystemModstamp FROM Account";

fn cases() -> Vec<Case> {
    vec![
        Case {
            preset: Preset::ServiceNow,
            base: "/api/now/table/",
            path: "incident",
            query: &[("sysparm_query", "ORDERBYsys_id")],
            id: "/sys_id",
            field: "sys_updated_on",
            epoch: "1970-01-01 00:00:00",
            sees_updates: true,
            knows_total: true,
        },
        Case {
            preset: Preset::Salesforce,
            base: "/services/data/v60.0/",
            path: "query",
            query: &[("q", SOQL)],
            id: "/Id",
            field: "SystemModstamp",
            epoch: "1970-01-01T00:00:00.000+0000",
            sees_updates: true,
            knows_total: true,
        },
        Case {
            preset: Preset::GitHub,
            base: "/",
            path: "repos/acme/widgets/issues",
            query: &[("state", "all")],
            id: "/number",
            field: "updated_at",
            epoch: "1970-01-01T00:00:00Z",
            sees_updates: true,
            knows_total: false,
        },
        Case {
            preset: Preset::JsonApi,
            base: "/jsonapi/",
            path: "articles",
            query: &[],
            id: "/id",
            field: "/attributes/updated_at",
            epoch: "1970-01-01T00:00:00Z",
            sees_updates: true,
            knows_total: true,
        },
        Case {
            preset: Preset::JsonApiPage,
            base: "/jsonapi/",
            path: "articles",
            query: &[],
            id: "/id",
            field: "/attributes/updated_at",
            epoch: "1970-01-01T00:00:00Z",
            sees_updates: true,
            knows_total: true,
        },
        Case {
            preset: Preset::PostgRest,
            base: "/rest/v1/",
            path: "items",
            query: &[],
            id: "/id",
            field: "updated_at",
            epoch: "1970-01-01T00:00:00Z",
            sees_updates: true,
            knows_total: true,
        },
        Case {
            preset: Preset::Stripe,
            base: "/v1/",
            path: "customers",
            query: &[],
            id: "/id",
            field: "created",
            epoch: "0",
            sees_updates: false,
            knows_total: false,
        },
    ]
}

fn api(server: &TestServer, case: &Case) -> Api {
    Api::builder(format!("{}{}", server.url(), case.base))
        .preset(case.preset)
        .concurrency(8)
        .build()
        .unwrap_or_else(|e| panic!("{}: {e}", case.preset))
}

fn id_of(case: &Case, record: &Value) -> String {
    match record.pointer(case.id) {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Number(_)) => v.to_string(),
        other => panic!("{}: record without an id at {}: {other:?}", case.preset, case.id),
    }
}

/// The ids of `records`, checked to be unique.
fn unique_ids(case: &Case, records: &[Value]) -> BTreeSet<String> {
    let ids: BTreeSet<String> = records.iter().map(|r| id_of(case, r)).collect();
    assert_eq!(ids.len(), records.len(), "{}: a record came twice", case.preset);
    ids
}

fn pull_blocking(api: &Api, case: &Case, since: Option<Watermark>) -> (Vec<Value>, Report) {
    let client = api.blocking();
    let mut list = client.list(case.path);
    for (k, v) in case.query {
        list = list.query(*k, *v);
    }
    if let Some(w) = since {
        list = list.since(w);
    }
    list.collect_with_report::<Value>()
        .unwrap_or_else(|e| panic!("{}: {e}", case.preset))
}

fn pull_async(api: &Api, case: &Case, since: Option<Watermark>) -> (Vec<Value>, Report) {
    let client = Client::new(api);
    let mut list = client.list(case.path);
    for (k, v) in case.query {
        list = list.query(*k, *v);
    }
    if let Some(w) = since {
        list = list.since(w);
    }
    futures::executor::block_on(list.collect_with_report::<Value>())
        .unwrap_or_else(|e| panic!("{}: {e}", case.preset))
}

type Pull = fn(&Api, &Case, Option<Watermark>) -> (Vec<Value>, Report);

fn pull_every_record(pull: Pull) {
    let server = server();
    for case in cases() {
        let api = api(&server, &case);
        let (records, report) = pull(&api, &case, None);
        unique_ids(&case, &records);
        assert_eq!(records.len() as u64, RECORDS, "{}: {report:?}", case.preset);
        assert!(report.pages > 5, "{}: {} pages", case.preset, report.pages);
        if case.knows_total {
            assert_eq!(report.total, Some(RECORDS), "{}", case.preset);
            assert_eq!(report.complete, Some(true), "{}: {report:?}", case.preset);
        }
        assert_eq!(report.retries.total(), 0, "{}: {report:?}", case.preset);
    }
}

fn delta_sync(pull: Pull) {
    for case in cases() {
        // A server per case: the updates of one must not show in another.
        let server = server();
        let api = api(&server, &case);
        let (all, report) = pull(&api, &case, Some(Watermark::new(case.field, case.epoch)));
        assert_eq!(all.len() as u64, RECORDS, "{}: the first sync gets everything", case.preset);
        let mark = report.watermark.expect("a delta sync reports its watermark");

        let (none, _) = pull(&api, &case, Some(mark.clone()));
        assert!(none.is_empty(), "{}: {} unchanged records came back", case.preset, none.len());

        // Ids 1..=RECORDS exist; update every 50th, insert 20.
        let updated: Vec<u64> = (1..=RECORDS).step_by(50).collect();
        server.update(&updated);
        let inserted = server.insert(20);
        let (changed, _) = pull(&api, &case, Some(mark));
        unique_ids(&case, &changed);
        let expected = inserted.len() + if case.sees_updates { updated.len() } else { 0 };
        assert_eq!(changed.len(), expected, "{}: the records changed since the watermark", case.preset);
    }
}

#[test]
fn every_preset_pulls_every_record_once_blocking() {
    pull_every_record(pull_blocking);
}

#[test]
fn every_preset_pulls_every_record_once_async() {
    pull_every_record(pull_async);
}

#[test]
fn every_preset_syncs_only_what_changed_blocking() {
    delta_sync(pull_blocking);
}

#[test]
fn every_preset_syncs_only_what_changed_async() {
    delta_sync(pull_async);
}
