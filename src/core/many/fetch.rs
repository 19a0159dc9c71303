//! Fetching many records by id: [`FetchMany`], and how its units become
//! `GET` requests (one id, or a [`BatchLookup`]) and its answers records.

use std::collections::HashMap;
use std::sync::Arc;

use web_time::Instant;

use crate::core::api::ApiSpec;
use crate::core::checkpoint::ManyCheckpoint;
use crate::core::delta::{field_text, pointer_of};
use crate::core::exchange;
use crate::core::http::{Method, Request, RequestId, Response, TransportError};
use crate::core::page::{self, Body};
use crate::core::url::Url;
use crate::error::{Error, ErrorKind, Result};

use super::engine::Engine;
use super::input::Input;
use super::kind::{id_segment, map_event, Kind, Out, Read};
use super::options::{BatchLookup, ManyOptions};
use super::report::{ManyEvent, ManyProgress};

struct FetchKind<'i> {
    template: String,
    ids: Input<'i, String>,
    batch: Option<BatchLookup>,
}

impl Kind for FetchKind<'_> {
    type Out = Vec<u8>;

    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        _key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        match &self.batch {
            None => {
                let segment = id_segment(self.ids.get(indices[0])?)?;
                let path = self.template.replace("{id}", &segment);
                Ok((Method::Get, spec.url_for(&path, &[])?, None))
            }
            Some(b) => {
                let joined = indices
                    .iter()
                    .map(|i| self.ids.get(*i).map(String::as_str))
                    .collect::<Result<Vec<_>>>()?
                    .join(&b.separator);
                let value = b.value.replace("{ids}", &joined);
                Ok((
                    Method::Get,
                    spec.url_for(&b.path, &[(b.param.clone(), value)])?,
                    None,
                ))
            }
        }
    }

    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Vec<u8>> {
        let status_err = |resp: &Response| exchange::status_error(resp).with_url(url.to_string());
        match &self.batch {
            None => Read::PerItem(vec![if (200..300).contains(&resp.status) {
                match page::validate(&resp.body) {
                    Ok(_) => Ok(resp.body.clone()),
                    Err(e) => Err((
                        Error::new(ErrorKind::Decode, e.0)
                            .with_url(url.to_string())
                            .with_excerpt(&resp.body),
                        Some(exchange::bad_body()),
                    )),
                }
            } else {
                Err((status_err(resp), None))
            }]),
            Some(b) => {
                if !(200..300).contains(&resp.status) {
                    let e = status_err(resp);
                    return Read::PerItem(indices.iter().map(|_| Err((e.clone(), None))).collect());
                }
                let bad_body = |msg: String| {
                    let e = Error::new(ErrorKind::Decode, msg)
                        .with_url(url.to_string())
                        .with_excerpt(&resp.body);
                    let f = exchange::bad_body();
                    Read::PerItem(
                        indices
                            .iter()
                            .map(|_| Err((e.clone(), Some(f.clone()))))
                            .collect(),
                    )
                };
                let text = page::text(&resp.body);
                let ranges = match text
                    .clone()
                    .and_then(|t| Body::parse(t, &b.records_at))
                    .and_then(|mut body| body.records())
                {
                    Ok(r) => r,
                    Err(e) => return bad_body(e.0),
                };
                let id_ptr = pointer_of(&b.id_field);
                let mut by_id: HashMap<String, Vec<u8>> = HashMap::new();
                let text = text.unwrap_or_default();
                for r in ranges {
                    let record = text.get(r).unwrap_or_default();
                    if let Some(id) = field_text(record, &id_ptr) {
                        by_id.insert(id, record.as_bytes().to_vec());
                    }
                }
                Read::PerItem(
                    indices
                        .iter()
                        .map(|i| {
                            let id = self.ids.get(*i).map(String::as_str).unwrap_or_default();
                            by_id.remove(id).ok_or_else(|| {
                                (
                                    Error::new(
                                        ErrorKind::Status,
                                        format!("no record with id {id:?}"),
                                    )
                                    .with_url(url.to_string())
                                    .with_status(404),
                                    None,
                                )
                            })
                        })
                        .collect(),
                )
            }
        }
    }

    fn replay_safe(&self) -> bool {
        true
    }

    fn unit_size(&self) -> usize {
        self.batch.as_ref().map_or(1, |b| b.max.max(1))
    }

    fn pull(&mut self) -> Option<usize> {
        self.ids.pull()
    }

    fn release(&mut self, index: usize) {
        self.ids.release(index)
    }

    fn total(&self) -> Option<usize> {
        self.ids.total
    }

    fn label(&self, index: usize) -> Option<&str> {
        self.ids.get(index).ok().map(String::as_str)
    }

    /// In a batch, an empty id or one holding the separator: the server
    /// would read no id or several in its place (as a path segment, an
    /// empty id is refused when the request is made).
    fn refuse(&self, index: usize) -> Option<Error> {
        if let Some(e) = self.ids.error(index) {
            return Some(e);
        }
        let b = self.batch.as_ref()?;
        let id = self.ids.get(index).ok()?;
        let why = if id.is_empty() {
            format!(
                "the id {id:?} cannot be looked up in a batch: the {:?} parameter would name no record for it",
                b.param
            )
        } else if !b.separator.is_empty() && id.contains(b.separator.as_str()) {
            format!(
                "the id {id:?} holds the batch separator {:?}: the server would read it as several ids",
                b.separator
            )
        } else {
            return None;
        };
        Some(Error::new(ErrorKind::Url, why))
    }
}

/// Fetching many records by id: one `GET` per id from a path template, or a
/// few ids per request through a [`BatchLookup`]. Each id gets its own
/// result (a missing record is that id's 404, not the end of the job),
/// handed out in input order through a bounded window, or in completion order.
///
/// The ids are read as the job goes ([`FetchMany::lazy`]): only those in
/// flight, waiting for a retry or not handed out yet are kept.
pub struct FetchMany<'i> {
    pub(super) engine: Engine<'i>,
}

impl std::fmt::Debug for FetchMany<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("items_read", &self.engine.read)
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl FetchMany<'static> {
    /// A job fetching `ids` from `template` (a path with `{id}`, e.g. `items/{id}`).
    pub fn new(
        spec: &Arc<ApiSpec>,
        template: &str,
        ids: Vec<String>,
        options: ManyOptions,
        now: Instant,
    ) -> Result<Self> {
        FetchMany::lazy(spec, template, ids.into_iter().map(Ok), options, now)
    }
}

impl<'i> FetchMany<'i> {
    /// A job fetching the ids of an iterator, read as the job goes: memory
    /// is bounded by the job's window (concurrency × ids per request), not
    /// by the input's length. An `Err` item is that item's error. A
    /// checkpoint records positions in the input: resume with the same ids
    /// in the same order.
    pub fn lazy(
        spec: &Arc<ApiSpec>,
        template: &str,
        ids: impl Iterator<Item = Result<String>> + Send + 'i,
        options: ManyOptions,
        now: Instant,
    ) -> Result<Self> {
        let mut options = options;
        if options.batch.is_none() && !options.unbatched {
            // The API's default lookup, for this collection.
            let collection = template.split("{id}").next().unwrap_or(template);
            options.batch = spec
                .lookup
                .clone()
                .map(|l| l.for_collection(collection.trim_end_matches('/')));
        }
        if options.batch.is_none() && !template.contains("{id}") {
            return Err(Error::config(format!(
                "the path template {template:?} has no {{id}}"
            )));
        }
        if let Some(b) = &options.batch {
            if b.max == 0 || b.param.is_empty() {
                return Err(Error::config(
                    "a batch lookup needs a parameter name and a max of at least 1",
                ));
            }
        }
        let kind = FetchKind {
            template: template.to_string(),
            ids: Input::new(ids),
            batch: options.batch.clone(),
        };
        let engine = Engine::new(
            spec,
            Box::new(kind),
            options.concurrency,
            options.order,
            options.retry,
            options.seed.unwrap_or(0x005E_ED0F_3A27),
            None,
            options.resume.as_ref(),
            now,
        )?;
        Ok(FetchMany { engine })
    }

    /// The id of item `index`, while the job keeps it: from when it is
    /// read until the event after its own is taken from
    /// [`poll_event`](Self::poll_event) (`""` otherwise).
    pub fn id(&self, index: usize) -> &str {
        self.engine.kind.label(index).unwrap_or_default()
    }
    /// The next request to send.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }
    /// The next event: an item's JSON text (or error), or the end.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ManyEvent<Vec<u8>>> {
        let event = self.engine.pop_event()?;
        Some(map_event(event, Out::bytes))
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
    /// Whether every item was handed out.
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
