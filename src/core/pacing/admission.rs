//! What a pacer says to a request (admitted or not) and what it is told back.

use std::time::Duration;

use web_time::Instant;

/// Whether a request may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it now; hand the ticket back with its answer.
    Go(Ticket),
    /// Not before this instant (a cooldown or the rate limit).
    WaitUntil(Instant),
    /// Not until a request in flight is answered (the adaptive concurrency is reached).
    WaitForAnswer,
}

/// Proof that the pacer admitted a request; give it back with the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub(super) seq: u64,
}

/// How an admitted request ended, as far as pacing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Any answer that is not a throttle or overload (success or a client error).
    Ok,
    /// 429, or 503 with `Retry-After`: the server asks us to slow down.
    Throttled {
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 503 (without `Retry-After`) or 502/504, a timeout: the server is struggling.
    Overloaded,
    /// The request was never answered (cancelled, connection failed).
    Dropped,
}

impl Outcome {
    /// Classifies an answer (or its absence) for pacing.
    pub fn of(
        answer: &Result<crate::core::http::Response, crate::core::http::TransportError>,
    ) -> Outcome {
        use crate::core::http::TransportErrorKind;
        match answer {
            Ok(resp) => Outcome::of_status(resp.status, crate::core::retry::retry_after(resp)),
            Err(e) if e.kind == TransportErrorKind::Timeout => Outcome::Overloaded,
            Err(_) => Outcome::Dropped,
        }
    }

    /// Classifies an answer with `status` and the `Retry-After` it named, if any.
    pub fn of_status(status: u16, retry_after: Option<Duration>) -> Outcome {
        match status {
            429 => Outcome::Throttled { retry_after },
            503 if retry_after.is_some() => Outcome::Throttled { retry_after },
            502..=504 => Outcome::Overloaded,
            _ => Outcome::Ok,
        }
    }
}
