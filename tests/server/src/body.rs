//! The response body: a whole buffer, or a buffer that is cut off half-way
//! by an error, which makes hyper abort the connection after announcing the
//! full `Content-Length` (the "dropped connection" fault).

use std::future::Future as _;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// How long a dropping body waits after its first half before failing, so
/// hyper flushes that half to the socket first.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// What a dropped connection's body stands in for when the real answer is
/// too short to cut in half.
const DROPPED_PLACEHOLDER: &[u8] = b"{\"ok\":true,\"note\":\"connection dropped\"}";

/// Response body of every answer.
#[derive(Debug)]
pub(crate) struct Body {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The whole body in one frame (`None` once sent, or when empty).
    Full(Option<Bytes>),
    /// Announces `announced` bytes, sends `first`, then fails.
    Dropped {
        first: Option<Bytes>,
        announced: u64,
        pause: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

/// The error a dropping body ends with; hyper closes the connection on it.
#[derive(Debug)]
pub(crate) struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped mid-body (injected fault)")
    }
}

impl std::error::Error for ConnectionDropped {}

impl Body {
    /// A complete body.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
        let bytes = bytes.into();
        Body {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// No body at all.
    pub(crate) fn empty() -> Body {
        Body {
            kind: Kind::Full(None),
        }
    }

    /// Announces the length of `whole` but sends only its first half, then
    /// aborts the connection. Bodies shorter than 2 bytes are replaced by a
    /// placeholder so that there is a half to send.
    pub(crate) fn dropped(whole: Bytes) -> Body {
        let whole = if whole.len() < 2 {
            Bytes::from_static(DROPPED_PLACEHOLDER)
        } else {
            whole
        };
        Body {
            kind: Kind::Dropped {
                first: Some(whole.slice(..whole.len() / 2)),
                announced: whole.len() as u64,
                pause: None,
            },
        }
    }

    /// The complete bytes of a not yet sent full body (empty otherwise).
    pub(crate) fn into_bytes(self) -> Bytes {
        match self.kind {
            Kind::Full(bytes) => bytes.unwrap_or_default(),
            Kind::Dropped { .. } => Bytes::new(),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = ConnectionDropped;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ConnectionDropped>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Dropped { first, pause, .. } => {
                if let Some(first) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                let pause = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
                ready!(pause.as_mut().poll(cx));
                Poll::Ready(Some(Err(ConnectionDropped)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Dropped { announced, .. } => SizeHint::with_exact(*announced),
        }
    }
}
