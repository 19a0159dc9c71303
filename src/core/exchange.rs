//! One exchange, a request and its answer, as every machine reads it: what
//! a failed answer is (its error, and whether and how it may be retried),
//! where a redirect leads, and whether to try again. The sweep, `Fetch` and
//! the many-items engine call these; none has a copy of its own.

use web_time::Instant;

use super::api::ApiSpec;
use super::http::{RequestId, Response, TransportError, TransportErrorKind};
use super::observe::{ApiEvent, Observer, RetryEvent, TARGET_REQUEST};
use super::retry::{self, Decision, Failure, Retrier, RetryCause};
use super::url::Url;
use crate::error::{Error, ErrorKind, Result};

/// Redirects followed for one request before giving up.
pub(crate) const MAX_REDIRECTS: u8 = 10;

/// A transport failure (no answer): its error, without where (the caller
/// adds the URL), and how it may be retried (`None`: aborted, not retried).
pub(crate) fn transport_failed(e: &TransportError) -> (Error, Option<Failure>) {
    let kind = match e.kind {
        TransportErrorKind::Timeout => ErrorKind::Timeout,
        TransportErrorKind::Aborted => ErrorKind::Cancelled,
        TransportErrorKind::Auth => ErrorKind::Auth,
        _ => ErrorKind::Transport,
    };
    (
        Error::new(kind, e.message.clone()).with_source_of(Some(std::sync::Arc::new(e.clone()))),
        retry::transport_failure(e),
    )
}

/// The error of an answer that is not a success, without where (the
/// caller adds the URL): its status and a body excerpt.
pub(crate) fn status_error(resp: &Response) -> Error {
    if refuses_credentials(resp) {
        return Error::new(
            ErrorKind::Auth,
            "the server answered 401: the credentials were refused (a token provider's \
             token is asked again and the request sent once more before this)",
        )
        .with_status(resp.status)
        .with_excerpt(&resp.body);
    }
    Error::new(
        ErrorKind::Status,
        format!("the server answered {}", resp.status),
    )
    .with_status(resp.status)
    .with_excerpt(&resp.body)
}

/// An answer that refuses the credentials (401): with a token provider,
/// the driver asks for a new token and sends the request once more; a
/// second refusal is an [`ErrorKind::Auth`] error.
pub(crate) fn refuses_credentials(resp: &Response) -> bool {
    resp.status == 401
}

/// An answer that is not a success: its error (see [`status_error`]) and
/// how it may be retried (`None`: a status that is not retried), under the
/// operation's retry policy (whether a 403 may be a rate limit).
pub(crate) fn status_failed(resp: &Response, retrier: &Retrier) -> (Error, Option<Failure>) {
    (
        status_error(resp),
        retry::status_failure(resp, retrier.forbidden_rate_limit()),
    )
}

/// A 2xx whose body is not what was asked for (invalid or truncated JSON,
/// the records missing): retried as a transient failure.
pub(crate) fn bad_body() -> Failure {
    Failure {
        cause: RetryCause::BadBody,
        retry_after: None,
        surely_unsent: false,
    }
}

/// The `Location` of an answer that redirects (301, 302, 303, 307, 308
/// with a `Location` header); `None` for any other answer.
pub(crate) fn redirect_location(resp: &Response) -> Option<&str> {
    if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
        resp.header("location")
    } else {
        None
    }
}

/// Where the redirect to `location` from `from` (a request that followed
/// `redirects` redirects so far) leads, if it may be followed: at most
/// [`MAX_REDIRECTS`], to an `http(s)` URL on an origin the API allows
/// (`what` names it in the error). The errors name the URL asked for (or,
/// for a target refused, the target), the `page` of a sweep, and `status`.
pub(crate) fn follow(
    spec: &ApiSpec,
    from: &Url,
    location: &str,
    status: u16,
    redirects: u8,
    page: Option<u64>,
    what: &str,
) -> Result<Url> {
    let on_page = |e: Error| match page {
        Some(p) => e.with_page(p),
        None => e,
    };
    let here = |kind, message: String| {
        on_page(Error::new(kind, message).with_url(spec.redact_parsed(from))).with_status(status)
    };
    if redirects >= MAX_REDIRECTS {
        return Err(here(
            ErrorKind::Redirect,
            format!("more than {MAX_REDIRECTS} redirects"),
        ));
    }
    let to = from.join(location).map_err(|e| {
        here(
            ErrorKind::Url,
            format!("bad redirect target {:?}: {e}", spec.redact(location)),
        )
    })?;
    spec.check_link(&to, what)
        .map_err(|e| on_page(e).with_status(status))?;
    Ok(to)
}

/// What to do about a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again at this instant.
    RetryAt(Instant),
    /// A failure that may be retried, but not again: the reason (see [`gave_up`]).
    GiveUp(&'static str),
    /// A failure that may be retried, of a request that may have reached
    /// the server and may not be sent twice (a POST or PATCH without an
    /// idempotency key).
    NotReplayable,
    /// A failure that is not retried (a 4xx, an aborted request).
    Final,
}

/// The failed attempt a retry is decided about, for the retry event: the
/// observer to tell, the method, and the error (its URL, credentials
/// removed, and status).
pub(crate) struct Attempt<'a> {
    pub(crate) observer: &'a Observer,
    pub(crate) method: &'static str,
    pub(crate) err: &'a Error,
}

/// Decides about a failed attempt, after `retries` retries of the request:
/// a request that is not `replay_safe` is sent again only when the failure
/// proves the server did not process it (throttled, or never sent). A retry
/// scheduled is told to the `attempt`'s observer (the one place retries are
/// logged: every machine decides here).
pub(crate) fn decide(
    retrier: &mut Retrier,
    retries: u32,
    failure: Option<&Failure>,
    replay_safe: bool,
    now: Instant,
    attempt: Attempt<'_>,
) -> Verdict {
    match failure {
        None => Verdict::Final,
        Some(f) if replay_safe || f.cause == RetryCause::Throttled || f.surely_unsent => {
            match retrier.decide(retries, f, now) {
                Decision::RetryAt(at) => {
                    attempt
                        .observer
                        .emit_with(TARGET_REQUEST, log::Level::Info, || {
                            let cause = match attempt.err.status() {
                                Some(s) => format!("{s} ({})", f.cause.as_str()),
                                None => format!("{} ({})", f.cause.as_str(), attempt.err.message()),
                            };
                            ApiEvent::Retry(RetryEvent {
                                method: attempt.method.to_string(),
                                url: attempt.err.url().unwrap_or_default().to_string(),
                                attempt: retries + 1,
                                max: retrier.max_retries(),
                                delay: at.saturating_duration_since(now),
                                cause,
                            })
                        });
                    Verdict::RetryAt(at)
                }
                Decision::GiveUp(why) => Verdict::GiveUp(why),
            }
        }
        Some(_) => Verdict::NotReplayable,
    }
}

/// `err` of a request given up after `retries` retries, saying why.
pub(crate) fn gave_up(err: Error, retries: u32, why: &str) -> Error {
    if retries == 0 && why == retry::NO_RETRIES_LEFT {
        return err;
    }
    let message = if retries == 0 {
        format!("{} ({why})", err.message())
    } else {
        format!("{} (after {retries} retries; {why})", err.message())
    };
    err.with_message(message)
}

/// Removes request `id` from a list of requests in flight: what it was for.
pub(crate) fn take_request<T: Copy>(
    in_flight: &mut Vec<(RequestId, T)>,
    id: RequestId,
) -> Option<T> {
    let i = in_flight.iter().position(|(r, _)| *r == id)?;
    Some(in_flight.swap_remove(i).1)
}
