//! The API families over real HTTP: pagination, filters, errors and writes
//! of the ServiceNow, Salesforce, GitHub, JSON:API, PostgREST and Stripe
//! routes, and that faults and the request log apply to them.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{parse_stamp, raw, Raw};
use pagewise_testserver::{Config, FailPath, FamilyConfig, Faults, SecondaryLimit, TestServer};
use serde_json::{json, Value};

fn start(records: u64, families: FamilyConfig) -> TestServer {
    TestServer::start(Config {
        records,
        families,
        ..Config::default()
    })
    .unwrap()
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn get(server: &TestServer, path: &str) -> Raw {
    raw(server.addr(), "GET", path, &[], "")
}

fn get_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Raw {
    raw(server.addr(), "GET", path, headers, "")
}

/// Path and query of an absolute `http://t/...` link.
fn local(url: &str) -> String {
    url.strip_prefix("http://t").unwrap_or(url).to_owned()
}

/// `rel` -> target of an RFC 8288 `Link` header.
fn links(header: &str) -> Vec<(String, String)> {
    header
        .split(',')
        .map(|part| {
            let (url, rel) = part.split_once(';').unwrap();
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            let rel = rel.trim().trim_start_matches("rel=").trim_matches('"');
            (rel.to_owned(), local(url))
        })
        .collect()
}

fn link(header: &str, rel: &str) -> Option<String> {
    links(header)
        .into_iter()
        .find(|(r, _)| r == rel)
        .map(|(_, u)| u)
}

/// Stamps (`updated_at`, Unix seconds) of every stored record, by id.
fn stamps(server: &TestServer) -> Vec<(u64, i64)> {
    server
        .ids()
        .into_iter()
        .map(|id| {
            let record = server.record_value(id).unwrap();
            (id, parse_stamp(record["updated_at"].as_str().unwrap()))
        })
        .collect()
}

/// A stamp with about half of the records at or after it.
fn median_stamp(server: &TestServer) -> i64 {
    let mut all: Vec<i64> = stamps(server).into_iter().map(|(_, s)| s).collect();
    all.sort_unstable();
    all[all.len() / 2]
}

fn rfc3339(secs: i64) -> String {
    // Through the server's own format: a record's stamp text.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------
// ServiceNow

mod servicenow {
    use super::*;

    const TABLE: &str = "/api/now/table/incident";

    #[test]
    fn pages_with_offset_limit_total_and_link_header() {
        let server = start(
            25,
            FamilyConfig {
                servicenow_max_limit: 20,
                ..FamilyConfig::default()
            },
        );
        let mut seen = Vec::new();
        let mut path = format!("{TABLE}?sysparm_limit=10&sysparm_offset=0");
        loop {
            let page = get(&server, &path);
            assert_eq!(page.status, 200, "{}", page.text());
            assert_eq!(page.header("x-total-count"), Some("25"));
            let link_header = page.header("link").unwrap().to_owned();
            assert!(link_header.contains(">;rel=\"first\""), "{link_header}");
            let body = page.json();
            for record in body["result"].as_array().unwrap() {
                let sys_id = record["sys_id"].as_str().unwrap();
                assert_eq!(sys_id.len(), 32);
                assert!(sys_id.bytes().all(|b| b.is_ascii_hexdigit()));
                let updated = record["sys_updated_on"].as_str().unwrap();
                assert_eq!(updated.len(), 19, "{updated}");
                assert_eq!(&updated[10..11], " ");
                assert!(record["amount"].is_string(), "values are strings: {record}");
                seen.push(sys_id.to_owned());
            }
            match link(&link_header, "next") {
                Some(next) => path = next,
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);

        // The cap: a larger limit, or none, is served as 20.
        let capped = get(&server, &format!("{TABLE}?sysparm_limit=10000"));
        assert_eq!(capped.json()["result"].as_array().unwrap().len(), 20);
        let default = get(&server, TABLE);
        assert_eq!(default.json()["result"].as_array().unwrap().len(), 20);
        let bad = get(&server, &format!("{TABLE}?sysparm_limit=ten"));
        assert_eq!(bad.status, 400);
        assert_eq!(bad.json()["status"], "failure");
        assert!(bad.json()["error"]["message"].is_string());
    }

    #[test]
    fn encoded_queries_filter_order_and_pick_fields() {
        let server = start(60, FamilyConfig::default());
        let median = median_stamp(&server);
        let expected = stamps(&server).iter().filter(|(_, s)| *s >= median).count();
        let since = rfc3339(median).replace('T', " ").replace('Z', "");
        let query = format!("active=true^sys_updated_on>={since}^ORDERBYDESCsys_updated_on");
        let page = get(
            &server,
            &format!(
                "{TABLE}?sysparm_query={}&sysparm_fields=sys_id,sys_updated_on,active",
                enc(&query)
            ),
        );
        assert_eq!(page.status, 200, "{}", page.text());
        let result = page.json()["result"].as_array().unwrap().clone();
        let active_after = stamps(&server)
            .iter()
            .filter(|(id, s)| *s >= median && server.record_value(*id).unwrap()["active"] == true)
            .count();
        assert!(active_after < expected);
        assert_eq!(result.len(), active_after);
        assert_eq!(
            page.header("x-total-count"),
            Some(active_after.to_string().as_str())
        );
        let times: Vec<&str> = result
            .iter()
            .map(|r| r["sys_updated_on"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "descending: {times:?}"
        );
        for record in &result {
            let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 3, "{record}");
        }

        // `>` excludes the bound itself; IN picks values.
        let strict = get(
            &server,
            &format!(
                "{TABLE}?sysparm_query={}",
                enc(&format!("sys_updated_on>{since}"))
            ),
        );
        let at = stamps(&server).iter().filter(|(_, s)| *s == median).count();
        assert_eq!(
            strict.json()["result"].as_array().unwrap().len(),
            expected - at
        );
        let inq = get(
            &server,
            &format!("{TABLE}?sysparm_query={}", enc("categoryINbooks,toys")),
        );
        for record in inq.json()["result"].as_array().unwrap() {
            assert!(["books", "toys"].contains(&record["category"].as_str().unwrap()));
        }
        let bad = get(
            &server,
            &format!("{TABLE}?sysparm_query={}", enc("sys_updated_on>yesterday")),
        );
        assert_eq!(bad.status, 400);
    }

    #[test]
    fn writes_change_the_store_and_errors_have_servicenow_shape() {
        let server = start(5, FamilyConfig::default());
        let created = raw(
            server.addr(),
            "POST",
            TABLE,
            &[],
            r#"{"name":"New one","category":"books"}"#,
        );
        assert_eq!(created.status, 201, "{}", created.text());
        let record = created.json()["result"].clone();
        let sys_id = record["sys_id"].as_str().unwrap().to_owned();
        assert!(created.header("location").unwrap().ends_with(&sys_id));
        assert_eq!(server.ids().len(), 6);

        let patched = raw(
            server.addr(),
            "PATCH",
            &format!("{TABLE}/{sys_id}"),
            &[],
            r#"{"name":"Renamed"}"#,
        );
        assert_eq!(patched.status, 200);
        let read = get(&server, &format!("{TABLE}/{sys_id}"));
        assert_eq!(read.json()["result"]["name"], "Renamed");
        assert_eq!(read.json()["result"]["category"], "books");

        let deleted = raw(
            server.addr(),
            "DELETE",
            &format!("{TABLE}/{sys_id}"),
            &[],
            "",
        );
        assert_eq!(deleted.status, 204);
        let gone = get(&server, &format!("{TABLE}/{sys_id}"));
        assert_eq!(gone.status, 404);
        assert_eq!(gone.json()["status"], "failure");
        assert_eq!(gone.json()["error"]["message"], "No Record found");
        assert!(gone.json()["error"]["detail"].is_string());
        assert_eq!(server.ids().len(), 5);
    }

    #[test]
    fn basic_or_bearer_auth_when_configured() {
        let server = start(
            3,
            FamilyConfig {
                token: Some("tok".into()),
                basic: Some(("admin".into(), "secret".into())),
                ..FamilyConfig::default()
            },
        );
        assert_eq!(get(&server, TABLE).status, 401);
        assert_eq!(
            get(&server, TABLE).json()["error"]["message"],
            "User Not Authenticated"
        );
        assert_eq!(
            get_with(&server, TABLE, &[("Authorization", "Bearer tok")]).status,
            200
        );
        // admin:secret
        assert_eq!(
            get_with(
                &server,
                TABLE,
                &[("Authorization", "Basic YWRtaW46c2VjcmV0")]
            )
            .status,
            200
        );
        assert_eq!(
            get_with(
                &server,
                TABLE,
                &[("Authorization", "Basic YWRtaW46d3Jvbmc=")]
            )
            .status,
            401
        );
    }
}

// ---------------------------------------------------------------------------
// Salesforce

mod salesforce {
    use super::*;

    const BASE: &str = "/services/data/v60.0";

    fn query(server: &TestServer, soql: &str, headers: &[(&str, &str)]) -> Raw {
        get_with(server, &format!("{BASE}/query?q={}", enc(soql)), headers)
    }

    fn send(server: &TestServer, method: &str, path: &str, body: &Value) -> Raw {
        raw(
            server.addr(),
            method,
            &format!("{BASE}/{path}"),
            &[],
            &body.to_string(),
        )
    }

    #[test]
    fn query_pages_follow_next_records_url() {
        let server = start(450, FamilyConfig::default());
        let first = query(
            &server,
            "SELECT Id, name, SystemModstamp FROM Account",
            &[("Sforce-Query-Options", "batchSize=200")],
        );
        assert_eq!(first.status, 200, "{}", first.text());
        assert!(first
            .header("sforce-limit-info")
            .unwrap()
            .starts_with("api-usage=1/15000"));
        let mut body = first.json();
        assert_eq!(body["totalSize"], 450);
        let mut ids = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            for record in body["records"].as_array().unwrap() {
                assert_eq!(record["attributes"]["type"], "Account");
                let id = record["Id"].as_str().unwrap().to_owned();
                assert_eq!(id.len(), 18);
                assert!(id.starts_with("001"));
                assert_eq!(
                    record["attributes"]["url"],
                    format!("{BASE}/sobjects/Account/{id}")
                );
                let stamp = record["SystemModstamp"].as_str().unwrap();
                assert!(stamp.ends_with(".000+0000") && stamp.len() == 28, "{stamp}");
                assert!(record["name"].is_string());
                assert_eq!(
                    record.as_object().unwrap().len(),
                    4,
                    "only the selected fields: {record}"
                );
                ids.push(id);
            }
            if body["done"] == true {
                assert!(body.get("nextRecordsUrl").is_none());
                break;
            }
            let next = body["nextRecordsUrl"].as_str().unwrap().to_owned();
            assert!(next.starts_with(&format!("{BASE}/query/01g")), "{next}");
            assert!(next.ends_with(&format!("-{}", ids.len())), "{next}");
            body = get(&server, &next).json();
            assert_eq!(body["totalSize"], 450);
        }
        assert_eq!(pages, 3);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 450);
        // batchSize below 200 is raised to 200; the default batch is 2000.
        let small = query(
            &server,
            "SELECT Id FROM Account",
            &[("Sforce-Query-Options", "batchSize=10")],
        );
        assert_eq!(small.json()["records"].as_array().unwrap().len(), 200);
        let all = query(&server, "SELECT Id FROM Account", &[]);
        assert_eq!(all.json()["records"].as_array().unwrap().len(), 450);
        assert_eq!(all.json()["done"], true);
        let bad_locator = get(&server, &format!("{BASE}/query/01gXXXXXXXXXXXXXXX-200"));
        assert_eq!(bad_locator.status, 400);
        assert_eq!(bad_locator.json()[0]["errorCode"], "INVALID_QUERY_LOCATOR");
    }

    #[test]
    fn where_filters_order_and_errors() {
        let server = start(
            80,
            FamilyConfig {
                token: Some("sess".into()),
                ..FamilyConfig::default()
            },
        );
        let auth = [("Authorization", "Bearer sess")];
        let median = median_stamp(&server);
        let expected = stamps(&server).iter().filter(|(_, s)| *s >= median).count();
        let soql = format!(
            "SELECT Id, LastModifiedDate FROM Contact WHERE SystemModstamp >= {} ORDER BY SystemModstamp",
            rfc3339(median)
        );
        let page = query(&server, &soql, &auth);
        assert_eq!(page.status, 200, "{}", page.text());
        let records = page.json()["records"].as_array().unwrap().clone();
        assert_eq!(records.len(), expected);
        assert_eq!(page.json()["totalSize"], expected);
        let times: Vec<&str> = records
            .iter()
            .map(|r| r["LastModifiedDate"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(records[0]["Id"].as_str().unwrap().starts_with("003"));
        let all = get_with(
            &server,
            &format!(
                "{BASE}/queryAll?q={}",
                enc("SELECT Id FROM Contact LIMIT 7")
            ),
            &auth,
        );
        assert_eq!(all.json()["totalSize"], 7);

        let malformed = query(&server, "SELECT FROM Account WHERE", &auth);
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.json()[0]["errorCode"], "MALFORMED_QUERY");
        assert!(malformed.json()[0]["message"].is_string());
        let no_session = query(&server, "SELECT Id FROM Account", &[]);
        assert_eq!(no_session.status, 401);
        assert_eq!(
            no_session.json(),
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        );
        assert!(no_session.header("sforce-limit-info").is_some());
        let missing = get_with(
            &server,
            &format!("{BASE}/sobjects/Account/001000000000000AAA"),
            &auth,
        );
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()[0]["errorCode"], "NOT_FOUND");
    }

    #[test]
    fn sobject_collections_create_update_upsert_delete() {
        let server = start(10, FamilyConfig::default());
        let created = send(
            &server,
            "POST",
            "composite/sobjects",
            &json!({
                "allOrNone": false,
                "records": [
                    {"attributes": {"type": "Account"}, "name": "A", "ext__c": "X1"},
                    {"attributes": {"type": "Account"}, "name": "B", "reject": true},
                    {"attributes": {"type": "Account"}, "name": "C", "ext__c": "X3"},
                ]
            }),
        );
        assert_eq!(created.status, 200, "{}", created.text());
        let results = created.json();
        assert_eq!(results[0]["success"], true);
        assert_eq!(results[0]["errors"], json!([]));
        assert_eq!(results[1]["success"], false);
        assert_eq!(
            results[1]["errors"][0]["statusCode"],
            "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        );
        assert!(results[1]["errors"][0]["fields"].is_array());
        assert_eq!(server.ids().len(), 12);
        let a = results[0]["id"].as_str().unwrap().to_owned();
        let c = results[2]["id"].as_str().unwrap().to_owned();

        // Read back through sobjects and the collection GET (null for missing).
        let one = get(&server, &format!("{BASE}/sobjects/Account/{a}"));
        assert_eq!(one.json()["name"], "A");
        assert_eq!(one.json()["Id"], a);
        let both = get(
            &server,
            &format!(
                "{BASE}/composite/sobjects/Account?ids={a},001000000000099AAA,{c}&fields=name"
            ),
        );
        assert_eq!(both.status, 200, "{}", both.text());
        assert_eq!(both.json()[0]["name"], "A");
        assert_eq!(both.json()[1], Value::Null);
        assert_eq!(both.json()[2]["name"], "C");

        // allOrNone: one failure rolls the whole batch back.
        let rolled = send(
            &server,
            "PATCH",
            "composite/sobjects",
            &json!({
                "allOrNone": true,
                "records": [
                    {"attributes": {"type": "Account"}, "Id": a, "name": "A2"},
                    {"attributes": {"type": "Account"}, "name": "no id"},
                ]
            }),
        );
        let results = rolled.json();
        assert_eq!(results[0]["success"], false);
        assert_eq!(
            results[0]["errors"][0]["statusCode"],
            "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        );
        assert_eq!(results[1]["errors"][0]["statusCode"], "MISSING_ARGUMENT");
        assert_eq!(
            get(&server, &format!("{BASE}/sobjects/Account/{a}")).json()["name"],
            "A"
        );
        let updated = send(
            &server,
            "PATCH",
            "composite/sobjects",
            &json!({
                "allOrNone": true,
                "records": [{"attributes": {"type": "Account"}, "Id": a, "name": "A2"}]
            }),
        );
        assert_eq!(updated.json()[0]["success"], true);
        assert_eq!(
            get(&server, &format!("{BASE}/sobjects/Account/{a}")).json()["name"],
            "A2"
        );

        // Upsert on an external id: X3 exists (updated), X9 does not (created).
        let upserted = send(
            &server,
            "PATCH",
            "composite/sobjects/Account/ext__c",
            &json!({
                "allOrNone": false,
                "records": [
                    {"attributes": {"type": "Account"}, "ext__c": "X3", "name": "C2"},
                    {"attributes": {"type": "Account"}, "ext__c": "X9", "name": "D"},
                ]
            }),
        );
        let results = upserted.json();
        assert_eq!(results[0]["created"], false);
        assert_eq!(results[0]["id"], c);
        assert_eq!(results[1]["created"], true);
        assert_eq!(results[1]["success"], true);
        assert_eq!(server.ids().len(), 13);
        assert_eq!(
            get(&server, &format!("{BASE}/sobjects/Account/{c}")).json()["name"],
            "C2"
        );

        // Delete by ids in the query.
        let deleted = raw(
            server.addr(),
            "DELETE",
            &format!("{BASE}/composite/sobjects?ids={a},{c}&allOrNone=false"),
            &[],
            "",
        );
        assert_eq!(deleted.status, 200);
        assert_eq!(deleted.json()[0]["success"], true);
        assert_eq!(deleted.json()[1]["id"], c);
        assert_eq!(server.ids().len(), 11);
        let again = raw(
            server.addr(),
            "DELETE",
            &format!("{BASE}/composite/sobjects?ids={a}"),
            &[],
            "",
        );
        assert_eq!(again.json()[0]["success"], false);

        // More than 200 records is refused whole.
        let many: Vec<Value> = (0..201)
            .map(|i| json!({"attributes": {"type": "Account"}, "name": i}))
            .collect();
        let refused = send(
            &server,
            "POST",
            "composite/sobjects",
            &json!({"records": many}),
        );
        assert_eq!(refused.status, 400);
        assert_eq!(refused.json()[0]["errorCode"], "EXCEEDED_ID_LIMIT");
        assert_eq!(server.ids().len(), 11);
    }
}

// ---------------------------------------------------------------------------
// GitHub

mod github {
    use super::*;

    const ISSUES: &str = "/repos/octo/hello/issues";

    #[test]
    fn pages_by_link_header_newest_first_with_since_and_state() {
        let server = start(45, FamilyConfig::default());
        let mut path = format!("{ISSUES}?state=all&per_page=10");
        let mut numbers = Vec::new();
        let mut pages = 0;
        loop {
            let page = get(&server, &path);
            assert_eq!(page.status, 200, "{}", page.text());
            pages += 1;
            for issue in page.json().as_array().unwrap() {
                assert!(issue["created_at"].as_str().unwrap().ends_with('Z'));
                assert!(issue["updated_at"].is_string());
                assert!(issue["title"].is_string());
                numbers.push(issue["number"].as_u64().unwrap());
            }
            let header = page.header("link").unwrap().to_owned();
            if pages == 1 {
                assert!(link(&header, "prev").is_none());
                assert!(link(&header, "last").unwrap().contains("page=5"));
            } else {
                assert!(link(&header, "first").unwrap().contains("page=1"));
                assert!(link(&header, "prev").is_some());
            }
            assert!(header.contains(">; rel=\""), "{header}");
            match link(&header, "next") {
                Some(next) => path = next,
                None => break,
            }
        }
        assert_eq!(pages, 5);
        assert_eq!(numbers.len(), 45);
        assert!(
            numbers.windows(2).all(|w| w[0] > w[1]),
            "newest first: {numbers:?}"
        );

        // per_page above 100 is served as 100; default 30; default state open.
        let server = start(150, FamilyConfig::default());
        let big = get(&server, &format!("{ISSUES}?state=all&per_page=500"));
        assert_eq!(big.json().as_array().unwrap().len(), 100);
        let default = get(&server, &format!("{ISSUES}?state=all"));
        assert_eq!(default.json().as_array().unwrap().len(), 30);
        let open = get(&server, &format!("{ISSUES}?per_page=100&page=1"));
        for issue in open.json().as_array().unwrap() {
            assert_eq!(issue["state"], "open");
        }

        // since: updated at or after.
        let median = median_stamp(&server);
        let expected = stamps(&server).iter().filter(|(_, s)| *s >= median).count();
        let since = get(
            &server,
            &format!("{ISSUES}?state=all&per_page=100&since={}", rfc3339(median)),
        );
        let mut total = since.json().as_array().unwrap().len();
        if let Some(next) = since.header("link").and_then(|h| link(h, "next")) {
            total += get(&server, &next).json().as_array().unwrap().len();
        }
        assert_eq!(total, expected);
    }

    #[test]
    fn primary_budget_answers_403_with_remaining_zero_or_429() {
        for status in [403, 429] {
            let server = start(
                5,
                FamilyConfig {
                    github_budget: 3,
                    github_limit_status: status,
                    ..FamilyConfig::default()
                },
            );
            for remaining in ["2", "1", "0"] {
                let ok = get(&server, ISSUES);
                assert_eq!(ok.status, 200);
                assert_eq!(ok.header("x-ratelimit-limit"), Some("3"));
                assert_eq!(ok.header("x-ratelimit-remaining"), Some(remaining));
                assert_eq!(ok.header("x-ratelimit-resource"), Some("core"));
                let reset: i64 = ok.header("x-ratelimit-reset").unwrap().parse().unwrap();
                assert!(reset > common::now_secs() + 3500, "epoch seconds: {reset}");
            }
            let limited = get(&server, ISSUES);
            assert_eq!(limited.status, status);
            assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
            assert_eq!(limited.header("x-ratelimit-used"), Some("3"));
            assert!(limited.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("API rate limit exceeded"));
            assert!(limited.json()["documentation_url"].is_string());
            // A reset (POST /_reset) starts a new window.
            server.reset();
            assert_eq!(get(&server, ISSUES).status, 200);
        }
    }

    #[test]
    fn budget_window_refills() {
        let server = start(
            5,
            FamilyConfig {
                github_budget: 1,
                github_window: Duration::from_secs(1),
                ..FamilyConfig::default()
            },
        );
        assert_eq!(get(&server, ISSUES).status, 200);
        assert_eq!(get(&server, ISSUES).status, 403);
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(get(&server, ISSUES).status, 200);
    }

    #[test]
    fn secondary_limit_answers_with_retry_after() {
        let server = start(
            5,
            FamilyConfig {
                github_secondary: Some(SecondaryLimit {
                    every: 3,
                    status: 429,
                    retry_after_secs: 60,
                }),
                ..FamilyConfig::default()
            },
        );
        assert_eq!(get(&server, ISSUES).status, 200);
        assert_eq!(get(&server, ISSUES).status, 200);
        let limited = get(&server, ISSUES);
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("60"));
        assert!(limited.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit"));
        // Held for Retry-After.
        assert_eq!(get(&server, ISSUES).status, 429);
    }

    #[test]
    fn create_get_and_errors() {
        let server = start(
            3,
            FamilyConfig {
                token: Some("ghp".into()),
                ..FamilyConfig::default()
            },
        );
        let auth = [("Authorization", "Bearer ghp")];
        let denied = get(&server, ISSUES);
        assert_eq!(denied.status, 401);
        assert_eq!(denied.json()["message"], "Bad credentials");
        let created = raw(
            server.addr(),
            "POST",
            ISSUES,
            &auth,
            r#"{"title":"Bug","body":"It broke","labels":["bug"]}"#,
        );
        assert_eq!(created.status, 201, "{}", created.text());
        let number = created.json()["number"].as_u64().unwrap();
        assert_eq!(number, 4);
        let read = get_with(&server, &format!("{ISSUES}/{number}"), &auth);
        assert_eq!(read.json()["title"], "Bug");
        assert_eq!(read.json()["body"], "It broke");
        assert_eq!(read.json()["labels"][0]["name"], "bug");
        assert_eq!(read.json()["state"], "open");
        let missing = get_with(&server, &format!("{ISSUES}/999"), &auth);
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()["message"], "Not Found");
        assert!(missing.json()["documentation_url"].is_string());
        let untitled = raw(server.addr(), "POST", ISSUES, &auth, r#"{"body":"x"}"#);
        assert_eq!(untitled.status, 422);
    }
}

// ---------------------------------------------------------------------------
// JSON:API

mod jsonapi {
    use super::*;

    #[test]
    fn offset_pages_follow_links_next_with_meta_total() {
        let server = start(
            23,
            FamilyConfig {
                jsonapi_max_page_size: 10,
                ..FamilyConfig::default()
            },
        );
        let mut path = "/jsonapi/articles?page%5Blimit%5D=50".to_owned();
        let mut ids = Vec::new();
        loop {
            let page = get(&server, &path);
            assert_eq!(page.status, 200, "{}", page.text());
            assert_eq!(
                page.header("content-type"),
                Some("application/vnd.api+json")
            );
            let body = page.json();
            assert_eq!(body["meta"]["total"], 23);
            assert!(body["links"]["last"].is_string());
            let data = body["data"].as_array().unwrap();
            assert!(data.len() <= 10, "capped at the max size");
            for item in data {
                assert_eq!(item["type"], "articles");
                assert!(item["attributes"]["name"].is_string());
                ids.push(item["id"].as_str().unwrap().to_owned());
            }
            match body["links"]["next"].as_str() {
                Some(next) => path = local(next),
                None => break,
            }
        }
        assert_eq!(ids.len(), 23);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 23);
    }

    #[test]
    fn number_size_pages_filters_and_errors() {
        let server = start(
            30,
            FamilyConfig {
                jsonapi_meta_total: false,
                ..FamilyConfig::default()
            },
        );
        let page2 = get(
            &server,
            "/jsonapi/articles?page%5Bnumber%5D=2&page%5Bsize%5D=7",
        );
        let body = page2.json();
        let ids: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["8", "9", "10", "11", "12", "13", "14"]);
        assert!(body.get("meta").is_none(), "no total when switched off");
        assert!(body["links"].get("last").is_none());
        assert!(body["links"]["next"]
            .as_str()
            .unwrap()
            .contains("page%5Bnumber%5D=3"));

        let picked = get(&server, "/jsonapi/articles?filter%5Bid%5D=3,5,99");
        let picked = picked.json();
        let ids: Vec<&str> = picked["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["3", "5"]);

        let median = median_stamp(&server);
        let expected = stamps(&server).iter().filter(|(_, s)| *s >= median).count();
        let since = get(
            &server,
            &format!(
                "/jsonapi/articles?filter%5Bupdated_at%5D%5Bgte%5D={}",
                rfc3339(median)
            ),
        );
        assert_eq!(since.json()["data"].as_array().unwrap().len(), expected);

        let one = get(&server, "/jsonapi/articles/4");
        assert_eq!(one.json()["data"]["id"], "4");
        let missing = get(&server, "/jsonapi/articles/999");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()["errors"][0]["status"], "404");
        assert!(missing.json()["errors"][0]["title"].is_string());
        let bad = get(&server, "/jsonapi/articles?page%5Bnumber%5D=0");
        assert_eq!(bad.status, 400);
        assert!(bad.json()["errors"][0]["detail"].is_string());
    }
}

// ---------------------------------------------------------------------------
// PostgREST

mod postgrest {
    use super::*;

    const ROWS: &str = "/rest/v1/items";

    #[test]
    fn range_headers_count_exact_and_content_range() {
        let server = start(
            25,
            FamilyConfig {
                postgrest_max_rows: 20,
                ..FamilyConfig::default()
            },
        );
        let first = get_with(
            &server,
            ROWS,
            &[
                ("Range-Unit", "items"),
                ("Range", "0-9"),
                ("Prefer", "count=exact"),
            ],
        );
        assert_eq!(first.status, 206);
        assert_eq!(first.header("content-range"), Some("0-9/25"));
        assert_eq!(common::ids(&first.json()), (1..=10).collect::<Vec<_>>());
        let last = get_with(
            &server,
            ROWS,
            &[("Range", "20-29"), ("Prefer", "count=exact")],
        );
        assert_eq!(last.status, 206);
        assert_eq!(last.header("content-range"), Some("20-24/25"));
        // Without a count: 200 and an unknown total.
        let plain = get(&server, &format!("{ROWS}?limit=5&offset=5"));
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-range"), Some("5-9/*"));
        // db-max-rows caps an answer.
        let capped = get_with(&server, ROWS, &[("Prefer", "count=exact")]);
        assert_eq!(capped.header("content-range"), Some("0-19/25"));
        let server_all = start(5, FamilyConfig::default());
        let all = get_with(&server_all, ROWS, &[("Prefer", "count=exact")]);
        assert_eq!(all.status, 200);
        assert_eq!(all.header("content-range"), Some("0-4/5"));
        let empty = get_with(
            &server_all,
            &format!("{ROWS}?id=gt.100"),
            &[("Prefer", "count=exact")],
        );
        assert_eq!(empty.status, 200);
        assert_eq!(empty.header("content-range"), Some("*/0"));
        let beyond = get_with(
            &server_all,
            &format!("{ROWS}?offset=10"),
            &[("Prefer", "count=exact")],
        );
        assert_eq!(beyond.status, 416);
        assert_eq!(beyond.json()["code"], "PGRST103");
        for key in ["details", "hint", "message"] {
            assert!(beyond.json().get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn filters_order_select() {
        let server = start(40, FamilyConfig::default());
        let keyset = get(&server, &format!("{ROWS}?id=gt.30&order=id.asc&limit=5"));
        assert_eq!(common::ids(&keyset.json()), [31, 32, 33, 34, 35]);
        let set = get(&server, &format!("{ROWS}?id=in.(4,2,99)"));
        assert_eq!(common::ids(&set.json()), [2, 4]);
        let lte = get(&server, &format!("{ROWS}?id=lt.3"));
        assert_eq!(common::ids(&lte.json()), [1, 2]);
        let desc = get(
            &server,
            &format!("{ROWS}?order=id.desc&limit=2&select=id,name"),
        );
        assert_eq!(
            desc.json(),
            json!([
                {"id": 40, "name": server.record_value(40).unwrap()["name"]},
                {"id": 39, "name": server.record_value(39).unwrap()["name"]},
            ])
        );
        let median = median_stamp(&server);
        let expected = stamps(&server).iter().filter(|(_, s)| *s >= median).count();
        let since = get(
            &server,
            &format!("{ROWS}?updated_at=gte.{}", rfc3339(median)),
        );
        assert_eq!(since.json().as_array().unwrap().len(), expected);
        let eq = get(&server, &format!("{ROWS}?category=eq.books"));
        for row in eq.json().as_array().unwrap() {
            assert_eq!(row["category"], "books");
        }
        let bad = get(&server, &format!("{ROWS}?id=like.3"));
        assert_eq!(bad.status, 400);
        assert_eq!(bad.json()["code"], "PGRST100");
    }

    #[test]
    fn bulk_insert_upsert_update_delete() {
        let server = start(3, FamilyConfig::default());
        let addr = server.addr();
        let minimal = raw(addr, "POST", ROWS, &[], r#"[{"name":"a"},{"name":"b"}]"#);
        assert_eq!(minimal.status, 201);
        assert!(minimal.body.is_empty());
        assert_eq!(server.ids(), [1, 2, 3, 4, 5]);
        let shown = raw(
            addr,
            "POST",
            ROWS,
            &[("Prefer", "return=representation")],
            r#"[{"name":"c"}]"#,
        );
        assert_eq!(shown.status, 201);
        assert_eq!(shown.json()[0]["id"], 6);
        assert_eq!(shown.json()[0]["name"], "c");
        let mismatched = raw(addr, "POST", ROWS, &[], r#"[{"name":"a"},{"other":1}]"#);
        assert_eq!(mismatched.json()["code"], "PGRST102");
        let conflict = raw(
            addr,
            "POST",
            ROWS,
            &[],
            r#"[{"id":7,"name":"x"},{"id":1,"name":"y"}]"#,
        );
        assert_eq!(conflict.status, 409);
        assert_eq!(conflict.json()["code"], "23505");
        assert_eq!(server.ids().len(), 6, "a conflict writes nothing");

        let upsert = raw(
            addr,
            "POST",
            &format!("{ROWS}?on_conflict=id"),
            &[(
                "Prefer",
                "resolution=merge-duplicates,return=representation",
            )],
            r#"[{"id":1,"name":"merged"},{"id":50,"name":"new"}]"#,
        );
        assert_eq!(upsert.status, 201, "{}", upsert.text());
        assert_eq!(server.record_value(1).unwrap()["name"], "merged");
        assert!(
            server.record_value(1).unwrap()["category"].is_string(),
            "merged, not replaced"
        );
        assert_eq!(server.record_value(50).unwrap()["name"], "new");

        let patched = raw(
            addr,
            "PATCH",
            &format!("{ROWS}?id=in.(2,3)"),
            &[("Prefer", "return=representation")],
            r#"{"name":"p"}"#,
        );
        assert_eq!(patched.status, 200);
        assert_eq!(common::ids(&patched.json()), [2, 3]);
        assert_eq!(server.record_value(3).unwrap()["name"], "p");
        let everything = raw(addr, "DELETE", ROWS, &[], "");
        assert_eq!(everything.status, 400, "a filter is required");
        let deleted = raw(addr, "DELETE", &format!("{ROWS}?id=gte.6"), &[], "");
        assert_eq!(deleted.status, 204);
        assert_eq!(server.ids(), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn apikey_required_when_configured() {
        let server = start(
            3,
            FamilyConfig {
                postgrest_apikey: Some("anon".into()),
                ..FamilyConfig::default()
            },
        );
        let missing = get(&server, ROWS);
        assert_eq!(missing.status, 401);
        assert_eq!(missing.json()["message"], "No API key found in request");
        assert!(missing.json()["hint"].is_string());
        assert_eq!(get_with(&server, ROWS, &[("apikey", "wrong")]).status, 401);
        assert_eq!(get_with(&server, ROWS, &[("apikey", "anon")]).status, 200);
    }
}

// ---------------------------------------------------------------------------
// Stripe

mod stripe {
    use super::*;

    #[test]
    fn starting_after_walks_newest_first_to_the_end() {
        let server = start(25, FamilyConfig::default());
        let mut path = "/v1/customers?limit=10".to_owned();
        let mut seen: Vec<String> = Vec::new();
        let mut created = Vec::new();
        loop {
            let page = get(&server, &path);
            assert_eq!(page.status, 200, "{}", page.text());
            let body = page.json();
            assert_eq!(body["object"], "list");
            assert_eq!(body["url"], "/v1/customers");
            for item in body["data"].as_array().unwrap() {
                assert_eq!(item["object"], "customer");
                let id = item["id"].as_str().unwrap();
                assert!(id.starts_with("cus_"), "{id}");
                created.push(item["created"].as_i64().unwrap());
                seen.push(id.to_owned());
            }
            if body["has_more"] != true {
                break;
            }
            path = format!(
                "/v1/customers?limit=10&starting_after={}",
                seen.last().unwrap()
            );
        }
        assert_eq!(seen.len(), 25);
        assert!(created.windows(2).all(|w| w[0] > w[1]), "newest first");

        // ending_before walks back toward the newest.
        let back = get(
            &server,
            &format!("/v1/customers?limit=3&ending_before={}", seen[10]),
        )
        .json();
        let ids: Vec<&str> = back["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [seen[7].as_str(), &seen[8], &seen[9]]);
        assert_eq!(back["has_more"], true);

        // created[gte] filters.
        let cut = created[4];
        let recent = get(
            &server,
            &format!("/v1/customers?limit=100&created%5Bgte%5D={cut}"),
        )
        .json();
        assert_eq!(recent["data"].as_array().unwrap().len(), 5);

        let one = get(&server, &format!("/v1/customers/{}", seen[0]));
        assert_eq!(one.json()["id"], seen[0]);
    }

    #[test]
    fn errors_have_stripe_shape() {
        let server = start(5, FamilyConfig::default());
        for limit in ["0", "101", "abc"] {
            let bad = get(&server, &format!("/v1/customers?limit={limit}"));
            assert_eq!(bad.status, 400, "{limit}");
            assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
            assert_eq!(bad.json()["error"]["param"], "limit");
        }
        let missing = get(&server, "/v1/customers/cus_0000000000000Z");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json()["error"]["code"], "resource_missing");
        assert!(missing.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No such customer"));
        let cursor = get(&server, "/v1/customers?starting_after=cus_nope");
        assert_eq!(cursor.status, 400);
        assert_eq!(cursor.json()["error"]["param"], "starting_after");
    }
}

// ---------------------------------------------------------------------------
// Shared machinery

#[test]
fn faults_and_the_request_log_apply_to_family_routes() {
    let server = start(10, FamilyConfig::default());
    server.set_faults(Faults {
        fail_paths: vec![FailPath {
            contains: "/rest/v1/items?limit=2".into(),
            status: 503,
        }],
        ..Faults::default()
    });
    assert_eq!(get(&server, "/rest/v1/items?limit=2").status, 503);
    assert_eq!(get(&server, "/rest/v1/items?limit=3").status, 200);
    assert_eq!(get(&server, "/v1/customers").status, 200);
    let log = server.log();
    let paths: Vec<&str> = log.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/rest/v1/items?limit=2",
            "/rest/v1/items?limit=3",
            "/v1/customers"
        ]
    );
    assert_eq!(log[0].status, 503);
    assert_eq!(server.stats().requests, 3);
}
