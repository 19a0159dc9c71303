//! What a kind of job does with a unit: the seam between the [`Engine`]
//! and the two jobs (fetch, write). A kind makes a unit's request and reads
//! its answer, one result per item; the engine does the rest.
//!
//! [`Engine`]: super::engine::Engine

use crate::core::api::ApiSpec;
use crate::core::http::{Method, Response};
use crate::core::retry::Failure;
use crate::core::url::Url;
use crate::error::{Error, ErrorKind, Result};

use super::report::{ItemEvent, ManyEvent, Written};

/// `id` as a path segment, or the item's [`ErrorKind::Url`] error naming it
/// (see [`crate::core::url::id_segment`]): no request is sent for it.
pub(super) fn id_segment(id: &str) -> Result<String> {
    crate::core::url::id_segment(id).map_err(|why| Error::new(ErrorKind::Url, why))
}

/// How a unit's answer is read.
pub(super) enum Read<T> {
    /// One result per index of the unit (in order), `Err(Some(failure))` for an
    /// item that may be retried on its own.
    PerItem(Vec<std::result::Result<T, (Error, Option<Failure>)>>),
}

/// An item's value inside the engine: the JSON text of a fetched record, or
/// the outcome of a write. One type for both kinds, so the engine is compiled
/// once (half the WebAssembly of one engine per kind); as small as a `Vec`
/// (the engine keeps one slot per item).
#[derive(Debug)]
pub(super) enum Out {
    Bytes(Vec<u8>),
    Written(Box<Written>),
}

impl From<Vec<u8>> for Out {
    fn from(bytes: Vec<u8>) -> Self {
        Out::Bytes(bytes)
    }
}

impl From<Written> for Out {
    fn from(written: Written) -> Self {
        Out::Written(Box::new(written))
    }
}

impl Out {
    pub(super) fn bytes(self) -> Result<Vec<u8>> {
        match self {
            Out::Bytes(b) => Ok(b),
            Out::Written(_) => Err(Error::new(
                ErrorKind::Transport,
                "internal error: a fetch job got a write outcome",
            )),
        }
    }

    pub(super) fn written(self) -> Result<Written> {
        match self {
            Out::Written(w) => Ok(*w),
            Out::Bytes(_) => Err(Error::new(
                ErrorKind::Transport,
                "internal error: a write job got a record",
            )),
        }
    }
}

/// An engine event as a kind's own event.
pub(super) fn map_event<T>(event: ManyEvent<Out>, f: fn(Out) -> Result<T>) -> ManyEvent<T> {
    match event {
        ManyEvent::Item(ItemEvent { index, result }) => ManyEvent::Item(ItemEvent {
            index,
            result: result.and_then(f),
        }),
        ManyEvent::Finished(report) => ManyEvent::Finished(report),
    }
}

/// [`Kind`] behind a pointer, with the engine's [`Out`].
pub(super) trait DynKind: Send {
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)>;
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Out>;
    fn replay_safe(&self) -> bool;
    fn idempotency_header(&self) -> Option<&str>;
    fn headers(&self) -> &[(String, String)];
    fn unit_size(&self) -> usize;
    fn refuse(&self, index: usize) -> Option<Error>;
    fn writes(&self) -> bool;
    fn pull(&mut self) -> Option<usize>;
    fn release(&mut self, index: usize);
    fn total(&self) -> Option<usize>;
    fn label(&self, index: usize) -> Option<&str>;
}

impl<K: Kind + Send> DynKind for K
where
    K::Out: Into<Out>,
{
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)> {
        Kind::request(self, spec, indices, key)
    }
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Out> {
        let Read::PerItem(results) = Kind::read(self, indices, resp, url);
        Read::PerItem(results.into_iter().map(|r| r.map(Into::into)).collect())
    }
    fn replay_safe(&self) -> bool {
        Kind::replay_safe(self)
    }
    fn idempotency_header(&self) -> Option<&str> {
        Kind::idempotency_header(self)
    }
    fn headers(&self) -> &[(String, String)] {
        Kind::headers(self)
    }
    fn unit_size(&self) -> usize {
        Kind::unit_size(self)
    }
    fn refuse(&self, index: usize) -> Option<Error> {
        Kind::refuse(self, index)
    }
    fn writes(&self) -> bool {
        Kind::writes(self)
    }
    fn pull(&mut self) -> Option<usize> {
        Kind::pull(self)
    }
    fn release(&mut self, index: usize) {
        Kind::release(self, index)
    }
    fn total(&self) -> Option<usize> {
        Kind::total(self)
    }
    fn label(&self, index: usize) -> Option<&str> {
        Kind::label(self, index)
    }
}

/// What a kind of job does with a unit (a group of item indices).
pub(super) trait Kind {
    type Out;
    fn request(
        &mut self,
        spec: &ApiSpec,
        indices: &[usize],
        key: Option<&str>,
    ) -> Result<(Method, Url, Option<Vec<u8>>)>;
    fn read(&self, indices: &[usize], resp: &Response, url: &str) -> Read<Self::Out>;
    /// May the request be sent again after it might have reached the server?
    fn replay_safe(&self) -> bool;
    /// The idempotency header to send, if any.
    fn idempotency_header(&self) -> Option<&str> {
        None
    }
    /// Extra headers of every request (a batch endpoint's).
    fn headers(&self) -> &[(String, String)] {
        &[]
    }
    fn unit_size(&self) -> usize;
    /// The error of item `index` if it cannot be in any request (an id a
    /// batch lookup cannot carry): it fails alone, no request is sent for it.
    fn refuse(&self, _index: usize) -> Option<Error> {
        None
    }
    /// Does a request change the server's data (so that one which may have
    /// reached it and got no answer has an unknown outcome)?
    fn writes(&self) -> bool {
        false
    }
    /// Reads the next item of the input: its index, `None` at its end.
    fn pull(&mut self) -> Option<usize>;
    /// Forgets item `index` of the input (handed out, or skipped).
    fn release(&mut self, index: usize);
    /// The input's length, if known up front.
    fn total(&self) -> Option<usize>;
    /// What names item `index` for the caller (a fetch's id), while kept.
    fn label(&self, _index: usize) -> Option<&str> {
        None
    }
}
