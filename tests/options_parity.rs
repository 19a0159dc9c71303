//! Every option of the Rust builders has its counterpart in the npm package:
//! the `pub fn`s of each builder's `impl` blocks, read from the sources,
//! against the mapping `bindings/options.json` (whose npm names
//! bindings/npm/test/options.test.mjs feeds to the package). A new builder
//! method without an entry there fails here.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `pub fn` names of the `impl NAME` (or `impl<..> NAME<..>`) blocks of
/// `source`, as rustfmt lays them out: the block's opening line, its
/// methods at four spaces, its closing `}` at column 0.
fn pub_fns(source: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in source.lines() {
        if !inside {
            let Some(rest) = line.strip_prefix("impl") else {
                continue;
            };
            let rest = match rest.strip_prefix('<') {
                Some(generic) => generic.split_once("> ").map_or("", |(_, r)| r),
                None => rest.trim_start(),
            };
            let rest = rest.strip_prefix(name).unwrap_or("");
            let rest = match rest.strip_prefix('<') {
                Some(generic) => generic.split_once('>').map_or("", |(_, r)| r),
                None => rest,
            };
            inside = rest == " {";
        } else if line == "}" {
            inside = false;
        } else if let Some(rest) = line
            .strip_prefix("    pub fn ")
            .or_else(|| line.strip_prefix("    pub async fn "))
        {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// The npm names of a mapping entry (none for a Rust-only one).
fn npm_names(entry: &Value) -> Result<Vec<String>, String> {
    let names = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or("not a string".to_string())
                })
                .collect(),
            _ => Err(format!("{v} is not a name or a list of names")),
        }
    };
    match entry {
        Value::Object(o) if o.contains_key("rustOnly") => match o.get("rustOnly") {
            Some(Value::String(why)) if !why.is_empty() && o.len() == 1 => Ok(Vec::new()),
            _ => Err("rustOnly needs a reason, and nothing else".into()),
        },
        Value::Object(o) => {
            if o.keys()
                .any(|k| !["npm", "note", "fixed"].contains(&k.as_str()))
            {
                return Err(format!("unknown members in {entry}"));
            }
            names(o.get("npm").ok_or("no npm member")?)
        }
        other => names(other),
    }
}

#[test]
fn every_rust_builder_option_has_an_npm_counterpart() {
    let text = std::fs::read_to_string(root().join("bindings/options.json")).unwrap();
    let mapping: Value = serde_json::from_str(&text).expect("bindings/options.json is JSON");
    let sections = mapping["sections"].as_object().expect("a sections object");
    let mut problems = Vec::new();
    for (name, section) in sections {
        let files = section["files"].as_array().expect("files");
        let mut methods = BTreeSet::new();
        for f in files {
            let path = root().join(f.as_str().unwrap());
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            methods.extend(pub_fns(&source, name));
        }
        assert!(
            !methods.is_empty(),
            "{name}: no `impl {name}` block with methods in {files:?}"
        );
        let options = section["options"].as_object().expect("options");
        let mapped: BTreeSet<String> = options.keys().cloned().collect();
        for m in methods.difference(&mapped) {
            problems.push(format!(
                "{name}::{m} has no entry in bindings/options.json: add its npm name (or {{\"rustOnly\": why}}) and the option to the npm package"
            ));
        }
        for m in mapped.difference(&methods) {
            problems.push(format!(
                "bindings/options.json names {name}::{m}, which {files:?} do not have"
            ));
        }
        for (m, entry) in options {
            if let Err(e) = npm_names(entry) {
                problems.push(format!("{name}::{m}: {e}"));
            }
        }
        assert!(section["npm"].is_string(), "{name}: npm scope");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_finds_methods_of_plain_and_generic_impls() {
    let source = "\
impl Thing {
    pub fn a(self) -> Self {
        self
    }
    fn hidden(&self) {}
    pub(crate) fn internal(&self) {}
}

impl<C> Job<C> {
    pub fn b(mut self) -> Self {
        self
    }
    pub async fn c(self) {}
}

impl std::fmt::Debug for Thing {
    pub fn not_this() {}
}
";
    assert_eq!(pub_fns(source, "Thing"), ["a"]);
    assert_eq!(pub_fns(source, "Job"), ["b", "c"]);
    assert!(pub_fns(source, "Thin").is_empty());
}
