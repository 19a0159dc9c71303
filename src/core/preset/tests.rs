use serde_json::{json, Value};

use super::*;
use crate::core::{DeltaFilter, Pagination, Total};
use crate::ErrorKind;

fn merged(base: Value, over: Value) -> Value {
    let mut base = base;
    merge(&mut base, over);
    base
}

fn err(options: Value) -> String {
    let e = resolve(options).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    e.to_string()
}

#[test]
fn scalars_replace_and_objects_merge_member_by_member() {
    let m = merged(
        json!({ "pageSize": 100, "recordsAt": "/data", "retry": { "maxRetries": 6, "forbiddenRateLimit": true } }),
        json!({ "pageSize": 50, "retry": { "maxRetries": 2 } }),
    );
    assert_eq!(
        m,
        json!({ "pageSize": 50, "recordsAt": "/data", "retry": { "maxRetries": 2, "forbiddenRateLimit": true } })
    );
}

#[test]
fn a_pagination_or_auth_of_another_type_replaces_whole() {
    let base = json!({ "pagination": { "type": "offset", "offsetParam": "sysparm_offset", "total": { "header": "X-Total-Count" } } });
    let m = merged(
        base.clone(),
        json!({ "pagination": { "type": "next", "from": "link" } }),
    );
    assert_eq!(
        m,
        json!({ "pagination": { "type": "next", "from": "link" } })
    );
    // The same type, or none: member by member.
    let m = merged(
        base.clone(),
        json!({ "pagination": { "type": "offset", "limitParam": "n" } }),
    );
    assert_eq!(m["pagination"]["offsetParam"], "sysparm_offset");
    assert_eq!(m["pagination"]["limitParam"], "n");
    let m = merged(base, json!({ "pagination": { "limitParam": "n" } }));
    assert_eq!(m["pagination"]["type"], "offset");
    let m = merged(
        json!({ "auth": { "type": "basic", "user": "u", "password": "p" } }),
        json!({ "auth": { "type": "bearer", "token": "t" } }),
    );
    assert_eq!(m, json!({ "auth": { "type": "bearer", "token": "t" } }));
}

#[test]
fn a_total_or_a_link_replaces_whole() {
    let base = json!({ "pagination": { "type": "offset", "total": { "pointer": "/meta/total", "optional": true } } });
    let m = merged(
        base,
        json!({ "pagination": { "total": { "header": "X-Total" } } }),
    );
    assert_eq!(m["pagination"]["total"], json!({ "header": "X-Total" }));
    let base = json!({ "pagination": { "type": "next", "from": { "pointer": "/next" } } });
    let m = merged(
        base,
        json!({ "pagination": { "from": { "header": "X-Next" } } }),
    );
    assert_eq!(m["pagination"]["from"], json!({ "header": "X-Next" }));
}

#[test]
fn a_delta_of_another_parameter_replaces_whole_else_merges() {
    let base = json!({ "delta": { "param": "sysparm_query", "value": "{field}>={value}", "joiner": "^", "format": "servicenow" } });
    let m = merged(
        base.clone(),
        json!({ "delta": { "param": "since", "value": "{value}" } }),
    );
    assert_eq!(m["delta"], json!({ "param": "since", "value": "{value}" }));
    let m = merged(base, json!({ "delta": { "idField": "number" } }));
    assert_eq!(m["delta"]["joiner"], "^");
    assert_eq!(m["delta"]["idField"], "number");
}

#[test]
fn headers_and_query_merge_by_name() {
    let base = json!({
        "headers": { "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28" },
        "query": [["state", "all"], ["sort", "updated"]]
    });
    let m = merged(
        base,
        json!({ "headers": [["accept", "application/vnd.github.raw+json"], ["X-Extra", "1"]], "query": { "state": "open" } }),
    );
    assert_eq!(
        m["headers"],
        json!([
            ["X-GitHub-Api-Version", "2022-11-28"],
            ["accept", "application/vnd.github.raw+json"],
            ["X-Extra", "1"]
        ])
    );
    // Query names are compared with their case.
    assert_eq!(m["query"], json!([["sort", "updated"], ["state", "open"]]));
    // A preset without headers takes yours as they are.
    let m = merged(json!({}), json!({ "headers": { "A": "1" } }));
    assert_eq!(m["headers"], json!({ "A": "1" }));
}

#[test]
fn null_replaces_and_arrays_replace() {
    let m = merged(
        json!({ "delta": { "param": "since", "value": "{value}" }, "headers": { "A": "1" }, "allowOrigins": ["https://a.example"], "timeoutMs": 5000 }),
        json!({ "delta": null, "headers": null, "allowOrigins": ["https://b.example"], "timeoutMs": null }),
    );
    assert_eq!(
        m,
        json!({ "delta": null, "headers": null, "allowOrigins": ["https://b.example"], "timeoutMs": null })
    );
    // `null` reads as the schema's own: no delta filter of the preset, no header.
    let o: ApiOptions = crate::core::schema::from_json(
        &json!({ "baseUrl": "https://h.example/", "delta": null, "headers": null, "timeoutMs": null }).to_string(),
    )
    .unwrap();
    assert!(o.delta.is_none() && o.headers.is_empty());
    assert_eq!(o.timeout, Some(None));
}

#[test]
fn the_base_url_is_filled_from_the_parameters() {
    let r = resolve(json!({ "preset": "servicenow", "instance": "acme-dev" })).unwrap();
    assert_eq!(
        r["baseUrl"],
        "https://acme-dev.service-now.com/api/now/table/"
    );
    assert!(r.get("preset").is_none() && r.get("instance").is_none());
    let r = resolve(json!({ "preset": "salesforce", "instance": "acme--uat.sandbox" })).unwrap();
    assert_eq!(
        r["baseUrl"],
        "https://acme--uat.sandbox.my.salesforce.com/services/data/v60.0/"
    );
    assert!(r.get("apiVersion").is_none());
    let r = resolve(json!({ "preset": "salesforce", "instance": "acme", "apiVersion": "62.0" }))
        .unwrap();
    assert_eq!(
        r["baseUrl"],
        "https://acme.my.salesforce.com/services/data/v62.0/"
    );
    // Your base URL wins (GitHub Enterprise Server).
    let r =
        resolve(json!({ "preset": "github", "baseUrl": "https://ghe.example/api/v3/" })).unwrap();
    assert_eq!(r["baseUrl"], "https://ghe.example/api/v3/");
    assert_eq!(r["pageSize"], 100);
}

#[test]
fn errors_name_the_preset_or_the_parameter() {
    let e = err(json!({ "preset": "servicenw" }));
    assert!(
        e.contains(r#"options.preset: unknown preset "servicenw" (known: servicenow, salesforce, github, jsonapi, jsonapi-page, postgrest, stripe)"#),
        "{e}"
    );
    let e = err(json!({ "preset": 3 }));
    assert!(
        e.contains("options.preset must be a preset's name: one of servicenow"),
        "{e}"
    );
    let e = err(json!({ "preset": "servicenow" }));
    assert!(
        e.contains("options.instance is missing: preset \"servicenow\""),
        "{e}"
    );
    assert!(
        e.contains("https://{instance}.service-now.com/api/now/table/"),
        "{e}"
    );
    let e = err(json!({ "preset": "servicenow", "instance": "acme.service-now.com" }));
    assert!(
        e.contains(r#"options.instance "acme.service-now.com" is not valid"#),
        "{e}"
    );
    let e = err(json!({ "preset": "servicenow", "instance": "evil.example/x?" }));
    assert!(e.contains("is not valid"), "{e}");
    let e = err(json!({ "preset": "servicenow", "instance": 7 }));
    assert!(e.contains("options.instance must be a string"), "{e}");
    let e = err(json!({ "preset": "salesforce", "instance": "acme", "apiVersion": "v60" }));
    assert!(
        e.contains(r#"options.apiVersion "v60" is not valid"#),
        "{e}"
    );
    let e = err(json!({ "preset": "stripe", "instance": "acme" }));
    assert!(e.contains("options.instance is not used"), "{e}");
    let e = err(json!({ "baseUrl": "https://h.example/", "instance": "acme" }));
    assert!(
        e.contains("options.instance is a preset's parameter, and no preset is named"),
        "{e}"
    );
    let e = err(json!({ "preset": "postgrest" }));
    assert!(
        e.contains("options.baseUrl is missing: preset \"postgrest\" has no base URL"),
        "{e}"
    );
    assert!(
        resolve(json!({ "preset": "postgrest", "baseUrl": "https://p.supabase.co/rest/v1/" }))
            .is_ok()
    );
}

#[test]
fn options_without_a_preset_pass_as_they_are() {
    let text = r#"{ "baseUrl": "https://h.example/", "pageSize": 5 }"#;
    assert_eq!(resolve_json(text).unwrap(), text);
    // A text that does not read is left to the schema's reader, which says where.
    assert_eq!(resolve_json("{ nope").unwrap(), "{ nope");
    let o =
        ApiOptions::from_json(r#"{ "preset": null, "baseUrl": "https://h.example/" }"#).unwrap();
    assert_eq!(o.base_url, "https://h.example/");
}

#[test]
fn names_read_both_ways() {
    for p in Preset::all() {
        assert_eq!(p.name().parse::<Preset>().unwrap(), *p);
        assert_eq!(p.to_string(), p.name());
        let read: Preset = serde_json::from_value(json!(p.name())).unwrap();
        assert_eq!(read, *p);
    }
    let e = crate::core::schema::from_json::<ApiOptions>(
        r#"{ "baseUrl": "https://h.example/", "preset": "gitlab" }"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains(r#"options.preset: unknown preset "gitlab" (known: "#),
        "{e}"
    );
}

/// The option names of `ApiOptions` (as JSON spells them), with those the
/// other parts of issue 21 add (`lookup`, `batchWrite`: helper "writes").
const KNOWN_OPTIONS: &[&str] = &[
    "baseUrl",
    "auth",
    "headers",
    "query",
    "allowOrigins",
    "recordsAt",
    "pagination",
    "pageSize",
    "concurrency",
    "window",
    "timeoutMs",
    "retry",
    "pacing",
    "delta",
    "preset",
    "instance",
    "apiVersion",
    "lookup",
    "batchWrite",
];

#[test]
fn every_preset_is_an_object_of_known_options() {
    // Every name this branch's ApiOptions reads is in the list (the list is not stale).
    for name in KNOWN_OPTIONS
        .iter()
        .filter(|n| !["lookup", "batchWrite"].contains(n))
    {
        let e = crate::core::schema::from_json::<ApiOptions>(&format!(
            r#"{{"baseUrl": "https://h/", "{name}": 0.5}}"#
        ));
        if let Err(e) = e {
            assert!(!e.to_string().contains("unknown option"), "{name}: {e}");
        }
    }
    for p in Preset::all() {
        let doc: Value = serde_json::from_str(p.options_json())
            .unwrap_or_else(|e| panic!("preset {p}: not JSON: {e}"));
        let obj = doc
            .as_object()
            .unwrap_or_else(|| panic!("preset {p}: not an object"));
        for name in obj.keys() {
            assert!(
                KNOWN_OPTIONS.contains(&name.as_str()),
                "preset {p}: unknown option {name:?}"
            );
        }
        assert!(obj.get("preset").is_none(), "preset {p} names a preset");
        assert!(
            obj.contains_key("recordsAt") && obj.contains_key("pagination"),
            "preset {p}"
        );
    }
}

/// Reads every preset, resolved, into `ApiOptions` and builds it. The
/// presets use options the other parts of issue 21 add (keyset `value` and
/// `more`, optional totals, delta `format`/`compose`, `rateLimitHeaders`,
/// `forbiddenRateLimit`, `lookup`, `batchWrite` shapes): this passes once
/// those branches are merged.
#[test]
fn every_preset_reads_into_api_options() {
    for p in Preset::all() {
        let mut given = json!({ "preset": p.name() });
        match p {
            Preset::ServiceNow | Preset::Salesforce => given["instance"] = json!("acme"),
            Preset::JsonApi | Preset::JsonApiPage | Preset::PostgRest => {
                given["baseUrl"] = json!("https://h.example/v1/")
            }
            _ => {}
        }
        let o =
            ApiOptions::from_json(&given.to_string()).unwrap_or_else(|e| panic!("preset {p}: {e}"));
        crate::core::ApiBuilder::from(o)
            .build_spec()
            .unwrap_or_else(|e| panic!("preset {p}: {e}"));
        // The Rust builder's way reads the same document.
        let b = crate::core::ApiBuilder::new(given["baseUrl"].as_str().unwrap_or(""))
            .preset(*p)
            .instance("acme");
        if matches!(p, Preset::ServiceNow | Preset::Salesforce) {
            b.build_spec().unwrap_or_else(|e| panic!("preset {p}: {e}"));
        }
    }
}

#[test]
fn the_builder_s_members_go_over_the_preset_s() {
    let mut base = ApiOptions::new("https://acme.service-now.com/api/now/table/");
    base.headers = vec![("Accept".into(), "application/json".into())];
    base.records_at = Some("/result".into());
    base.page_size = Some(1000);
    base.pagination = Some(
        Pagination::offset()
            .params("sysparm_offset", "sysparm_limit")
            .into(),
    );
    base.delta = Some(DeltaFilter::new("sysparm_query", "{field}>={value}"));
    let user = ApiOptions {
        headers: vec![
            ("accept".into(), "text/json".into()),
            ("X-A".into(), "1".into()),
        ],
        page_size: Some(200),
        pagination: Some(
            Pagination::page_number()
                .total(Total::header("X-Total"))
                .into(),
        ),
        preset: Some(Preset::ServiceNow),
        instance: Some("acme".into()),
        ..ApiOptions::default()
    };
    let o = overlay(base, user);
    assert_eq!(o.base_url, "https://acme.service-now.com/api/now/table/");
    assert_eq!(
        o.headers,
        vec![
            ("accept".to_string(), "text/json".to_string()),
            ("X-A".into(), "1".into())
        ]
    );
    assert_eq!(o.records_at.as_deref(), Some("/result"));
    assert_eq!(o.page_size, Some(200));
    assert!(matches!(o.pagination, Some(Pagination::PageNumber(_))));
    assert_eq!(
        o.delta,
        Some(DeltaFilter::new("sysparm_query", "{field}>={value}"))
    );
    assert!(o.preset.is_none() && o.instance.is_none());
}

#[test]
fn the_builder_s_errors_name_the_parameter() {
    let e = crate::Api::builder_for(Preset::Salesforce)
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("options.instance is missing: preset \"salesforce\""),
        "{e}"
    );
    let e = crate::Api::builder("https://h.example/")
        .instance("acme")
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("options.instance is a preset's parameter"),
        "{e}"
    );
    let e = crate::Api::builder_for(Preset::Stripe)
        .api_version("1.0")
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("options.apiVersion is not used"),
        "{e}"
    );
}
