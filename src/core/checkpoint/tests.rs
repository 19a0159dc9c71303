//! The checkpoints' JSON: the same as before serde wrote it, read as strictly.

use super::*;
use crate::core::checkpoint::ManyCheckpoint;
use crate::core::delta::Watermark;
use crate::core::retry::RetryCounts;
use crate::error::ErrorKind;

fn sample(pending: Vec<PageRef>, watermarks: bool) -> Checkpoint {
    let w = |v: &str| Watermark {
        field: "updated_at".into(),
        value: v.into(),
        ids: vec!["a\"b".into(), "c\\d\u{1}\u{7f}é😀".into()],
    };
    Checkpoint {
        version: 1,
        collection: "https://api.example/v1/items?q=a%20b&x=\"y\"\n\t\r\u{8}\u{c}/".into(),
        dialect: "offset".into(),
        pending: pending
            .into_iter()
            .enumerate()
            .map(|(i, page)| PendingPage {
                seq: i as u64 * 7,
                sub: i as u32 % 2,
                page,
                skip: i as u64 % 3,
            })
            .collect(),
        learnt: Learnt {
            total: watermarks.then_some(Checkpoint::MAX_NUMBER),
            effective_size: 100,
            fanned_out: watermarks,
            planned_end: 1_000,
            largest_page: 100,
            next_seq: 50,
            seen: vec!["s1".into(), "ü\u{0}".into()],
            stopped: watermarks,
        },
        done: Done {
            records: 1,
            pages: 2,
            requests: 3,
            retries: RetryCounts {
                throttled: 4,
                server_error: 5,
                timeout: 6,
                transport: 7,
                bad_body: 8,
            },
            throttled_ms: 9,
            dropped: 10,
        },
        since: watermarks.then(|| w("2024-01-01")),
        reached: watermarks.then(|| w("2024-02-01")),
    }
}

fn all_pages() -> Vec<PageRef> {
    vec![
        PageRef::Offset {
            offset: 0,
            limit: 10,
        },
        PageRef::Page { number: 3 },
        PageRef::Cursor { cursor: None },
        PageRef::Cursor {
            cursor: Some("c=\"1\"".into()),
        },
        PageRef::Url {
            url: "https://h/p?a=1&b=%2F".into(),
        },
        PageRef::Keyset { after: None },
        PageRef::Keyset {
            after: Some("k\u{1f}".into()),
        },
    ]
}

/// A checkpoint as the hand-written writer before serde wrote it (the
/// derives wrote the same text: a test compared them): checkpoints saved
/// then still load, and the JSON written now is the same.
const SAVED: &str = r##"{"version":1,"collection":"https://api.example/v1/items?q=a%20b&x=\"y\"\n\t\r\b\f/","dialect":"offset","pending":[{"seq":0,"sub":0,"page":{"kind":"offset","offset":0,"limit":10}},{"seq":7,"sub":1,"page":{"kind":"page","number":3},"skip":1},{"seq":14,"sub":0,"page":{"kind":"cursor","cursor":null},"skip":2},{"seq":21,"sub":1,"page":{"kind":"cursor","cursor":"c=\"1\""}},{"seq":28,"sub":0,"page":{"kind":"url","url":"https://h/p?a=1&b=%2F"},"skip":1},{"seq":35,"sub":1,"page":{"kind":"keyset","after":null},"skip":2},{"seq":42,"sub":0,"page":{"kind":"keyset","after":"k\u001f"}}],"learnt":{"total":9007199254740991,"effective_size":100,"fanned_out":true,"planned_end":1000,"largest_page":100,"next_seq":50,"seen":["s1","ü\u0000"],"stopped":true},"done":{"records":1,"pages":2,"requests":3,"retries":{"throttled":4,"server_error":5,"timeout":6,"transport":7,"bad_body":8},"throttled_ms":9,"dropped":10},"since":{"field":"updated_at","value":"2024-01-01","ids":["a\"b","c\\d\u0001é😀"]},"reached":{"field":"updated_at","value":"2024-02-01","ids":["a\"b","c\\d\u0001é😀"]}}"##;

#[test]
fn checkpoints_saved_before_serde_still_load_and_read_the_same() {
    let c = sample(all_pages(), true);
    assert_eq!(Checkpoint::from_json(SAVED).unwrap(), c);
    assert_eq!(c.to_json(), SAVED);
}

#[test]
fn the_json_is_the_serde_json() {
    for c in [
        sample(all_pages(), true),
        sample(all_pages(), false),
        sample(vec![], false),
    ] {
        let ours = c.to_json();
        assert_eq!(ours, serde_json::to_string(&c).unwrap());
        assert_eq!(Checkpoint::from_json(&ours).unwrap(), c);
        // Pretty-printed, reordered or with unknown members: still read.
        let pretty = serde_json::to_string_pretty(&c).unwrap();
        assert_eq!(Checkpoint::from_json(&pretty).unwrap(), c);
        let mut v: serde_json::Value = serde_json::from_str(&ours).unwrap();
        v["extra"] = serde_json::json!({"x": [1.5e3, -2, null, true, "\u{2028}"]});
        assert_eq!(Checkpoint::from_json(&v.to_string()).unwrap(), c);
    }
}

#[test]
fn optional_members_may_be_absent_or_null() {
    let c = sample(vec![PageRef::Cursor { cursor: None }], false);
    let mut v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    v["pending"][0]["page"]
        .as_object_mut()
        .unwrap()
        .remove("cursor");
    v["done"].as_object_mut().unwrap().remove("dropped");
    v["learnt"].as_object_mut().unwrap().remove("total");
    v["since"] = serde_json::Value::Null;
    let back = Checkpoint::from_json(&v.to_string()).unwrap();
    assert_eq!(back.done.dropped, 0);
    assert_eq!(back, serde_json::from_value::<Checkpoint>(v).unwrap());
}

#[test]
fn escapes_in_input_are_decoded() {
    let mut c = sample(vec![], false);
    c.collection = "a/b\"😀\u{1}".into();
    let json = c
        .to_json()
        .replace("a/b", "a\\/b")
        .replace("😀", "\\ud83d\\ude00");
    assert_eq!(Checkpoint::from_json(&json).unwrap(), c);
}

#[test]
fn bad_checkpoints_are_config_errors_that_say_what() {
    let good = sample(all_pages(), true).to_json();
    let trailing = format!("{good} x");
    let cases = [
        ("", "EOF"),
        ("{\"nope\":1}", "missing field `version`"),
        ("1", "invalid type"),
        // (Read from an object only: serde would read a struct from an
        // array of its members too.)
        ("[]", "expected an object"),
        (&good[..good.len() - 1], "at line 1"),
        (&trailing, "trailing characters"),
        // (serde_json's messages say where, not which member.)
        ("{\"version\":\"1\"}", "expected u32 at line 1 column 14"),
        ("{\"version\":1.0}", "expected u32"),
        ("{\"version\":-1}", "expected u32"),
        ("{\"version\":4294967296}", "expected u32"),
        ("{\"version\":1,\"version\":1}", "duplicate field"),
        ("{\"collection\":\"\\ud800\"}", "escape"),
        ("{\"a\":\"\\x\"}", "escape"),
        ("{\"a\":01}", "number"),
        ("{\"a\":\"\n\"}", "control character"),
        ("{\"a\" 1}", "`:`"),
        ("{\"a\":[1 2]}", "`,` or `]`"),
    ];
    for (json, says) in cases {
        let e = Checkpoint::from_json(json).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{json}");
        assert!(e.message().contains(says), "{json}: {}", e.message());
        assert!(e.message().starts_with("not a pagewise checkpoint: "));
        assert!(serde_json::from_str::<Checkpoint>(json).is_err(), "{json}");
    }
    let bad_kind = good.replace("\"kind\":\"page\"", "\"kind\":\"pages\"");
    let e = Checkpoint::from_json(&bad_kind).unwrap_err();
    assert!(
        e.message().contains("unknown variant `pages`"),
        "{}",
        e.message()
    );
    let no_limit = good.replacen(",\"limit\":", ",\"limits\":", 1);
    let e = Checkpoint::from_json(&no_limit).unwrap_err();
    assert!(
        e.message().contains("missing field `limit`"),
        "{}",
        e.message()
    );
    // Deep nesting is refused without a deep recursion (serde_json skips
    // unknown members without recursing, and its limit is 128 otherwise).
    for deep in [
        "[".repeat(100_000) + &"]".repeat(100_000),
        format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000)),
        good.replacen("\"seen\":[", &format!("\"seen\":[{}", "[".repeat(200)), 1),
    ] {
        let e = Checkpoint::from_json(&deep).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
    let v2 = good.replacen("\"version\":1", "\"version\":2", 1);
    assert!(Checkpoint::from_json(&v2)
        .unwrap_err()
        .message()
        .contains("version 2"));
}

#[test]
fn numbers_no_sweep_could_have_saved_are_config_errors() {
    let good = sample(all_pages(), true);
    assert!(Checkpoint::from_json(&good.to_json()).is_ok());
    let max = Checkpoint::MAX_NUMBER;
    type Spoil = fn(&mut Checkpoint);
    let cases: [(&str, Spoil); 12] = [
        ("`records`", |c| c.done.records = u64::MAX),
        ("`dropped`", |c| c.done.dropped = Checkpoint::MAX_NUMBER + 1),
        ("`throttled_ms`", |c| c.done.throttled_ms = u64::MAX),
        ("`bad_body`", |c| c.done.retries.bad_body = u64::MAX),
        ("`total`", |c| c.learnt.total = Some(u64::MAX)),
        ("`next_seq`", |c| c.learnt.next_seq = u64::MAX),
        ("`effective_size`", |c| c.learnt.effective_size = 0),
        ("`seq`", |c| c.pending[0].seq = c.learnt.next_seq),
        ("`sub`", |c| c.pending[0].sub = u32::MAX),
        ("limit 0", |c| {
            c.pending[0].page = PageRef::Offset {
                offset: 0,
                limit: 0,
            }
        }),
        ("limit 10 with 10 records left out", |c| {
            c.pending[0].skip = 10
        }),
        ("`skip`: 4294967296 is more than 4294967295", |c| {
            c.pending[0].page = PageRef::Cursor { cursor: None };
            c.pending[0].skip = u64::from(u32::MAX) + 1
        }),
    ];
    for (says, spoil) in cases {
        let mut c = good.clone();
        spoil(&mut c);
        let e = Checkpoint::from_json(&c.to_json()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{says}");
        assert!(e.message().contains(says), "{says}: {}", e.message());
    }
    let mut c = good.clone();
    c.done.records = max;
    c.learnt.total = Some(max);
    assert!(
        Checkpoint::from_json(&c.to_json()).is_ok(),
        "the limit itself"
    );
    let json = good.to_json().replace("\"stopped\":true", "\"stopped\":1");
    let e = Checkpoint::from_json(&json).unwrap_err();
    assert!(
        e.message().contains("expected a boolean"),
        "{}",
        e.message()
    );
}

#[test]
fn job_checkpoints_match_serde_too() {
    for json in [
        r#"{"version":1,"items":5,"done":[]}"#,
        r#"{"version":1,"items":50000,"done":[[0,3],[7,50000]]}"#,
    ] {
        let c: ManyCheckpoint = serde_json::from_str(json).unwrap();
        assert_eq!(c.to_json(), json);
        assert_eq!(ManyCheckpoint::from_json(json).unwrap(), c);
    }
    for bad in [
        r#"{"version":1,"items":5,"done":[[1]]}"#,
        r#"{"version":1,"items":5,"done":[[1,2,3]]}"#,
        r#"{"version":1,"items":-5,"done":[]}"#,
        r#"{"version":1,"done":[]}"#,
        "nope",
    ] {
        let e = ManyCheckpoint::from_json(bad).unwrap_err();
        assert!(
            e.message().starts_with("not a pagewise job checkpoint: "),
            "{}",
            e.message()
        );
        assert!(
            serde_json::from_str::<ManyCheckpoint>(bad).is_err(),
            "{bad}"
        );
    }
    // Well-formed JSON no job could have saved: a count over it would
    // underflow (b < a) or overflow, or the version is unknown.
    for (bad, says) in [
        (
            r#"{"version":1,"items":9,"done":[[5,2]]}"#,
            "done range [5, 2)",
        ),
        (
            r#"{"version":1,"items":9,"done":[[0,0]]}"#,
            "done range [0, 0)",
        ),
        (
            r#"{"version":1,"items":9,"done":[[0,10]]}"#,
            "within 9 items",
        ),
        (
            r#"{"version":1,"items":9,"done":[[4,6],[5,7]]}"#,
            "done range [5, 7)",
        ),
        (
            r#"{"version":1,"items":18446744073709551615,"done":[[0,18446744073709551615],[0,1]]}"#,
            "done range [0, 1)",
        ),
        (r#"{"version":2,"items":9,"done":[]}"#, "version 2"),
    ] {
        let e = ManyCheckpoint::from_json(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains(says), "{bad}: {}", e.message());
    }
}
