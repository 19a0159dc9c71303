//! Drivers: the loops that feed the sans-IO core with answers and time.
//! This is the only place (with `transport`) that reads a clock or blocks.

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod blocking;
pub(crate) mod limiter;

use serde::de::DeserializeOwned;

use crate::core::RawPage;
use crate::error::{Error, ErrorKind, Result};

/// Deserializes record `i` of `page` into `T`, naming the page and URL on failure.
pub(crate) fn decode_record<T: DeserializeOwned>(page: &RawPage, i: usize) -> Result<T> {
    let text = page.records.get(i).expect("index within the page");
    serde_json::from_slice(text).map_err(|e| {
        Error::new(
            ErrorKind::Record,
            format!("record {i} of the page does not fit the requested type: {e}"),
        )
        .with_url(page.url.clone())
        .with_page(page.index)
        .with_excerpt(text)
    })
}

/// Deserializes every record of `page`.
pub(crate) fn decode_page<T: DeserializeOwned>(page: &RawPage) -> Result<Vec<T>> {
    (0..page.records.len())
        .map(|i| decode_record(page, i))
        .collect()
}
