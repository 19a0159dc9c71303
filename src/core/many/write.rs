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
use super::input::Input;
use super::kind::{id_segment, map_event, Kind, Out, Read};
use super::options::{BatchResults, BatchWrite, WriteOp, WriteOptions};
use super::report::{ManyEvent, ManyProgress, Written};

struct WriteKind<'i> {
    op: WriteOp,
    path: String,
    batch: Option<BatchWrite>,
    size: usize,
    header: Option<String>,
    id_ptr: String,
    records: Input<'i, JsonText>,
    /// A single-record operation's own URL path: the request goes there,
    /// and the answer's body is kept.
    target: Option<String>,
}

/// Splices `members` (an object's members, `"a":1,"b":2`) into `record`.
fn with_members(record: &str, members: &str) -> Option<String> {
    let t = record.trim_start();
    let rest = t.strip_prefix('{')?;
    if members.is_empty() {
        return Some(record.to_string());
    }
    let sep = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    Some(format!("{{{members}{sep}{rest}"))
}

/// The members of `map` as object text without its braces.
fn members_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let t = serde_json::Value::Object(map.clone()).to_string();
    t[1..t.len() - 1].to_string()
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

impl WriteKind<'_> {
    fn record_id(&self, i: usize) -> Result<String> {
        let text = self.records.get(i)?.as_str();
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

    fn batch_request(
        &self,
        b: &BatchWrite,
        spec: &ApiSpec,
        indices: &[usize],
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        let method = b.method_of(self.op);
        let path = b.path_of(self.op);
        if let (WriteOp::Delete, Some(param)) = (self.op, &b.delete_ids_param) {
            let ids = indices
                .iter()
                .map(|i| {
                    let id = self.record_id(*i)?;
                    // The ids are joined with commas: one holding a comma
                    // would name other records to delete.
                    if id.contains(',') {
                        return Err(Error::config(format!(
                            "record {i}'s id {id:?} holds a comma, the separator of {param}: \
                             it cannot be deleted through this batch endpoint"
                        )));
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut query = vec![(param.clone(), ids.join(","))];
            for (k, v) in &b.members {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                query.push((k.clone(), v));
            }
            return Ok((method, spec.url_for(path, &query)?, None));
        }
        let item_members = members_text(&b.item_members);
        let mut records = String::new();
        if !b.single {
            records.push('[');
        }
        for (n, i) in indices.iter().enumerate() {
            if n > 0 {
                records.push(',');
            }
            let text = self.records.get(*i)?.as_str();
            if item_members.is_empty() {
                records.push_str(text);
            } else {
                let spliced = with_members(text, &item_members).ok_or_else(|| {
                    Error::config(format!(
                        "record {i} is not a JSON object: the batch's item members cannot be added to it"
                    ))
                })?;
                records.push_str(&spliced);
            }
        }
        if !b.single {
            records.push(']');
        }
        let body = match &b.records_field {
            None => records,
            Some(field) => {
                let mut obj = String::from("{");
                if let Some(op) = &b.op_field {
                    obj.push_str(&json_string(op));
                    obj.push(':');
                    obj.push_str(&json_string(self.op.as_str()));
                    obj.push(',');
                }
                let members = members_text(&b.members);
                if !members.is_empty() {
                    obj.push_str(&members);
                    obj.push(',');
                }
                obj.push_str(&json_string(field));
                obj.push(':');
                obj.push_str(&records);
                obj.push('}');
                obj
            }
        };
        Ok((method, spec.url_for(path, &[])?, Some(body.into_bytes())))
    }

    /// The outcome of one record from its result object `text`. `returned`:
    /// a result without `ok`, `status` or `errors` means the record was
    /// written (it was handed back).
    fn one_result(
        &self,
        b: &BatchWrite,
        text: &str,
        returned: bool,
        resp: &Response,
        url: &str,
    ) -> std::result::Result<Written, (Error, Option<Failure>)> {
        let (okp, idp, stp, erp) = (
            pointer_of(&b.ok_field),
            pointer_of(&b.id_field),
            pointer_of(&b.status_field),
            pointer_of(&b.error_field),
        );
        let status = field_text(text, &stp).and_then(|s| s.parse::<u16>().ok());
        let errors = b
            .errors_field
            .as_ref()
            .and_then(|f| page::find(text, &pointer_of(f)).ok().flatten())
            .and_then(|raw| serde_json::from_slice::<Vec<serde_json::Value>>(raw).ok());
        let errors_message = errors.as_ref().filter(|e| !e.is_empty()).map(|list| {
            list.iter()
                .map(|e| {
                    let code = e
                        .get("statusCode")
                        .or_else(|| e.get("code"))
                        .and_then(|c| c.as_str());
                    let message = e.get("message").and_then(|m| m.as_str());
                    match (code, message) {
                        (Some(c), Some(m)) => format!("{c}: {m}"),
                        (None, Some(m)) => m.to_string(),
                        _ => e.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        let ok = match (field_text(text, &okp).as_deref(), status, &errors) {
            (Some("true"), _, _) => errors_message.is_none(),
            (Some(_), _, _) => false,
            (None, Some(s), _) => (200..300).contains(&s) && errors_message.is_none(),
            (None, None, Some(_)) => errors_message.is_none(),
            (None, None, None) if returned => true,
            (None, None, None) => {
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
                status: status.unwrap_or(resp.status),
                answer: None,
            })
        } else {
            let message = errors_message
                .or_else(|| field_text(text, &erp))
                .unwrap_or_else(|| "the write failed".into());
            Err(write_failed(status.unwrap_or(0), message, url))
        }
    }
}

/// A record the server says it did not write, with the failure to retry
/// it on its own when the server's per-record status says it may be.
fn write_failed(status: u16, message: String, url: &str) -> (Error, Option<Failure>) {
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
}

impl Kind for WriteKind<'_> {
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
                let body = Some(self.records.get(i)?.as_str().as_bytes().to_vec());
                if let Some(target) = &self.target {
                    let (method, body) = match self.op {
                        WriteOp::Insert => (Method::Post, body),
                        WriteOp::Update => (Method::Patch, body),
                        WriteOp::Upsert => (Method::Put, body),
                        WriteOp::Delete => (Method::Delete, None),
                    };
                    // `{id}` in the path: the record's id.
                    let path = if target.contains("{id}") {
                        target.replace("{id}", &id_segment(&self.record_id(i)?)?)
                    } else {
                        target.clone()
                    };
                    return Ok((method, spec.url_for(&path, &[])?, body));
                }
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
            Some(b) => self.batch_request(b, spec, indices),
        }
    }

    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Written> {
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
                        answer: self.target.as_ref().map(|_| resp.body.clone()),
                    })
                } else {
                    let (e, _) = write_failed(
                        resp.status,
                        format!("the server answered {}", resp.status),
                        url,
                    );
                    Err((e.with_excerpt(&resp.body), None))
                };
                Read::PerItem(vec![r])
            }
            Some(b) => self.read_batch(b, indices, resp, url),
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

    fn headers(&self) -> &[(String, String)] {
        self.batch.as_ref().map_or(&[], |b| b.headers.as_slice())
    }

    fn writes(&self) -> bool {
        true
    }

    fn unit_size(&self) -> usize {
        self.size
    }

    fn refuse(&self, index: usize) -> Option<Error> {
        self.records.error(index)
    }

    fn pull(&mut self) -> Option<usize> {
        self.records.pull()
    }

    fn release(&mut self, index: usize) {
        self.records.release(index)
    }

    fn total(&self) -> Option<usize> {
        self.records.total
    }
}

impl WriteKind<'_> {
    fn read_batch(
        &self,
        b: &BatchWrite,
        indices: &[usize],
        resp: &Response,
        url: &str,
    ) -> Read<Written> {
        let every =
            |r: &dyn Fn(usize) -> std::result::Result<Written, (Error, Option<Failure>)>| {
                Read::PerItem(indices.iter().map(|i| r(*i)).collect())
            };
        if !(200..300).contains(&resp.status) {
            let e = exchange::status_error(resp).with_url(url.to_string());
            return every(&|_| Err((e.clone(), None)));
        }
        // The server took the batch (2xx): a record whose result cannot be
        // read may well be written. Its outcome is unknown, not failed:
        // sending it again could write it twice.
        let unknown_error = |why: &str| {
            Error::new(
                ErrorKind::OutcomeUnknown,
                format!("the server took the batch, but {why}: the record may have been written"),
            )
            .with_url(url.to_string())
            .with_status(resp.status)
            .with_excerpt(&resp.body)
        };
        let unknown = |why: String| {
            let e = unknown_error(&why);
            every(&|_| Err((e.clone(), None)))
        };
        let text = page::text(&resp.body);
        if b.results == BatchResults::AllOrNothing {
            if let Some(p) = &b.ok_at {
                let flag = text
                    .as_ref()
                    .ok()
                    .and_then(|t| page::find(t, p).ok().flatten())
                    .map(|raw| raw.to_vec());
                match flag.as_deref() {
                    Some(b"true") => {}
                    Some(b"false") => {
                        let message = text
                            .as_ref()
                            .ok()
                            .and_then(|t| field_text(t, &pointer_of(&b.error_field)))
                            .unwrap_or_else(|| {
                                format!("the server answered {} with {p} false", resp.status)
                            });
                        let e = Error::new(ErrorKind::Status, message)
                            .with_url(url.to_string())
                            .with_status(resp.status)
                            .with_excerpt(&resp.body);
                        return every(&|_| Err((e.clone(), None)));
                    }
                    _ => return unknown(format!("its answer has no true or false at {p:?}")),
                }
            }
            return every(&|i| {
                Ok(Written {
                    id: self.record_id(i).ok(),
                    status: resp.status,
                    answer: None,
                })
            });
        }
        let parsed = text
            .clone()
            .map_err(|e| e.0)
            .and_then(|t| Body::parse(t, &b.results_at).map_err(|e| e.0))
            .and_then(|mut body| body.records().map_err(|e| e.0));
        let ranges = match parsed {
            Ok(r) => r,
            Err(e) => {
                return unknown(format!(
                    "its per-record results are not at {:?} ({e})",
                    b.results_at
                ))
            }
        };
        let body = text.unwrap_or_default();
        let returned = b.results != BatchResults::Items;
        if b.results == BatchResults::ById {
            if ranges.len() > indices.len() {
                return unknown(format!(
                    "its answer has {} results for {} records",
                    ranges.len(),
                    indices.len()
                ));
            }
            let idp = pointer_of(&b.id_field);
            let by_id: Vec<(Option<String>, &str)> = ranges
                .iter()
                .map(|r| {
                    let t = body.get(r.clone()).unwrap_or_default();
                    (field_text(t, &idp), t)
                })
                .collect();
            return every(&|i| {
                let id = self.record_id(i).ok();
                match by_id.iter().find(|(rid, _)| rid.is_some() && *rid == id) {
                    Some((_, t)) => self.one_result(b, t, true, resp, url),
                    None => Err((
                        unknown_error(&match &id {
                            Some(id) => format!("its answer has no result for id {id:?}"),
                            None => format!("record {i} has no id to find its result by"),
                        }),
                        None,
                    )),
                }
            });
        }
        if ranges.len() != indices.len() {
            return unknown(format!(
                "its answer has {} results for {} records (cannot tell which write is which)",
                ranges.len(),
                indices.len()
            ));
        }
        Read::PerItem(
            ranges
                .iter()
                .map(|r| {
                    let t = body.get(r.clone()).unwrap_or_default();
                    self.one_result(b, t, returned, resp, url)
                })
                .collect(),
        )
    }
}

/// Writing many records: one request per record, or batches through a
/// [`BatchWrite`] endpoint. Each record gets its own outcome, in input
/// order (or completion order). Only retriable failures are retried; a write
/// that may have reached the server is sent again only with an idempotency
/// key (on by default), so no record is written twice.
///
/// The records are read as the job goes ([`WriteJob::lazy`]): only those in
/// flight, waiting for a retry or not handed out yet are kept.
pub struct WriteJob<'i> {
    pub(super) engine: Engine<'i>,
}

impl std::fmt::Debug for WriteJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteJob")
            .field("items_read", &self.engine.read)
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl WriteJob<'static> {
    /// A job writing `records` (JSON texts).
    pub fn new(
        spec: &Arc<ApiSpec>,
        records: Vec<JsonText>,
        options: WriteOptions,
        now: Instant,
    ) -> Result<Self> {
        WriteJob::lazy(spec, records.into_iter().map(Ok), options, now)
    }
}

impl<'i> WriteJob<'i> {
    /// A job writing the records of an iterator, read as the job goes:
    /// memory is bounded by the job's window (concurrency × batch size),
    /// not by the input's length. An `Err` item (a record that did not
    /// serialize) is that record's error. A checkpoint records positions in
    /// the input: resume with the same records in the same order.
    pub fn lazy(
        spec: &Arc<ApiSpec>,
        records: impl Iterator<Item = Result<JsonText>> + Send + 'i,
        options: WriteOptions,
        now: Instant,
    ) -> Result<Self> {
        let mut options = options;
        if options.batch.is_none() && !options.unbatched {
            options.batch = spec.batch_write.clone();
            // The API's default batch serves every op: when neither its body
            // (an op member), nor its method, path or headers for this op,
            // nor a delete's ids parameter say what the batch does, the
            // server takes it for an insert (PostgREST: a POST of rows).
            if let Some(b) = &options.batch {
                let op = options.op;
                let told = op == WriteOp::Insert
                    || (b.op_field.is_some() && b.records_field.is_some())
                    || b.methods.iter().any(|(o, _)| *o == op)
                    || b.paths.iter().any(|(o, _)| *o == op)
                    || b.op_headers.iter().any(|(o, _, _)| *o == op)
                    || (op == WriteOp::Delete && b.delete_ids_param.is_some());
                if !told {
                    return Err(Error::config(format!(
                        "the API's default batch endpoint ({}) cannot tell {} from an insert \
                         (no op member, and no method, path or header of its own for {}): \
                         give the job a batch of its own, or no batch",
                        b.path,
                        options.op.as_str(),
                        options.op.as_str()
                    )));
                }
            }
        }
        let batch = options
            .batch
            .take()
            .map(|b| b.for_collection(&options.path).for_op(options.op));
        if let Some(b) = &batch {
            if let Some(why) = &b.bad_method {
                return Err(Error::config(why.clone()));
            }
            for (name, value) in &b.headers {
                crate::core::api::check_header_name(name)?;
                crate::core::api::check_header_value(name, value)?;
            }
            if b.records_field.is_none()
                && !b.members.is_empty()
                && !(options.op == WriteOp::Delete && b.delete_ids_param.is_some())
            {
                return Err(Error::config(
                    "a batch body without a records field is the array of records: it has no room for fixed members",
                ));
            }
            if let Some(p) = &b.ok_at {
                if !(p.is_empty() || p.starts_with('/')) {
                    return Err(Error::config(format!(
                        "the batch's okAt must be a JSON pointer (\"/ok\"), not {p:?}"
                    )));
                }
            }
        }
        let size = match &batch {
            None => 1,
            Some(b) if b.single => 1,
            Some(b) => options.batch_size.unwrap_or(b.max).min(b.max),
        };
        if size == 0 {
            return Err(Error::config("batch_size must be at least 1"));
        }
        let id_ptr = pointer_of(
            options
                .id_field
                .as_deref()
                .or(batch.as_ref().and_then(|b| b.record_id_field.as_deref()))
                .unwrap_or("id"),
        );
        let kind = WriteKind {
            op: options.op,
            path: options.path.clone(),
            batch,
            size,
            header: options.idempotency_header.clone(),
            id_ptr,
            records: Input::new(records),
            target: options.target.clone(),
        };
        let engine = Engine::new(
            spec,
            Box::new(kind),
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
        let event = self.engine.pop_event()?;
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
