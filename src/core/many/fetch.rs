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
use super::kind::{id_segment, map_event, Kind, Out, Read};
use super::options::{BatchLookup, ManyOptions};
use super::report::{ManyEvent, ManyProgress};

struct FetchKind {
    template: String,
    ids: Arc<[String]>,
    batch: Option<BatchLookup>,
}

impl Kind for FetchKind {
    type Out = Vec<u8>;

    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        _key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        match &self.batch {
            None => {
                let segment = id_segment(&self.ids[indices[0]])?;
                let path = self.template.replace("{id}", &segment);
                Ok((Method::Get, spec.url_for(&path, &[])?, None))
            }
            Some(b) => {
                let joined = indices
                    .iter()
                    .map(|i| self.ids[*i].as_str())
                    .collect::<Vec<_>>()
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
                            by_id.remove(&self.ids[*i]).ok_or_else(|| {
                                (
                                    Error::new(
                                        ErrorKind::Status,
                                        format!("no record with id {:?}", self.ids[*i]),
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

    /// In a batch, an empty id or one holding the separator: the server
    /// would read no id or several in its place (as a path segment, an
    /// empty id is refused when the request is made).
    fn refuse(&self, index: usize) -> Option<Error> {
        let b = self.batch.as_ref()?;
        let id = &self.ids[index];
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
pub struct FetchMany {
    engine: Engine,
    ids: Arc<[String]>,
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("items", &self.ids.len())
            .field("in_flight", &self.engine.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl FetchMany {
    /// A job fetching `ids` from `template` (a path with `{id}`, e.g. `items/{id}`).
    pub fn new(
        spec: &Arc<ApiSpec>,
        template: &str,
        ids: Vec<String>,
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
        let ids: Arc<[String]> = ids.into();
        let kind = FetchKind {
            template: template.to_string(),
            ids: ids.clone(),
            batch: options.batch.clone(),
        };
        let engine = Engine::new(
            spec,
            Box::new(kind),
            ids.len(),
            options.concurrency,
            options.order,
            options.retry,
            options.seed.unwrap_or(0x005E_ED0F_3A27),
            None,
            options.resume.as_ref(),
            now,
        )?;
        Ok(FetchMany { engine, ids })
    }

    /// The id of item `index`.
    pub fn id(&self, index: usize) -> &str {
        &self.ids[index]
    }
    /// The next request to send.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.engine.poll_request()
    }
    /// The next event: an item's JSON text (or error), or the end.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ManyEvent<Vec<u8>>> {
        let event = self.engine.events.pop_front()?;
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
