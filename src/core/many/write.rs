//! Writing many records: [`WriteJob`], and how its units become requests
//! (one per record, or a [`BatchWrite`] body) and its answers outcomes.

use std::sync::Arc;

use web_time::Instant;

use crate::core::api::ApiSpec;
use crate::core::checkpoint::ManyCheckpoint;
use crate::core::delta::{field_text, pointer_of};
use crate::core::exchange;
use crate::core::http::{Method, Request, RequestId, Response, TransportError};
use crate::core::json::JsonText;
use crate::core::page::{self, Body};
use crate::core::retry::{Failure, RetryCause};
use crate::core::url::Url;
use crate::error::{Error, ErrorKind, Result};

use super::engine::Engine;
use super::kind::{id_segment, map_event, Kind, Out, Read};
use super::options::{BatchWrite, WriteOp, WriteOptions};
use super::report::{ManyEvent, ManyProgress, Written};

struct WriteKind {
    op: WriteOp,
    path: String,
    batch: Option<BatchWrite>,
    size: usize,
    header: Option<String>,
    id_ptr: String,
    records: Arc<[JsonText]>,
}

impl WriteKind {
    fn record_id(&self, i: usize) -> Result<String> {
        let text = self.records[i].as_str();
        if !text.starts_with('{') {
            if let Ok(Some(id)) = page::scalar_text(text.as_bytes()) {
                return Ok(id);
            }
        }
        field_text(text, &self.id_ptr).ok_or_else(|| {
            Error::config(format!(
                "record {i} has no {} to {} it by",
                self.id_ptr.trim_start_matches('/'),
                self.op.as_str()
            ))
        })
    }
}

impl Kind for WriteKind {
    type Out = Written;

    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        _key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        match &self.batch {
            None => {
                let i = indices[0];
                let body = Some(self.records[i].as_str().as_bytes().to_vec());
                let item_path = |id: String| -> Result<String> {
                    Ok(format!(
                        "{}/{}",
                        self.path.trim_end_matches('/'),
                        id_segment(&id)?
                    ))
                };
                Ok(match self.op {
                    WriteOp::Insert => (Method::Post, spec.url_for(&self.path, &[])?, body),
                    WriteOp::Update => (
                        Method::Patch,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        body,
                    ),
                    WriteOp::Upsert => (
                        Method::Put,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        body,
                    ),
                    WriteOp::Delete => (
                        Method::Delete,
                        spec.url_for(&item_path(self.record_id(i)?)?, &[])?,
                        None,
                    ),
                })
            }
            Some(b) => {
                let mut records = String::from("[");
                for (n, i) in indices.iter().enumerate() {
                    if n > 0 {
                        records.push(',');
                    }
                    records.push_str(self.records[*i].as_str());
                }
                records.push(']');
                let body = match &b.records_field {
                    None => records,
                    Some(field) => {
                        let mut obj = String::from("{");
                        if let Some(op) = &b.op_field {
                            obj.push_str(&serde_json::to_string(op).expect("a string serializes"));
                            obj.push(':');
                            obj.push_str(
                                &serde_json::to_string(self.op.as_str())
                                    .expect("a string serializes"),
                            );
                            obj.push(',');
                        }
                        obj.push_str(&serde_json::to_string(field).expect("a string serializes"));
                        obj.push(':');
                        obj.push_str(&records);
                        obj.push('}');
                        obj
                    }
                };
                Ok((
                    Method::Post,
                    spec.url_for(&b.path, &[])?,
                    Some(body.into_bytes()),
                ))
            }
        }
    }

    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Written> {
        let fail = |status: u16, message: String| {
            let e = Error::new(ErrorKind::Status, message).with_url(url.to_string());
            // A result without a status (`ok: false` alone) has none to report.
            let e = if status == 0 {
                e
            } else {
                e.with_status(status)
            };
            // A server's per-record 429/5xx says that record was not written: safe to send again.
            let f = matches!(status, 408 | 429 | 500..=599).then_some(Failure {
                cause: if status == 429 {
                    RetryCause::Throttled
                } else {
                    RetryCause::ServerError
                },
                retry_after: None,
                surely_unsent: true,
            });
            (e, f)
        };
        match &self.batch {
            None => {
                let r = if (200..300).contains(&resp.status) {
                    let id = match self.op {
                        WriteOp::Insert => std::str::from_utf8(&resp.body)
                            .ok()
                            .and_then(|t| field_text(t, &self.id_ptr)),
                        _ => self.record_id(indices[0]).ok(),
                    };
                    Ok(Written {
                        id,
                        status: resp.status,
                    })
                } else {
                    let (e, _) = fail(resp.status, format!("the server answered {}", resp.status));
                    Err((e.with_excerpt(&resp.body), None))
                };
                Read::PerItem(vec![r])
            }
            Some(b) => {
                if !(200..300).contains(&resp.status) {
                    let e = exchange::status_error(resp).with_url(url.to_string());
                    return Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect());
                }
                let text = page::text(&resp.body);
                let parsed = text
                    .clone()
                    .and_then(|t| Body::parse(t, &b.results_at))
                    .and_then(|mut body| body.records());
                // The server took the batch (2xx): a record whose result
                // cannot be read may well be written. Its outcome is
                // unknown, not failed: sending it again could write it twice.
                let unknown = |why: String| {
                    let e = Error::new(
                        ErrorKind::OutcomeUnknown,
                        format!("the server took the batch, but {why}: the record may have been written"),
                    )
                    .with_url(url.to_string())
                    .with_status(resp.status)
                    .with_excerpt(&resp.body);
                    Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect())
                };
                let ranges = match parsed {
                    Ok(r) if r.len() == indices.len() => r,
                    Ok(r) => {
                        return unknown(format!(
                            "its answer has {} results for {} records (cannot tell which write is which)",
                            r.len(),
                            indices.len()
                        ))
                    }
                    Err(e) => {
                        return unknown(format!(
                            "its per-record results are not at {:?} ({})",
                            b.results_at, e.0
                        ))
                    }
                };
                let body = text.unwrap_or_default();
                let (okp, idp, stp, erp) = (
                    pointer_of(&b.ok_field),
                    pointer_of(&b.id_field),
                    pointer_of(&b.status_field),
                    pointer_of(&b.error_field),
                );
                Read::PerItem(
                    ranges
                        .iter()
                        .map(|r| {
                            let text = body.get(r.clone()).unwrap_or_default();
                            let status = field_text(text, &stp).and_then(|s| s.parse::<u16>().ok());
                            let ok = match (field_text(text, &okp).as_deref(), status) {
                                (Some("true"), _) => true,
                                (Some(_), _) => false,
                                (None, Some(s)) => (200..300).contains(&s),
                                (None, None) => {
                                    let e = Error::new(
                                        ErrorKind::OutcomeUnknown,
                                        format!(
                                            "the record's result has neither {:?} nor {:?}: the record may have been written",
                                            b.ok_field, b.status_field
                                        ),
                                    )
                                    .with_url(url.to_string())
                                    .with_status(resp.status)
                                    .with_excerpt(text.as_bytes());
                                    return Err((e, None));
                                }
                            };
                            if ok {
                                Ok(Written {
                                    id: field_text(text, &idp),
                                    status: status.unwrap_or(200),
                                })
                            } else {
                                let message = field_text(text, &erp)
                                    .unwrap_or_else(|| "the write failed".into());
                                Err(fail(status.unwrap_or(0), message))
                            }
                        })
                        .collect(),
                )
            }
        }
    }

    fn replay_safe(&self) -> bool {
        self.header.is_some()
            || matches!(
                (self.op, &self.batch),
                (WriteOp::Upsert | WriteOp::Delete, None)
            )
    }

    fn idempotency_header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    fn writes(&self) -> bool {
        true
    }

    fn unit_size(&self) -> usize {
        self.size
    }
}

/// Writing many records: one request per record, or batches through a
/// [`BatchWrite`] endpoint. Each record gets its own outcome, in input
/// order (or completion order). Only retriable failures are retried; a write
/// that may have reached the server is sent again only with an idempotency
/// key (on by default), so no record is written twice.
pub struct WriteJob {
    pub(super) engine: Engine,
}

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteJob")
            .field("items", &self.engine.n)
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl WriteJob {
    /// A job writing `records` (JSON texts).
    pub fn new(
        spec: &Arc<ApiSpec>,
        records: Vec<JsonText>,
        options: WriteOptions,
        now: Instant,
    ) -> Result<Self> {
        let size = match &options.batch {
            None => 1,
            Some(b) => options.batch_size.unwrap_or(b.max).min(b.max),
        };
        if size == 0 {
            return Err(Error::config("batch_size must be at least 1"));
        }
        let kind = WriteKind {
            op: options.op,
            path: options.path.clone(),
            batch: options.batch.clone(),
            size,
            header: options.idempotency_header.clone(),
            id_ptr: pointer_of(&options.id_field),
            records: records.into(),
        };
        let n = kind.records.len();
        let engine = Engine::new(
            spec,
            Box::new(kind),
            n,
            options.concurrency,
            options.order,
            options.retry,
            options.seed.unwrap_or(0x05EE_D0F3_217E),
            options.key_seed,
            options.resume.as_ref(),
            now,
        )?;
        Ok(WriteJob { engine })
    }

    /// The next request to send.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }
    /// The next event: a record's outcome, or the end.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ManyEvent<Written>> {
        let event = self.engine.events.pop_front()?;
        Some(map_event(event, Out::written))
    }
    /// When a retry is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }
    /// Lets time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now)
    }
    /// Hands over the answer to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        answer: std::result::Result<Response, TransportError>,
        now: Instant,
    ) {
        self.engine.handle_response(id, answer, now)
    }
    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.engine.in_flight.len()
    }
    /// Whether every record has its outcome.
    pub fn is_done(&self) -> bool {
        self.engine.finished
    }
    /// Where the job is.
    pub fn checkpoint(&self) -> ManyCheckpoint {
        self.engine.checkpoint(&[])
    }
    /// Where the job is, for a driver that takes events ahead of its
    /// consumer: the items of `held` (the `index` of item events taken from
    /// [`poll_event`](Self::poll_event) but not handed on yet) count as not
    /// done: a job resumed from the checkpoint does them again.
    pub fn checkpoint_holding(&self, held: &[usize]) -> ManyCheckpoint {
        self.engine.checkpoint(held)
    }
    /// How far the job is.
    pub fn progress(&self, now: Instant) -> ManyProgress {
        self.engine.progress(now)
    }
}
