//! The sans-IO core: plain request/response values and the state machines
//! that decide what to ask for next. No I/O, no clock (every method that needs
//! time takes `now`), no runtime: it runs the same on native targets and wasm32,
//! and is tested in simulated time.

mod api;
mod checkpoint;
mod delta;
mod exchange;
mod fetch;
mod http;
mod json;
mod many;
mod observe;
mod options;
mod pacing;
mod page;
mod pagination;
pub mod preset;
mod redact;
mod retry;
pub mod schema;
mod sweep;
mod token;
mod url;
mod usage;

/// The origin of simulated time in the core's unit tests: an arbitrary
/// instant (`web_time::Instant` has no constant), read once per test; every
/// other time in a test is an offset from it. The core itself reads no clock.
#[cfg(test)]
pub(crate) fn test_origin() -> web_time::Instant {
    web_time::Instant::now()
}

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub use self::url::{Url, UrlError};
pub use api::{is_sensitive_query_name, ApiBuilder, ApiSpec, Auth};
pub use checkpoint::{Checkpoint, ManyCheckpoint};
pub use delta::{DeltaCompose, DeltaFilter, DeltaFormat, Watermark};
pub(crate) use exchange::refuses_credentials;
pub use fetch::{decode_json, Fetch};
#[doc(hidden)]
pub use http::Attachment;
pub use http::{Header, Method, Request, RequestId, Response, TransportError, TransportErrorKind};
pub use json::{FromJson, JsonFailure, JsonText, ToJson};
pub use many::{
    BatchLookup, BatchResults, BatchWrite, FetchMany, ItemEvent, ManyEvent, ManyOptions,
    ManyProgress, ManyReport, WriteJob, WriteOp, WriteOptions, Written,
};
pub use observe::{ApiEvent, RequestEvent, RetryEvent};
pub(crate) use observe::{Observer, TARGET_AUTH, TARGET_PACING, TARGET_REQUEST, TARGET_SWEEP};
pub(crate) use options::check_sizes;
pub use options::{ListOptions, Order};
pub use pacing::{PacerStats, Pacing};
pub use usage::ApiUsage;
// The pacer is the drivers' (one per `Api`, behind a lock): internal.
pub(crate) use pacing::{Admission, Outcome, Pacer, Ticket};
pub use page::Records;
pub use pagination::{Cursor, Keyset, Link, NextUrl, Offset, PageNumber, Pagination, Total};
pub use preset::Preset;
pub use redact::Secrets;
pub use retry::{RetryBudget, RetryCause, RetryCounts, RetryPolicy};
pub use schema::{ApiOptions, Origins};
pub use sweep::{
    Event, Notice, Progress, RawPage, Report, Sweep, MAX_LINK_LEN, MAX_NOTICES, MAX_RETRY_STRETCH,
};
pub(crate) use token::refresh_ahead;
pub use token::{BoxError, ClientAuth, Grant, OAuth2, Provider, Token, TokenFuture, TokenProvider};
