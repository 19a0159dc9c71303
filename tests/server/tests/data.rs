//! Data changes over real HTTP and through the Rust API: writes, batches,
//! idempotency, lost acknowledgements, updated_at filters and id lookups.

mod common;

use std::net::SocketAddr;

use common::{ids, parse_stamp, raw, raw_get, Raw};
use pagewise_testserver::{Config, Faults, TestServer};
use serde_json::{json, Value};

fn server(records: u64) -> TestServer {
    TestServer::start(Config {
        records,
        ..Config::default()
    })
    .unwrap()
}

/// Percent-encodes what a query may not carry raw.
fn enc(s: &str) -> String {
    s.replace(' ', "%20")
        .replace('^', "%5E")
        .replace('>', "%3E")
        .replace('<', "%3C")
}

fn send(addr: SocketAddr, method: &str, path: &str, body: &Value) -> Raw {
    raw(addr, method, path, &[], &body.to_string())
}

fn with_key(addr: SocketAddr, method: &str, path: &str, key: &str, body: &Value) -> Raw {
    raw(
        addr,
        method,
        path,
        &[("Idempotency-Key", key)],
        &body.to_string(),
    )
}

/// The latest `updated_at` in the store, as Unix seconds.
fn max_stamp(server: &TestServer) -> i64 {
    server
        .ids()
        .iter()
        .map(|&id| stamp_of(server, id))
        .max()
        .unwrap()
}

fn stamp_of(server: &TestServer, id: u64) -> i64 {
    parse_stamp(
        server.record_value(id).unwrap()["updated_at"]
            .as_str()
            .unwrap(),
    )
}

#[test]
fn post_put_patch_delete_round_trip() {
    let server = server(50);
    let addr = server.addr();
    let newest = max_stamp(&server);

    let got = send(
        addr,
        "POST",
        "/items",
        &json!({"id": 3, "name": "Widget", "tags": ["a"], "updated_at": "1999-01-01T00:00:00Z"}),
    );
    assert_eq!(got.status, 201, "{}", got.text());
    assert_eq!(got.header("content-type"), Some("application/json"));
    let created = got.json();
    assert_eq!(created["id"], 51, "the server assigns the id");
    assert_eq!(created["name"], "Widget");
    assert_eq!(created["tags"], json!(["a"]));
    assert!(got.text().starts_with("{\"id\":51,\"updated_at\":\""));
    assert_eq!(
        parse_stamp(created["updated_at"].as_str().unwrap()),
        newest + 1
    );
    assert_eq!(server.record_value(51), Some(created.clone()));
    assert_eq!(raw_get(addr, "/items/51").json(), created);
    assert_eq!(server.write_count(51), 1);
    assert_eq!(server.write_count(50), 0);
    // It is served by the list endpoints too.
    let page = raw_get(addr, "/keyset/items?id_gt=49").json();
    assert_eq!(ids(&page["items"]), vec![50, 51]);

    let got = send(addr, "PUT", "/items/51", &json!({"name": "Gadget"}));
    assert_eq!(got.status, 200);
    let replaced = got.json();
    assert_eq!(replaced["id"], 51);
    assert_eq!(replaced["name"], "Gadget");
    assert_eq!(replaced.get("tags"), None, "PUT replaces all fields");
    assert_eq!(stamp_of(&server, 51), newest + 2);

    let got = send(
        addr,
        "PATCH",
        "/api/items/51",
        &json!({"price": 3, "id": 9}),
    );
    assert_eq!(got.status, 200);
    assert_eq!(
        got.json(),
        json!({"id": 51, "updated_at": got.json()["updated_at"], "name": "Gadget", "price": 3})
    );
    assert_eq!(stamp_of(&server, 51), newest + 3);
    assert_eq!(server.write_count(51), 3);

    // PATCH on a seeded record keeps its other fields.
    let before = server.record_value(7).unwrap();
    let got = send(addr, "PATCH", "/items/7", &json!({"active": false}));
    assert_eq!(got.status, 200);
    let after = got.json();
    assert_eq!(after["active"], false);
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["description"], before["description"]);

    assert_eq!(raw(addr, "DELETE", "/items/51", &[], "").status, 204);
    assert_eq!(raw_get(addr, "/items/51").status, 404);
    assert_eq!(server.record_value(51), None);
    assert_eq!(server.write_count(51), 3, "kept after deletion");
    let got = raw(addr, "DELETE", "/items/51", &[], "");
    assert_eq!(
        (got.status, got.json()),
        (404, json!({"error": "not found", "id": 51}))
    );
    assert_eq!(send(addr, "PUT", "/items/51", &json!({})).status, 404);
    assert_eq!(send(addr, "PATCH", "/items/51", &json!({})).status, 404);
    // Ids are never reused.
    assert_eq!(
        send(addr, "POST", "/api/items", &json!({})).json()["id"],
        52
    );
    assert_eq!(server.ids().len(), 51);
}

#[test]
fn write_validation() {
    let server = server(10);
    let addr = server.addr();
    for body in ["[1,2]", "\"x\"", "null", "{not json", ""] {
        for (method, path) in [
            ("POST", "/items"),
            ("PUT", "/items/1"),
            ("PATCH", "/items/1"),
        ] {
            let got = raw(addr, method, path, &[], body);
            assert_eq!(got.status, 400, "{method} {path} {body:?}");
            assert!(got.json()["error"].is_string());
        }
    }
    let got = send(
        addr,
        "POST",
        "/items",
        &json!({"name": "no", "reject": true}),
    );
    assert_eq!(
        (got.status, got.json()),
        (422, json!({"error": "rejected", "id": null}))
    );
    let got = send(addr, "PUT", "/items/4", &json!({"reject": true}));
    assert_eq!(
        (got.status, got.json()),
        (422, json!({"error": "rejected", "id": 4}))
    );
    let got = send(addr, "PATCH", "/items/4", &json!({"reject": true}));
    assert_eq!(got.status, 422);
    // `reject: false` is just a field.
    assert_eq!(
        send(addr, "POST", "/items", &json!({"reject": false})).status,
        201
    );
    assert_eq!(send(addr, "PUT", "/items/abc", &json!({})).status, 400);
    // Methods each path does not take.
    for (method, path) in [
        ("POST", "/items/3"),
        ("DELETE", "/items"),
        ("PUT", "/items"),
        ("GET", "/batch/items"),
        ("POST", "/offset/items"),
        ("DELETE", "/cursor/items"),
    ] {
        let got = raw(addr, method, path, &[], "");
        assert_eq!(got.status, 405, "{method} {path}");
        assert!(got.header("allow").is_some());
    }
    assert_eq!(server.ids().len(), 11);
    assert_eq!(server.write_count(4), 0);
}

#[test]
fn rust_api_insert_update_delete() {
    let server = server(20);
    let newest = max_stamp(&server);
    let new = server.insert(3);
    assert_eq!(new, vec![21, 22, 23]);
    assert_eq!(stamp_of(&server, 23), newest + 3);
    let record = server.record_value(21).unwrap();
    assert_eq!(record["id"], 21);
    assert!(record["name"].is_string() && record["description"].is_string());

    let before = server.record_value(5).unwrap();
    server.update(&[5, 999]);
    let after = server.record_value(5).unwrap();
    assert_eq!(
        parse_stamp(after["updated_at"].as_str().unwrap()),
        newest + 4
    );
    assert_eq!(after["revision"], 1);
    assert_eq!(after["name"], before["name"]);
    server.update(&[5]);
    assert_eq!(server.record_value(5).unwrap()["revision"], 2);
    assert_eq!(max_stamp(&server), stamp_of(&server, 5));
    assert_eq!(server.write_count(5), 2);
    assert_eq!(server.write_count(21), 1);
    // The served bytes are the stored ones.
    let served = raw_get(server.addr(), "/items/5");
    assert_eq!(Some(served.text().to_owned()), server.record_json(5));

    server.delete(&[1, 22, 999]);
    assert_eq!(server.ids().len(), 21);
    assert_eq!(server.record_value(1), None);
    assert_eq!(raw_get(server.addr(), "/items/22").status, 404);
    assert_eq!(server.insert(1), vec![24]);
    let body = raw_get(server.addr(), "/offset/items?limit=0").json();
    assert_eq!(body["meta"]["total"], 22);
}

#[test]
fn batch_results_one_per_record_in_order() {
    let server = TestServer::start(Config {
        records: 10,
        max_batch: 5,
        ..Config::default()
    })
    .unwrap();
    let addr = server.addr();
    let batch = |op: &str, records: Value| {
        let got = send(
            addr,
            "POST",
            "/batch/items",
            &json!({"op": op, "records": records}),
        );
        assert_eq!(got.status, 200, "{}", got.text());
        got.json()["results"].as_array().unwrap().clone()
    };

    let results = batch(
        "insert",
        json!([{"name": "a"}, {"name": "b", "reject": true}, 42, {"name": "c", "id": 3}]),
    );
    assert_eq!(results[0], json!({"ok": true, "id": 11, "status": 201}));
    assert_eq!(
        results[1],
        json!({"ok": false, "status": 422, "error": "rejected"})
    );
    assert_eq!(results[2]["ok"], false);
    assert_eq!(results[2]["status"], 400);
    assert!(results[2]["error"].is_string());
    assert_eq!(results[3], json!({"ok": true, "id": 12, "status": 201}));
    assert_eq!(server.record_value(12).unwrap()["name"], "c");
    assert_ne!(
        server.record_value(3).unwrap()["name"],
        "c",
        "insert ignores ids"
    );

    let results = batch(
        "update",
        json!([{"id": 2, "name": "two"}, {"id": 99, "name": "x"}, {"id": 4, "reject": true}, {"name": "no id"}, {"id": "7"}]),
    );
    assert_eq!(results[0], json!({"ok": true, "id": 2, "status": 200}));
    assert_eq!(
        results[1],
        json!({"ok": false, "id": 99, "status": 404, "error": "not found"})
    );
    assert_eq!(
        results[2],
        json!({"ok": false, "id": 4, "status": 422, "error": "rejected"})
    );
    assert_eq!(results[3]["status"], 400);
    assert_eq!(results[4]["status"], 400);
    let two = server.record_value(2).unwrap();
    assert_eq!(two["name"], "two");
    assert!(two["description"].is_string(), "update merges");

    let results = batch(
        "upsert",
        json!([{"id": 5, "name": "five"}, {"id": 50, "name": "fifty"}, {"name": "new"}]),
    );
    assert_eq!(results[0], json!({"ok": true, "id": 5, "status": 200}));
    assert_eq!(results[1], json!({"ok": true, "id": 50, "status": 201}));
    assert_eq!(results[2], json!({"ok": true, "id": 51, "status": 201}));
    assert_eq!(
        server.record_value(5).unwrap().get("description"),
        None,
        "upsert replaces"
    );
    assert_eq!(server.record_value(50).unwrap()["name"], "fifty");

    let results = batch("delete", json!([1, {"id": 2}, 77, "x", {"name": "no id"}]));
    assert_eq!(results[0], json!({"ok": true, "id": 1, "status": 204}));
    assert_eq!(results[1], json!({"ok": true, "id": 2, "status": 204}));
    assert_eq!(
        results[2],
        json!({"ok": false, "id": 77, "status": 404, "error": "not found"})
    );
    assert_eq!(results[3]["status"], 400);
    assert_eq!(results[4]["status"], 400);
    assert!(!server.ids().contains(&1) && !server.ids().contains(&2));
    assert!(batch("insert", json!([])).is_empty());

    // Too many records: 413, nothing applied.
    let count = server.ids().len();
    let got = send(
        addr,
        "POST",
        "/api/batch/items",
        &json!({"op": "insert", "records": [{}, {}, {}, {}, {}, {}]}),
    );
    assert_eq!(got.status, 413);
    assert_eq!(got.json()["max_batch"], 5);
    assert_eq!(server.ids().len(), count);
    for bad in [
        json!({"op": "merge", "records": []}),
        json!({"records": []}),
        json!({"op": "insert"}),
        json!({"op": "insert", "records": {}}),
        json!([]),
    ] {
        assert_eq!(
            send(addr, "POST", "/batch/items", &bad).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn idempotency_key_replays_without_writing_again() {
    let server = server(10);
    let addr = server.addr();
    let body = json!({"name": "once"});
    let first = with_key(addr, "POST", "/items", "k-1", &body);
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = with_key(addr, "POST", "/items", "k-1", &body);
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the exact first answer");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(server.ids().len(), 11);
    assert_eq!(server.write_count(11), 1);
    // Same key, different request.
    let other = with_key(addr, "POST", "/items", "k-1", &json!({"name": "twice"}));
    assert_eq!(other.status, 422);
    assert_eq!(server.ids().len(), 11);
    // Without a key, every POST writes.
    send(addr, "POST", "/items", &body);
    send(addr, "POST", "/items", &body);
    assert_eq!(server.ids().len(), 13);

    let patch = json!({"n": 1});
    let first = with_key(addr, "PATCH", "/items/3", "k-2", &patch);
    let again = with_key(addr, "PATCH", "/items/3", "k-2", &patch);
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.body, again.body);
    assert_eq!(server.write_count(3), 1);

    let batch = json!({"op": "insert", "records": [{"a": 1}, {"reject": true}]});
    let first = with_key(addr, "POST", "/batch/items", "k-3", &batch);
    let again = with_key(addr, "POST", "/batch/items", "k-3", &batch);
    assert_eq!(first.body, again.body);
    assert_eq!(server.ids().len(), 14);
    assert_eq!(first.json()["results"][0]["id"], 14);
    assert_eq!(server.write_count(14), 1);

    // Failed answers are remembered too: a replay does not retry them.
    let reject = json!({"reject": true});
    assert_eq!(with_key(addr, "POST", "/items", "k-4", &reject).status, 422);
    assert_eq!(with_key(addr, "POST", "/items", "k-4", &reject).status, 422);
    let key = [("Idempotency-Key", "k-5")];
    let first = raw(addr, "DELETE", "/items/14", &key, "");
    let again = raw(addr, "DELETE", "/items/14", &key, "");
    assert_eq!((first.status, again.status), (204, 204));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(raw(addr, "DELETE", "/items/14", &[], "").status, 404);
}

#[test]
fn faults_on_writes_apply_before_the_write_except_ack_loss() {
    let server = server(10);
    let addr = server.addr();
    // A 5xx decided before the write: nothing written.
    server.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    for _ in 0..3 {
        let got = with_key(addr, "POST", "/items", "retry-me", &json!({"name": "x"}));
        assert!(got.status >= 500);
    }
    assert_eq!(raw(addr, "DELETE", "/items/2", &[], "").status / 100, 5);
    assert_eq!(server.ids().len(), 10);
    assert_eq!(server.write_count(11), 0);

    // Lost acknowledgement: written, but answered 503 or dropped.
    server.set_faults(Faults {
        ack_loss_rate: 1.0,
        ..Faults::default()
    });
    let mut kinds = Vec::new();
    for i in 0..8 {
        let key = format!("ack-{i}");
        let got = with_key(addr, "POST", "/items", &key, &json!({"i": i}));
        let id = 11 + i;
        if got.status == 503 {
            assert_eq!(got.json(), json!({"error": "injected", "status": 503}));
            kinds.push("503");
        } else {
            assert_eq!(got.status, 201, "the real status, then a cut");
            assert!(!got.complete());
            kinds.push("drop");
        }
        assert_eq!(server.write_count(id), 1, "written once");
        assert_eq!(server.record_value(id).unwrap()["i"], i);
    }
    assert!(
        kinds.contains(&"503") && kinds.contains(&"drop"),
        "{kinds:?}"
    );
    // Reads are not affected by ack loss.
    assert_eq!(raw_get(addr, "/items/1").status, 200);
    // A DELETE whose answer is lost is applied too.
    let got = raw(addr, "DELETE", "/items/1", &[], "");
    assert!(got.status == 503 || !got.complete());
    assert_eq!(server.record_value(1), None);

    // The retry with the same key replays the real answer, writing nothing.
    server.set_faults(Faults::default());
    let got = with_key(addr, "POST", "/items", "ack-0", &json!({"i": 0}));
    assert_eq!(got.status, 201);
    assert_eq!(got.header("idempotent-replayed"), Some("true"));
    assert_eq!(got.json()["id"], 11);
    assert_eq!(server.write_count(11), 1);
    assert_eq!(server.ids().len(), 17);
    assert_eq!(server.stats().faults, 3 + 1 + 8 + 1);
}

/// Walks `dialect` with `filter` (a query fragment) and page size 7;
/// returns the ids and the totals the dialect reported (if any).
fn walk_filtered(addr: SocketAddr, dialect: &str, filter: &str) -> (Vec<u64>, Option<u64>) {
    let base = format!("/{dialect}/items");
    let mut all = Vec::new();
    let mut total = None;
    let mut url = format!("{base}?{filter}&limit=7&per_page=7");
    let mut offset = 0;
    let mut page = 1;
    loop {
        let got = raw_get(addr, &url);
        assert_eq!(got.status, 200, "{url}: {}", got.text());
        let body = got.json();
        let (items, next): (Vec<u64>, Option<String>) = match dialect {
            "offset" => {
                let t = body["meta"]["total"].as_u64().unwrap();
                assert_eq!(got.header("x-total-count"), Some(t.to_string().as_str()));
                total = Some(t);
                let items = ids(&body["data"]);
                offset += items.len();
                let next = (offset < t as usize)
                    .then(|| format!("{base}?{filter}&offset={offset}&limit=7"));
                (items, next)
            }
            "range" => {
                let range = got.header("content-range").unwrap();
                let t: u64 = range.rsplit('/').next().unwrap().parse().unwrap();
                total = Some(t);
                let items = ids(&body);
                offset += items.len();
                let next = (offset < t as usize)
                    .then(|| format!("{base}?{filter}&offset={offset}&limit=7"));
                (items, next)
            }
            "page" => {
                let t = body["total"].as_u64().unwrap();
                total = Some(t);
                let items = ids(&body["results"]);
                offset += items.len();
                page += 1;
                let next = (offset < t as usize && !items.is_empty())
                    .then(|| format!("{base}?{filter}&page={page}&per_page=7"));
                (items, next)
            }
            "cursor" => {
                let next = body["next_cursor"]
                    .as_str()
                    .map(|c| format!("{base}?{filter}&cursor={c}&limit=7"));
                (ids(&body["items"]), next)
            }
            "link" => {
                let next = got.header("link").unwrap().split(", ").find_map(|part| {
                    let (target, rel) = part.split_once(">; ")?;
                    (rel == "rel=\"next\"").then(|| {
                        let target = target.trim_start_matches('<');
                        target[target.find("/link").unwrap()..].to_owned()
                    })
                });
                (ids(&body), next)
            }
            "next" => {
                // Relative to /next/items: the filter must be carried along.
                let next = body["links"]["next"].as_str().map(|n| format!("/next/{n}"));
                (ids(&body["items"]), next)
            }
            "keyset" => {
                let items = ids(&body["items"]);
                let next = (items.len() == 7)
                    .then(|| format!("{base}?{filter}&id_gt={}&limit=7", items[6]));
                (items, next)
            }
            other => panic!("{other}"),
        };
        all.extend(items);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    (all, total)
}

#[test]
fn updated_at_filters_in_every_syntax_on_every_dialect() {
    let server = server(120);
    let addr = server.addr();
    let mut stamps: Vec<(u64, i64)> = server
        .ids()
        .iter()
        .map(|&id| (id, stamp_of(&server, id)))
        .collect();
    stamps.sort_by_key(|&(_, s)| s);
    let (_, pivot) = stamps[80];
    let pivot_text = server.record_value(stamps[80].0).unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let expect = |inclusive: bool| -> Vec<u64> {
        server
            .ids()
            .into_iter()
            .filter(|&id| {
                let s = stamp_of(&server, id);
                if inclusive {
                    s >= pivot
                } else {
                    s > pivot
                }
            })
            .collect()
    };
    let gt = expect(false);
    let gte = expect(true);
    assert!(
        gte.len() > gt.len() && gt.len() > 20,
        "{} {}",
        gt.len(),
        gte.len()
    );

    // The same instant as +02:00 and with a fraction (`%2B` is `+`).
    let (date, time) = pivot_text.trim_end_matches('Z').split_once('T').unwrap();
    let hour: u32 = time[..2].parse().unwrap();
    let shifted = if hour < 22 {
        format!("{date}T{:02}{}%2B02:00", hour + 2, &time[2..])
    } else {
        pivot_text.clone()
    };
    let cases: Vec<(String, &Vec<u64>)> = vec![
        (format!("updated_at_gt={pivot_text}"), &gt),
        (format!("updated_at_gte={pivot_text}"), &gte),
        (format!("updated_at_gt={shifted}"), &gt),
        (
            format!("updated_at_gte={}.5Z", pivot_text.trim_end_matches('Z')),
            &gt,
        ),
        (enc(&format!("sysparm_query=updated_at>{pivot_text}")), &gt),
        (
            enc(&format!(
                "sysparm_query=active=true^updated_at>={pivot_text}^ORDERBYid"
            )),
            &gte,
        ),
        (
            enc(&format!(
                "sysparm_query=updated_at>={}",
                pivot_text.replace('T', " ").trim_end_matches('Z')
            )),
            &gte,
        ),
        (
            enc(&format!(
                "sysparm_query=updated_at>javascript:gs.dateGenerate('{date}','{time}')",
                time = time.trim_end_matches('Z')
            )),
            &gt,
        ),
        (format!("updated_at=gt.{pivot_text}"), &gt),
        (format!("updated_at=gte.{pivot_text}"), &gte),
    ];
    for (filter, want) in &cases {
        for dialect in [
            "offset", "range", "page", "cursor", "link", "next", "keyset",
        ] {
            let (got, total) = walk_filtered(addr, dialect, filter);
            assert_eq!(&got, *want, "{dialect} {filter}");
            if let Some(total) = total {
                assert_eq!(
                    total,
                    want.len() as u64,
                    "{dialect} {filter}: filtered total"
                );
            }
        }
    }
    // The other dialects take the filter too.
    for path in [
        "page0/items?page=0",
        "page-nototal/items?page=1",
        "cursor-header/items?limit=1000",
    ] {
        let got = raw_get(addr, &format!("/{path}&updated_at_gt={pivot_text}"));
        let body = got.json();
        let found = ids(body.get("results").unwrap_or(&body));
        assert_eq!(&found, &gt, "{path}");
    }
    // Several filters: the strictest wins; a filter matching nothing.
    let got = raw_get(
        addr,
        &format!("/offset/items?updated_at_gte=2000-01-01T00:00:00Z&updated_at=gt.{pivot_text}"),
    );
    assert_eq!(got.json()["meta"]["total"], gt.len());
    let got = raw_get(addr, "/range/items?updated_at_gt=2999-01-01T00:00:00Z");
    assert_eq!(
        (got.text(), got.header("content-range")),
        ("[]", Some("items */0"))
    );

    // A changed record shows up after the previous high-water mark.
    let newest = server.record_value(stamps.last().unwrap().0).unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    server.update(&[3]);
    let created = raw(addr, "POST", "/items", &[], r#"{"name":"fresh"}"#).json();
    let body = raw_get(addr, &format!("/keyset/items?updated_at_gt={newest}")).json();
    assert_eq!(
        ids(&body["items"]),
        vec![3, created["id"].as_u64().unwrap()]
    );

    for bad in [
        "updated_at_gt=yesterday",
        "updated_at_gte=2026-02-30T00:00:00Z",
        "updated_at_gt=2026-03-01T00:00:00",
        "sysparm_query=updated_at%3Esoon",
        "updated_at=lt.2026-03-01T00:00:00Z",
        "updated_at=gt.2026-13-01T00:00:00Z",
    ] {
        for dialect in ["offset", "cursor", "link", "keyset"] {
            let got = raw_get(addr, &format!("/{dialect}/items?{bad}"));
            assert_eq!(got.status, 400, "{dialect} {bad}");
            assert!(
                got.json()["error"].as_str().unwrap().contains("updated_at")
                    || bad.starts_with("sysparm")
            );
        }
    }
    // Unknown ServiceNow clauses are ignored.
    let got = raw_get(
        addr,
        &enc("/offset/items?sysparm_query=active=true^ORDERBYname^updated_at<x&limit=0"),
    );
    assert_eq!(got.json()["meta"]["total"], 121);
}

#[test]
fn lookup_of_many_ids() {
    let server = TestServer::start(Config {
        records: 30,
        max_page_size: 10,
        ..Config::default()
    })
    .unwrap();
    let addr = server.addr();
    let got = raw_get(addr, "/items?ids=5,3,99999,1,3");
    assert_eq!(got.status, 200);
    let body = got.json();
    assert_eq!(body.as_object().unwrap().len(), 1);
    assert_eq!(ids(&body["items"]), vec![5, 3, 1]);
    assert_eq!(body["items"][0], server.record_value(5).unwrap());
    assert_eq!(
        ids(&raw_get(addr, "/items?id=in.(2,4,40)").json()["items"]),
        vec![2, 4]
    );
    assert_eq!(
        ids(&raw_get(addr, "/api/items?id=in.%2830%29").json()["items"]),
        vec![30]
    );
    assert_eq!(raw_get(addr, "/items?ids=31").text(), "{\"items\":[]}");
    assert_eq!(
        ids(&raw_get(addr, "/items?ids=1,2,3,4,5,6,7,8,9,10").json()["items"]).len(),
        10
    );
    for bad in [
        "/items?ids=1,2,3,4,5,6,7,8,9,10,11",
        "/items?ids=1,x",
        "/items?ids=-1",
        "/items?id=eq.3",
        "/items?id=in.(1,2",
        "/items",
    ] {
        let got = raw_get(addr, bad);
        assert_eq!(got.status, 400, "{bad}");
        assert!(got.json()["error"].is_string());
    }
    assert_eq!(raw_get(addr, "/items/4").json()["id"], 4);
    assert_eq!(raw_get(addr, "/items/44").status, 404);
}

#[test]
fn preflight_allows_write_methods_and_headers() {
    let server = server(5);
    let got = raw(
        server.addr(),
        "OPTIONS",
        "/items",
        &[
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, idempotency-key",
            ),
        ],
        "",
    );
    assert_eq!(got.status, 204);
    let methods = got.header("access-control-allow-methods").unwrap();
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = got
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "content-type",
        "idempotency-key",
        "authorization",
        "x-api-key",
    ] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert_eq!(allowed.matches("content-type").count(), 1, "{allowed}");
    assert_eq!(server.stats().requests, 0);
}
