//! What an `Api` does, as it happens: requests answered, retries scheduled,
//! cooldowns, concurrency changes, notices, tokens refreshed.
//!
//! Each happening is an [`ApiEvent`]. It is written once, here, to two
//! places: the [`log`](https://docs.rs/log) facade (targets
//! `pagewise::request`, `pagewise::pacing`, `pagewise::sweep`,
//! `pagewise::auth`), and the callback given to
//! [`ApiBuilder::on_event`](crate::ApiBuilder::on_event). When neither
//! listens (no logger enabled for the target and level, no callback),
//! nothing is built or formatted: the cost is one relaxed atomic load.
//!
//! URLs in events are always credentials-removed (the form errors use).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::sweep::Notice;

/// One request answered (or failed without an answer), as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestEvent {
    /// The method (`GET`, `POST`, ...).
    pub method: String,
    /// The URL, credentials removed.
    pub url: String,
    /// The HTTP status; `None` when no answer came (see `error`).
    pub status: Option<u16>,
    /// From the request leaving to its answer (or failure).
    pub elapsed: Duration,
    /// The body's length in bytes (0 without an answer).
    pub bytes: u64,
    /// Why no answer came (`<kind>: <message>`), if none did.
    pub error: Option<String>,
}

/// A failed request being sent again later.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The method.
    pub method: String,
    /// The URL, credentials removed.
    pub url: String,
    /// This retry's number (1 for the first).
    pub attempt: u32,
    /// Retries the policy allows.
    pub max: u32,
    /// How long until it is sent again.
    pub delay: Duration,
    /// What failed: the status and the cause (`429 (throttled)`), or the
    /// transport's failure (`timeout`).
    pub cause: String,
}

/// Something an [`Api`](crate::Api) did, for logs and observers (see
/// [`ApiBuilder::on_event`](crate::ApiBuilder::on_event)).
///
/// ```
/// use pagewise::{Api, ApiEvent};
/// let api = Api::builder("https://api.example/v1/")
///     .on_event(|e: &ApiEvent| {
///         if let ApiEvent::Request(r) = e {
///             eprintln!("{} {} -> {:?} in {:?}", r.method, r.url, r.status, r.elapsed);
///         }
///     })
///     .build()?;
/// # drop(api);
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiEvent {
    /// A request was answered, or failed without an answer.
    Request(RequestEvent),
    /// A retry was scheduled.
    Retry(RetryEvent),
    /// Every request of the `Api` waits `wait` (a 429 started a cooldown).
    Cooldown {
        /// How long requests are held.
        wait: Duration,
        /// Why (`429 (Retry-After)`).
        cause: String,
    },
    /// The adaptive concurrency changed.
    Concurrency {
        /// Requests in flight allowed before.
        from: usize,
        /// Allowed now.
        to: usize,
        /// Why (`429`, `overloaded`, or empty for a step up after successes).
        cause: String,
    },
    /// The pacer learnt the server's request rate from its 429s.
    RateLearnt {
        /// Requests per second.
        per_second: f64,
    },
    /// The pacer found the 429s do not come from a rate (load shedding),
    /// or found they do again.
    Shedding {
        /// Whether shedding is assumed now.
        on: bool,
    },
    /// A sweep reported something worth knowing (see [`Notice`]).
    Notice(Notice),
    /// A sweep ended.
    SweepFinished {
        /// Records handed out.
        records: u64,
        /// Pages handed out.
        pages: u64,
        /// Requests answered.
        requests: u64,
        /// How long it took.
        duration: Duration,
        /// Whether it is known to be complete.
        complete: Option<bool>,
    },
    /// A token was obtained or refreshed (the token itself is never in an event).
    TokenRefreshed,
}

impl ApiEvent {
    /// The `log` target the event is written to.
    pub fn target(&self) -> &'static str {
        match self {
            ApiEvent::Request(_) | ApiEvent::Retry(_) => TARGET_REQUEST,
            ApiEvent::Cooldown { .. }
            | ApiEvent::Concurrency { .. }
            | ApiEvent::RateLearnt { .. }
            | ApiEvent::Shedding { .. } => TARGET_PACING,
            ApiEvent::Notice(_) | ApiEvent::SweepFinished { .. } => TARGET_SWEEP,
            ApiEvent::TokenRefreshed => TARGET_AUTH,
        }
    }

    /// The `log` level the event is written at.
    pub fn level(&self) -> log::Level {
        match self {
            ApiEvent::Request(_) => log::Level::Debug,
            ApiEvent::Notice(_) => log::Level::Warn,
            _ => log::Level::Info,
        }
    }
}

pub(crate) const TARGET_REQUEST: &str = "pagewise::request";
pub(crate) const TARGET_PACING: &str = "pagewise::pacing";
pub(crate) const TARGET_SWEEP: &str = "pagewise::sweep";
pub(crate) const TARGET_AUTH: &str = "pagewise::auth";

/// The log line of an event.
impl fmt::Display for ApiEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiEvent::Request(r) => match r.status {
                None => write!(
                    f,
                    "{} {} -> failed after {} ms: {}",
                    r.method,
                    r.url,
                    r.elapsed.as_millis(),
                    r.error.as_deref().unwrap_or("no answer")
                ),
                Some(_) => write!(
                    f,
                    "{} {} -> {} in {} ms ({} bytes)",
                    r.method,
                    r.url,
                    r.status.unwrap_or(0),
                    r.elapsed.as_millis(),
                    r.bytes
                ),
            },
            ApiEvent::Retry(r) => write!(
                f,
                "retry {} of {} in {:.2} s after {}: {} {}",
                r.attempt,
                r.max,
                r.delay.as_secs_f64(),
                r.cause,
                r.method,
                r.url
            ),
            ApiEvent::Cooldown { wait, cause } => write!(
                f,
                "{cause}: every request waits {:.1} s",
                wait.as_secs_f64()
            ),
            ApiEvent::Concurrency { from, to, cause } if cause.is_empty() => {
                write!(f, "concurrency {from} -> {to}")
            }
            ApiEvent::Concurrency { from, to, cause } => {
                write!(f, "concurrency {from} -> {to} ({cause})")
            }
            ApiEvent::RateLearnt { per_second } => {
                write!(f, "rate learnt: {per_second:.1} requests/s")
            }
            ApiEvent::Shedding { on: true } => write!(
                f,
                "shedding detected: the 429s do not come from a rate; each request waits its own Retry-After"
            ),
            ApiEvent::Shedding { on: false } => {
                write!(f, "shedding over: the 429s come from a rate again")
            }
            ApiEvent::Notice(n) => write!(f, "{}", describe_notice(n)),
            ApiEvent::SweepFinished {
                records,
                pages,
                requests,
                duration,
                complete,
            } => write!(
                f,
                "sweep finished: {records} records, {pages} pages, {requests} requests in {:.2} s, complete: {}",
                duration.as_secs_f64(),
                match complete {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "unknown",
                }
            ),
            ApiEvent::TokenRefreshed => write!(f, "token refreshed"),
        }
    }
}

fn describe_notice(n: &Notice) -> String {
    match n {
        Notice::TotalChanged { from, to, page } => {
            format!("total changed from {from} to {to} at page {page}")
        }
        Notice::ShortPage {
            page,
            expected,
            got,
        } => format!("short page {page}: {got} records, {expected} expected"),
        Notice::OversizedPage { page, asked, got } => {
            format!("oversized page {page}: {got} records, {asked} asked for (extra ones left out)")
        }
        Notice::TotalMissing { page } => {
            format!("no total in the answer to page {page}: pages walked in sequence")
        }
        Notice::ApiUsageHigh { used, limit } => {
            format!("API usage high: {used} of {limit} requests used")
        }
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) type Callback = Arc<dyn Fn(&ApiEvent) + Send + Sync>;
#[cfg(target_arch = "wasm32")]
pub(crate) type Callback = Arc<dyn Fn(&ApiEvent)>;

/// Where an `Api`'s events go: the `log` facade and the callback, if any.
#[derive(Clone, Default)]
pub(crate) struct Observer {
    callback: Option<Callback>,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Observer {
    pub(crate) fn new(callback: Option<Callback>) -> Self {
        Observer { callback }
    }

    /// Whether an event for `target` at `level` would go anywhere: a
    /// callback is set, or a logger takes it. Check it before building one.
    #[inline]
    pub(crate) fn wants(&self, target: &'static str, level: log::Level) -> bool {
        self.callback.is_some() || log::log_enabled!(target: target, level)
    }

    /// Writes `event` to the log and gives it to the callback.
    pub(crate) fn emit(&self, event: ApiEvent) {
        let (target, level) = (event.target(), event.level());
        if log::log_enabled!(target: target, level) {
            log::log!(target: target, level, "{event}");
        }
        if let Some(cb) = &self.callback {
            cb(&event);
        }
    }

    /// Builds the event with `make` and emits it, only if someone listens.
    #[inline]
    pub(crate) fn emit_with(
        &self,
        target: &'static str,
        level: log::Level,
        make: impl FnOnce() -> ApiEvent,
    ) {
        if self.wants(target, level) {
            self.emit(make());
        }
    }
}
