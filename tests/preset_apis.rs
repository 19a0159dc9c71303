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
        other => panic!(
            "{}: record without an id at {}: {other:?}",
            case.preset, case.id
        ),
    }
}

/// The ids of `records`, checked to be unique.
fn unique_ids(case: &Case, records: &[Value]) -> BTreeSet<String> {
    let ids: BTreeSet<String> = records.iter().map(|r| id_of(case, r)).collect();
    assert_eq!(
        ids.len(),
        records.len(),
        "{}: a record came twice",
        case.preset
    );
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
        assert!(report.pages > 1, "{}: {} pages", case.preset, report.pages);
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
        assert_eq!(
            all.len() as u64,
            RECORDS,
            "{}: the first sync gets everything",
            case.preset
        );
        let mark = report
            .watermark
            .expect("a delta sync reports its watermark");

        let (none, _) = pull(&api, &case, Some(mark.clone()));
        assert!(
            none.is_empty(),
            "{}: {} unchanged records came back",
            case.preset,
            none.len()
        );

        // Ids 1..=RECORDS exist; update every 50th, insert 20.
        let updated: Vec<u64> = (1..=RECORDS).step_by(50).collect();
        server.update(&updated);
        let inserted = server.insert(20);
        let (changed, _) = pull(&api, &case, Some(mark));
        unique_ids(&case, &changed);
        let expected = inserted.len() + if case.sees_updates { updated.len() } else { 0 };
        assert_eq!(
            changed.len(),
            expected,
            "{}: the records changed since the watermark",
            case.preset
        );
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

/// A well-formed id that names no record of the family.
fn missing_id(case: &Case) -> &'static str {
    match case.preset {
        Preset::ServiceNow => "ffffffffffffffffffffffffffffffff",
        Preset::Salesforce => "001000000000000AAA",
        Preset::Stripe => "cus_ZZZZZZZZZZZZZZ",
        _ => "999999",
    }
}

/// The path of one record of the family, `{id}` for its id.
fn record_path(case: &Case) -> &'static str {
    match case.preset {
        Preset::ServiceNow => "incident/{id}",
        Preset::Salesforce => "sobjects/Account/{id}",
        Preset::GitHub => "repos/acme/widgets/issues/{id}",
        Preset::JsonApi | Preset::JsonApiPage => "articles/{id}",
        Preset::PostgRest => "items/{id}", // batched: `items?id=in.(..)`
        Preset::Stripe => "customers/{id}",
        _ => unreachable!(),
    }
}

fn lookup(blocking: bool) {
    let server = server();
    for case in cases() {
        let api = api(&server, &case);
        let (records, _) = pull_blocking(&api, &case, None);
        let mut ids: Vec<String> = records
            .iter()
            .step_by(97)
            .map(|r| id_of(&case, r))
            .collect();
        ids.insert(3, missing_id(&case).to_string());
        let results: Vec<(String, pagewise::Result<Value>)> = if blocking {
            api.blocking()
                .fetch_many(record_path(&case), &ids)
                .collect()
                .unwrap()
        } else {
            futures::executor::block_on(
                Client::new(&api)
                    .fetch_many(record_path(&case), &ids)
                    .collect(),
            )
            .unwrap()
        };
        assert_eq!(results.len(), ids.len(), "{}", case.preset);
        for (id, result) in results {
            if id == missing_id(&case) {
                let e = result.expect_err("a missing id is that id's error");
                assert_eq!(e.status(), Some(404), "{}: {e}", case.preset);
            } else {
                // ServiceNow, JSON:API and PostgREST look ids up in batches
                // (their presets' `lookup`), the others one GET per id.
                let record = result.unwrap_or_else(|e| panic!("{}: {id}: {e}", case.preset));
                assert_eq!(id_of(&case, &record), id, "{}", case.preset);
            }
        }
    }
}

#[test]
fn every_preset_looks_records_up_by_id_blocking() {
    lookup(true);
}

#[test]
fn every_preset_looks_records_up_by_id_async() {
    lookup(false);
}

fn salesforce_count(api: &Api) -> usize {
    api.blocking()
        .list("query")
        .query("q", SOQL)
        .collect::<Value>()
        .unwrap()
        .len()
}

/// Salesforce's composite sObject collections: insert, update, upsert on an
/// external id, delete, 200 records a request, per-record results.
fn salesforce_writes(blocking: bool) {
    let server = server();
    let case = cases()
        .into_iter()
        .find(|c| c.preset == Preset::Salesforce)
        .unwrap();
    let api = api(&server, &case);
    let new: Vec<Value> = (0..450)
        .map(|i| serde_json::json!({ "Name": format!("new {i}"), "reject": i == 7 }))
        .collect();
    let inserted = if blocking {
        api.blocking().insert_many("Account", &new).run().unwrap()
    } else {
        futures::executor::block_on(Client::new(&api).insert_many("Account", &new).run()).unwrap()
    };
    assert_eq!(inserted.len(), 450);
    let mut ids = Vec::new();
    for o in &inserted {
        match &o.result {
            Ok(w) => ids.push(w.id.clone().expect("Salesforce answers the new Id")),
            Err(e) => {
                assert_eq!(o.index, 7, "only the rejected record fails: {e}");
                assert!(
                    e.to_string().contains("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
                    "{e}"
                );
            }
        }
    }
    assert_eq!(ids.len(), 449);
    assert_eq!(salesforce_count(&api), RECORDS as usize + 449);
    let requests = server
        .log()
        .iter()
        .filter(|r| r.path.contains("composite/sobjects"))
        .count();
    assert_eq!(requests, 3, "200 records a request");

    let changes: Vec<Value> = ids
        .iter()
        .take(250)
        .map(|id| serde_json::json!({ "Id": id, "Name": "renamed" }))
        .collect();
    let updated = api
        .blocking()
        .update_many("Account", &changes) // ids in `Id`: the preset's `recordIdField`
        .run()
        .unwrap();
    assert!(updated.iter().all(|o| o.result.is_ok()), "{updated:?}");
    let one: Value = api
        .blocking()
        .get(&format!("sobjects/Account/{}", ids[249]))
        .unwrap();
    assert_eq!(one["Name"], "renamed");

    let gone: Vec<Value> = ids
        .iter()
        .take(100)
        .map(|id| serde_json::json!({ "Id": id }))
        .collect();
    let deleted = api.blocking().delete_many("Account", &gone).run().unwrap();
    assert!(deleted.iter().all(|o| o.result.is_ok()), "{deleted:?}");
    assert_eq!(salesforce_count(&api), RECORDS as usize + 349);
}

#[test]
fn salesforce_composite_collections_blocking() {
    salesforce_writes(true);
}

#[test]
fn salesforce_composite_collections_async() {
    salesforce_writes(false);
}

/// PostgREST: a bulk insert of a JSON array, all or nothing; an upsert
/// with `Prefer: resolution=merge-duplicates`.
#[test]
fn postgrest_bulk_insert_and_upsert() {
    let server = server();
    let case = cases()
        .into_iter()
        .find(|c| c.preset == Preset::PostgRest)
        .unwrap();
    let api = api(&server, &case);
    let client = api.blocking();
    let rows: Vec<Value> = (0..1500)
        .map(|i| serde_json::json!({ "id": 100_000 + i, "name": format!("row {i}") }))
        .collect();
    let outcomes = client.insert_many("items", &rows).run().unwrap();
    assert!(
        outcomes.iter().all(|o| o.result.is_ok()),
        "{:?}",
        outcomes.iter().find(|o| o.result.is_err())
    );
    assert_eq!(server.ids().len() as u64, RECORDS + 1500);
    for i in [0u64, 999, 1499] {
        assert_eq!(server.write_count(100_000 + i), 1, "written once");
    }
    // Inserting an existing key again fails the whole batch (409), writes nothing.
    let again = client.insert_many("items", &rows[..10]).run().unwrap();
    assert!(
        again
            .iter()
            .all(|o| o.result.as_ref().is_err_and(|e| e.status() == Some(409))),
        "{again:?}"
    );
    // An upsert merges them.
    let changed: Vec<Value> = rows[..10]
        .iter()
        .map(|r| serde_json::json!({ "id": r["id"], "name": "merged" }))
        .collect();
    let upserted = client.upsert_many("items", &changed).run().unwrap();
    assert!(upserted.iter().all(|o| o.result.is_ok()), "{upserted:?}");
    assert_eq!(server.record_value(100_000).unwrap()["name"], "merged");
    assert_eq!(server.ids().len() as u64, RECORDS + 1500);
}

fn github_server(families: FamilyConfig) -> TestServer {
    TestServer::start(Config {
        records: RECORDS,
        latency: Duration::from_millis(2),
        families,
        ..Config::default()
    })
    .expect("test server starts")
}

fn github_pull(server: &TestServer) -> (Vec<Value>, Report) {
    let case = cases()
        .into_iter()
        .find(|c| c.preset == Preset::GitHub)
        .unwrap();
    let api = api(server, &case);
    pull_blocking(&api, &case, None)
}

/// GitHub's primary rate limit, announced in `X-RateLimit-*`: a sweep of 26
/// requests under a budget of 10 per 2 s waits for each reset instead of
/// running into the limit.
#[test]
fn github_preset_keeps_to_the_budget_its_headers_announce() {
    let server = github_server(FamilyConfig {
        github_budget: 10,
        github_window: Duration::from_secs(2),
        ..FamilyConfig::default()
    });
    let (records, report) = github_pull(&server);
    assert_eq!(records.len() as u64, RECORDS);
    let refused = server
        .log()
        .iter()
        .filter(|r| r.status == 403 || r.status == 429)
        .count();
    assert_eq!(refused, 0, "{report:?}");
    assert!(report.requests > 20, "{report:?}");
}

/// GitHub's secondary rate limit, a 403 with `Retry-After`: the preset's
/// `forbiddenRateLimit` retries it after the wait; no record is lost.
#[test]
fn github_preset_waits_out_secondary_rate_limits() {
    let server = github_server(FamilyConfig {
        github_secondary: Some(pagewise_testserver::SecondaryLimit {
            every: 9,
            status: 403,
            retry_after_secs: 1,
        }),
        ..FamilyConfig::default()
    });
    let (records, report) = github_pull(&server);
    assert_eq!(records.len() as u64, RECORDS);
    unique_ids(&cases()[2], &records);
    assert!(report.retries.throttled > 0, "{report:?}");
    let refused = server.log().iter().filter(|r| r.status == 403).count() as u64;
    assert_eq!(report.retries.throttled, refused, "{report:?}");
}

/// The presets set no credential: the user's `auth` goes with them. ServiceNow
/// with basic auth; Supabase's two secret headers (`apikey` and a bearer).
#[test]
fn presets_take_the_users_credentials() {
    let server = TestServer::start(Config {
        records: 300,
        families: FamilyConfig {
            basic: Some(("admin".into(), "s3cret".into())),
            postgrest_apikey: Some("anon-key".into()),
            ..FamilyConfig::default()
        },
        ..Config::default()
    })
    .unwrap();
    let servicenow = |auth: Option<pagewise::Auth>| {
        let mut b =
            Api::builder(format!("{}/api/now/table/", server.url())).preset(Preset::ServiceNow);
        if let Some(a) = auth {
            b = b.auth(a);
        }
        b.build()
            .unwrap()
            .blocking()
            .list("incident")
            .collect::<Value>()
    };
    assert_eq!(
        servicenow(Some(pagewise::Auth::basic("admin", "s3cret")))
            .unwrap()
            .len(),
        300
    );
    let e = servicenow(None).unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(!e.to_string().contains("s3cret"));

    let supabase = Api::builder(format!("{}/rest/v1/", server.url()))
        .preset(Preset::PostgRest)
        .auth(pagewise::Auth::headers([
            ("apikey", "anon-key"),
            ("Authorization", "Bearer anon-key"),
        ]))
        .build()
        .unwrap();
    assert_eq!(
        supabase
            .blocking()
            .list("items")
            .collect::<Value>()
            .unwrap()
            .len(),
        300
    );
    let e = Api::builder(format!("{}/rest/v1/", server.url()))
        .preset(Preset::PostgRest)
        .build()
        .unwrap()
        .blocking()
        .list("items")
        .collect::<Value>()
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
}
