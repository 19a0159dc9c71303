//! # pagewise-wasm
//!
//! The Rust half of the npm package `pagewise`: the async [`pagewise::Client`]
//! over the browser's (or Node's) `fetch`, exported with wasm-bindgen. The
//! hand-written ESM layer in `npm/index.js` is the public API; what is
//! exported here is its engine and is not meant to be used directly:
//!
//! - [`RawClient`]: built from the client options as JSON text; `get` resolves
//!   to a parsed JSON value, `pages` opens a [`RawCursor`].
//! - [`RawCursor`]: one sweep of a collection, a page per `next()`: each page
//!   reaches JS as one JSON text, parsed once (`JSON.parse`), never record by
//!   record. `close()` (or an aborted `AbortSignal`) drops the Rust stream,
//!   which aborts the fetches in flight and starts no new request.
//! - [`RawMany`]: a job of many items (`fetchMany`, the write jobs), its
//!   results a batch per `next(max)`, with `checkpoint()` and `progress()`.
//! - [`set_error_class`]: the JS layer hands over its `PagewiseError` class so
//!   that every error leaves Rust as a `PagewiseError` already.
//!
//! The crate is empty on other targets, so `cargo test --workspace` builds it
//! natively without the JS glue crates.
#![cfg(target_arch = "wasm32")]
#![forbid(unsafe_code)]

mod abort;
mod client;
mod config;
mod convert;

pub use client::{RawClient, RawCursor, RawMany};

/// The client options (JSON text, `bad` as `RawClient::new` takes them)
/// with the preset they name resolved, as JSON text: `resolveOptions`.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = resolveOptions)]
pub fn resolve_options(
    options: &str,
    bad: Option<String>,
) -> Result<String, wasm_bindgen::JsValue> {
    config::resolved(options, bad).map_err(|e| convert::error(&e))
}
pub use convert::{cancelled as cancelled_error, set_error_class};
