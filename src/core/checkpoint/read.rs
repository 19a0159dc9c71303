//! Reading a checkpoint's JSON: serde_json, whose messages say what is
//! wrong and where (line and column). Nesting deeper than its limit (128)
//! is refused, as is anything after the value but white space.
//!
//! (Written by hand before: serde's reader costs the WebAssembly module
//! about 15 KB gzipped, 179 KB → 194 KB after wasm-bindgen and wasm-opt.
//! Naming the member at fault with `serde_path_to_error` would cost 13 KB
//! more: the line and column do it.)

use serde::de::DeserializeOwned;

/// `json` as a `T`, or serde_json's message.
pub(crate) fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    crate::core::json::object_from_str(json).map_err(|e| e.to_string())
}
