//! What a job of many items hands out and tells: one event per item, the
//! outcome of a write, its progress and its final report.

use std::time::Duration;

use crate::core::retry::RetryCounts;
use crate::core::usage::ApiUsage;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::Result;

/// What a job of many items did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManyReport {
    /// Items in the job.
    pub items: u64,
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items that failed (each with its own error), not counting those
    /// whose outcome is unknown.
    pub failed: u64,
    /// Writes whose answer did not say whether they were applied (their
    /// error is [`ErrorKind::OutcomeUnknown`]): they may have been written,
    /// so they are neither succeeded nor failed.
    pub unknown: u64,
    /// HTTP requests answered.
    pub requests: u64,
    /// Retries, by cause.
    pub retries: RetryCounts,
    /// Time held back by the server's throttling.
    pub throttled: Duration,
    /// Time from start to end.
    pub duration: Duration,
    /// The API request usage the answers announced (Salesforce
    /// `Sforce-Limit-Info: api-usage=used/limit`), the latest seen; `None`
    /// when no answer announced one.
    pub api_usage: Option<ApiUsage>,
}

/// How far a job of many items is.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ManyProgress {
    /// Items handed out.
    pub done: u64,
    /// Items in all (skipped ones of a resumed job left out); for an input
    /// that does not say its length up front (an iterator with a filter, a
    /// stream), the items read so far until it ends (and no ETA until then).
    pub total: u64,
    /// Items that failed so far.
    pub failed: u64,
    /// Writes whose outcome is unknown so far (see [`ManyReport::unknown`]).
    pub unknown: u64,
    /// Requests retried.
    pub retries: u64,
    /// Time held back by throttling.
    pub throttled: Duration,
    /// Time since the start (in this process).
    pub elapsed: Duration,
    /// Estimated time left.
    pub eta: Option<Duration>,
}

/// One item's result, as the job hands it out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ItemEvent<T> {
    /// The item's position in the input.
    pub index: usize,
    /// Its result.
    pub result: Result<T>,
}

/// What a many-items machine tells its driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ManyEvent<T> {
    /// One item's result.
    Item(ItemEvent<T>),
    /// Every item has its result.
    Finished(ManyReport),
}

/// A write that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// The record's id, as the server gave it (created id for inserts).
    pub id: Option<String>,
    /// The status of the write.
    pub status: u16,
    /// The answer's body, kept for a single-record operation only.
    pub(crate) answer: Option<Vec<u8>>,
}

impl Written {
    /// The answer's body, kept by the single-record operations
    /// (`create`, `update`, `delete`); `None` in the jobs of many records.
    pub fn answer(&self) -> Option<&[u8]> {
        self.answer.as_deref()
    }
}
