//! Preset resolution on the Rust face, over the fixture the npm package's
//! test reads too (`bindings/npm/test/presets.test.mjs`): the same options
//! resolve to the same options on both faces.

use pagewise::core::preset::resolve_json;
use serde_json::Value;

#[test]
fn the_fixture_resolves_as_written() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/presets.json"
    ))
    .expect("the fixture");
    let fixture: Value = serde_json::from_str(&text).expect("JSON");
    let bless = std::env::var_os("PAGEWISE_BLESS").is_some();
    for case in fixture["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("?");
        let got = resolve_json(&case["options"].to_string());
        match (&case["error"], got) {
            (Value::String(want), Err(e)) => {
                assert!(e.to_string().contains(want.as_str()), "{name}: {e}")
            }
            (Value::String(_), Ok(v)) => panic!("{name}: resolved to {v}"),
            (_, Err(e)) => panic!("{name}: {e}"),
            (_, Ok(v)) => {
                let got: Value = serde_json::from_str(&v).expect("JSON");
                if bless {
                    println!("{name}\n{}", serde_json::to_string(&got).unwrap());
                } else {
                    assert_eq!(got, case["resolved"], "{name}");
                }
            }
        }
    }
}
