//! What a sweep hands out and tells: pages, notices, its report and progress.

use std::time::Duration;

use super::slots::{Key, Target};
use crate::core::delta::Watermark;
use crate::core::page::Records;
use crate::core::retry::RetryCounts;
use crate::core::usage::ApiUsage;
use crate::error::Error;

/// Notices a [`Report`] keeps (the first ones); later ones are counted in
/// [`Report::notices_dropped`]. Each still comes as an [`Event::Notice`].
pub const MAX_NOTICES: usize = 100;

/// One page handed out by a sweep.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawPage {
    /// Position of this page in the sweep's page order (0-based).
    pub index: u64,
    /// The URL it was fetched from (credentials removed).
    pub url: String,
    /// Its records.
    pub records: Records,
    /// Which page of the plan this is, and how many of its records were
    /// left out at its start (already handed out before a checkpoint).
    pub(crate) origin: Option<(Key, Target, u64)>,
}

/// Something worth knowing that did not stop the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The API's total changed during the sweep: rows were added or removed
    /// while it ran, so an offset or page-number sweep may have missed or
    /// repeated some (a keyset or cursor sweep does not).
    TotalChanged {
        /// The total before.
        from: u64,
        /// The total now.
        to: u64,
        /// The page whose answer carried the new total.
        page: u64,
    },
    /// A page in the middle of a planned sweep had fewer records than asked for.
    /// For offset paging the missing range is fetched again; for page numbers it
    /// cannot be, and rows may be missing.
    ///
    /// An empty page (`got: 0`) before the announced total also ends the
    /// planning of new pages: the collection is taken to end there (the
    /// pages already planned, a few times concurrency + window, are still
    /// fetched), so a total the server cannot back with records does not
    /// send the sweep through every page up to it. The report then does not
    /// claim the sweep complete.
    ShortPage {
        /// The page.
        page: u64,
        /// Records expected.
        expected: u64,
        /// Records received.
        got: u64,
    },
    /// An offset page had more records than asked for; the extra ones, which
    /// belong to the next page, were left out so no row is handed out twice.
    OversizedPage {
        /// The page.
        page: u64,
        /// Records asked for.
        asked: u64,
        /// Records received.
        got: u64,
    },
    /// A total was configured but the answer had none: the sweep walked pages in sequence.
    TotalMissing {
        /// The page whose answer had no total.
        page: u64,
    },
    /// The API announced a request usage of at least 90% of its limit
    /// (Salesforce `Sforce-Limit-Info: api-usage=13500/15000`, the org's
    /// daily API request limit): raised once per sweep, the first time.
    /// The latest usage is in [`Report::api_usage`].
    ApiUsageHigh {
        /// Requests used.
        used: u64,
        /// The limit.
        limit: u64,
    },
}

/// What a finished sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Records handed out.
    pub records: u64,
    /// Pages handed out.
    pub pages: u64,
    /// HTTP requests answered (redirects included).
    pub requests: u64,
    /// The total the API announced last, if it announces one.
    pub total: Option<u64>,
    /// `Some(true)` when the records handed out match the announced total
    /// and nothing seen contradicts it, `Some(false)` when they do not, or
    /// when rows may be missing all the same (the total changed during an
    /// offset or page-number sweep, a page-number page came back short, or
    /// an empty page ended the sweep before the total); `None` when the API
    /// announces no total.
    pub complete: Option<bool>,
    /// Time from the sweep's start to its end.
    pub duration: Duration,
    /// The most pages held at once (in the reorder window or waiting to be
    /// taken): at most concurrency + window; while pages wait out a retry
    /// delay, that again for each, up to [`MAX_RETRY_STRETCH`](super::MAX_RETRY_STRETCH) times.
    pub max_buffered_pages: usize,
    /// Notices raised along the way, in order: the first [`MAX_NOTICES`]
    /// (100) of them, so that a server that changes its total on every page
    /// does not grow the report with the sweep. Every notice still comes as
    /// an [`Event::Notice`] as it is raised.
    pub notices: Vec<Notice>,
    /// Notices raised once [`notices`](Report::notices) held [`MAX_NOTICES`]:
    /// counted, not kept.
    pub notices_dropped: u64,
    /// Retries, by cause.
    pub retries: RetryCounts,
    /// Time pages spent waiting because the server throttled (429, or 503
    /// with `Retry-After`), overlapping waits counted once.
    pub throttled: Duration,
    /// Bytes of page bodies received.
    pub bytes: u64,
    /// For a delta sync: where the next one starts (store it).
    pub watermark: Option<Watermark>,
    /// `true` when the collection changed under an offset or page-number
    /// sweep (its total changed, or a page came back shorter or longer than
    /// planned): rows may have been missed or handed out twice. Cursor and
    /// keyset sweeps follow the data and are not affected.
    pub changed_during_sweep: bool,
    /// The API request usage the answers announced (Salesforce
    /// `Sforce-Limit-Info: api-usage=used/limit`), the latest seen; `None`
    /// when no answer announced one. At 90% of the limit the sweep raises
    /// [`Notice::ApiUsageHigh`] (once).
    pub api_usage: Option<ApiUsage>,
}

/// How far a long operation is, as `on_progress` callbacks receive it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Pages handed out.
    pub pages: u64,
    /// Pages in all, when known (a total was announced, or the sweep ended).
    pub pages_total: Option<u64>,
    /// Records handed out.
    pub records: u64,
    /// Records in all, when the API announces a total.
    pub records_total: Option<u64>,
    /// Bytes of bodies received.
    pub bytes: u64,
    /// Requests retried.
    pub retries: u64,
    /// The same retries by cause (429s, 5xx, timeouts, broken
    /// connections, bodies that were not a page).
    pub retries_by_cause: RetryCounts,
    /// Time held back by the server's throttling.
    pub throttled: Duration,
    /// Time since the operation started (in this process).
    pub elapsed: Duration,
    /// Estimated time left, when it can be estimated.
    pub eta: Option<Duration>,
}

/// What a sweep tells its driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The next page of records.
    Page(RawPage),
    /// Something worth knowing; also kept in the report.
    Notice(Notice),
    /// The sweep ended: every page was handed out.
    Finished(Report),
    /// The sweep failed; pages handed out before are intact. Nothing follows.
    Failed(Error),
}
