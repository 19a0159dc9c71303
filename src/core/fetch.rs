//! One request and its redirects: the state machine behind `get`.

use std::sync::Arc;

use super::json::FromJson;
use super::url::Url;
use web_time::Instant;

use super::api::ApiSpec;
use super::exchange::{self, Verdict};
use super::http::{Method, Request, RequestId, Response, TransportError};
use super::retry::{Failure, Retrier, RetryPolicy};
use crate::error::{Error, Result};

/// A single request, following redirects (only to the origins the API allows,
/// see [`ApiBuilder::allow_origins`](crate::ApiBuilder::allow_origins);
/// credentials only to the API's own origin), ending in a 2xx answer or an error.
///
/// ```
/// use pagewise::Api;
/// use pagewise::core::{Fetch, Method, Response};
/// use web_time::Instant;
/// let api = Api::builder("https://api.example/v1/").build()?;
/// let mut f = Fetch::new(api.spec(), Method::Get, "items/7", &[], None)?;
/// let req = f.poll_request().unwrap();
/// assert_eq!(req.url(), "https://api.example/v1/items/7");
/// f.handle_response(req.id(), Ok(Response::new(200, r#"{"id":7}"#)), Instant::now());
/// let resp = f.poll_event().unwrap()?;
/// let v: serde_json::Value = f.decode(&resp)?;
/// assert_eq!(v["id"], 7);
/// # Ok::<(), pagewise::Error>(())
/// ```
pub struct Fetch {
    spec: Arc<ApiSpec>,
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    redirects: u8,
    next_id: u64,
    waiting: Option<RequestId>,
    send: bool,
    outcome: Option<Result<Response>>,
    retrier: Retrier,
    retries: u32,
    retry_at: Option<Instant>,
    /// Whether a failure after the request may have reached the server can be
    /// retried: idempotent methods, or a request carrying an idempotency key.
    replay_safe: bool,
    done: bool,
}

impl Fetch {
    /// A request of `method` to `path` (relative to the base URL) with `query` added.
    pub fn new(
        spec: &Arc<ApiSpec>,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Self> {
        Ok(Fetch {
            url: spec.url_for(path, query)?,
            spec: spec.clone(),
            method,
            body,
            redirects: 0,
            next_id: 0,
            waiting: None,
            send: true,
            outcome: None,
            retrier: Retrier::new(spec.retry.clone(), 0x5EED_F37C),
            retries: 0,
            retry_at: None,
            replay_safe: !matches!(method, Method::Post | Method::Patch),
            done: false,
        })
    }

    /// How failed attempts are retried (default: the API's policy).
    pub fn with_retry(mut self, policy: RetryPolicy, seed: u64) -> Self {
        self.retrier = Retrier::new(policy, seed);
        self
    }

    /// When the next attempt is due, after a transient failure.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Lets time pass: a due retry makes the request available again.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.send = true;
        }
    }

    /// Retries the request or settles on `err`.
    fn retry_or_fail(&mut self, err: Error, failure: Option<Failure>, now: Instant) {
        let verdict = exchange::decide(
            &mut self.retrier,
            self.retries,
            failure.as_ref(),
            self.replay_safe,
            now,
            exchange::Attempt {
                observer: &self.spec.observer,
                method: self.method.as_str(),
                err: &err,
            },
        );
        match verdict {
            Verdict::RetryAt(at) => {
                self.retries += 1;
                self.retry_at = Some(at);
            }
            Verdict::GiveUp(why) => {
                self.outcome = Some(Err(exchange::gave_up(err, self.retries, why)));
            }
            Verdict::NotReplayable | Verdict::Final => self.outcome = Some(Err(err)),
        }
    }

    /// The request to send, once (and again after each redirect).
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        if !self.send {
            return None;
        }
        self.send = false;
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.waiting = Some(id);
        Some(
            self.spec
                .request(id, self.method, self.url.clone(), self.body.clone()),
        )
    }

    /// Hands over the answer to the request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        if self.waiting != Some(id) {
            return;
        }
        self.waiting = None;
        let here = self.spec.redact_parsed(&self.url);
        let resp = match response {
            Ok(r) => r,
            Err(e) => {
                let (err, failure) = exchange::transport_failed(&e);
                self.retry_or_fail(err.with_url(here), failure, now);
                return;
            }
        };
        if let Some(loc) = exchange::redirect_location(&resp) {
            let what = format!("redirect from {here}");
            let to = exchange::follow(
                &self.spec,
                &self.url,
                loc,
                resp.status,
                self.redirects,
                None,
                &what,
            );
            match to {
                Ok(to) => {
                    self.redirects += 1;
                    self.url = to;
                    if resp.status == 303 {
                        self.method = Method::Get;
                        self.body = None;
                    }
                    self.send = true;
                }
                Err(e) => self.outcome = Some(Err(e)),
            }
            return;
        }
        if (200..300).contains(&resp.status) {
            self.retrier.on_success();
            self.outcome = Some(Ok(resp));
        } else {
            let (err, failure) = exchange::status_failed(&resp, &self.retrier);
            self.retry_or_fail(err.with_url(here), failure, now);
        }
    }

    /// The outcome, once known: the 2xx answer or the error.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Result<Response>> {
        let outcome = self.outcome.take();
        self.done |= outcome.is_some();
        outcome
    }

    /// Requests sent and not answered (0 or 1).
    pub fn in_flight(&self) -> usize {
        usize::from(self.waiting.is_some())
    }

    /// Whether the outcome was handed out.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The URL now asked for (after redirects), without credentials.
    pub fn url(&self) -> String {
        self.spec.redact_parsed(&self.url)
    }

    /// Deserializes a 2xx answer's JSON body; errors name the URL.
    pub fn decode<T: FromJson>(&self, resp: &Response) -> Result<T> {
        decode_json(resp, &self.url())
    }
}

impl std::fmt::Debug for Fetch {
    // Written by hand: a redirect target may echo a query credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetch")
            .field("method", &self.method)
            .field("url", &self.url())
            .field("redirects", &self.redirects)
            .finish_non_exhaustive()
    }
}

/// Deserializes an answer's JSON body into `T`; errors name `url` (give it
/// without credentials) and carry a body excerpt.
pub fn decode_json<T: FromJson>(resp: &Response, url: &str) -> Result<T> {
    T::from_json_bytes(&resp.body).map_err(|(kind, e)| {
        Error::new(kind, format!("the body is not the expected JSON: {e}"))
            .with_url(url.to_string())
            .with_status(resp.status)
            .with_excerpt(&resp.body)
            .with_source_of(e.source())
    })
}
