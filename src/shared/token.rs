//! The token of one `Api` whose credentials expire ([`Auth::provider`],
//! [`Auth::oauth2`]): kept, handed to every request leaving for the API's
//! origin, asked again when it is due or refused. One question at a time:
//! requests that need a token while one is being asked wait for that
//! answer (none is sent meanwhile), and a failed question is the answer of
//! every request that waited for it, not asked again by each.
//!
//! [`Auth::provider`]: crate::Auth::provider
//! [`Auth::oauth2`]: crate::Auth::oauth2

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use web_time::Instant;

use crate::core::{
    refresh_ahead, Auth, Header, OAuth2, Provider, Request, RequestId, Response, Token,
    TransportError, TransportErrorKind,
};

/// The token state of one `Api`; cloning shares it.
#[derive(Clone)]
pub(crate) struct Tokens {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("asked", &self.asked())
            .finish_non_exhaustive()
    }
}

enum Source {
    Provider(Provider),
    OAuth2(OAuth2),
}

struct Inner {
    source: Source,
    /// The API's origin (`https://h.example:8443`): the only one tokens go to.
    origin: String,
    timeout: Option<Duration>,
    slot: Mutex<Slot>,
    /// Held while a token is being asked for.
    asking: async_lock::Mutex<()>,
    asked: AtomicU64,
    /// Told of each token obtained (never the token).
    observer: crate::core::Observer,
}

#[derive(Default)]
struct Slot {
    token: Option<Held>,
    /// Counts the questions asked (answered or failed).
    generation: u64,
    /// The error of the last question, if it failed (with its generation).
    failed: Option<(u64, TransportError)>,
    /// The latest refresh token (rotated by the endpoint).
    refresh_token: Option<String>,
}

struct Held {
    header: Header,
    generation: u64,
    /// When to ask again (a little before the token expires).
    due: Option<Instant>,
}

/// The header a request is sent with, and the question that gave it.
pub(crate) struct Granted {
    pub(crate) header: Header,
    pub(crate) generation: u64,
}

impl Tokens {
    /// The token state of `auth`, if its credentials are asked for;
    /// tokens go to `origin` only, token requests take `timeout`.
    pub(crate) fn for_auth(
        auth: Option<&Auth>,
        origin: &str,
        timeout: Option<Duration>,
        observer: crate::core::Observer,
    ) -> Option<Tokens> {
        let source = match auth? {
            Auth::Provider(p) => Source::Provider(p.clone()),
            Auth::OAuth2(o) => Source::OAuth2(o.clone()),
            _ => return None,
        };
        Some(Tokens {
            inner: Arc::new(Inner {
                source,
                origin: origin.to_string(),
                timeout,
                slot: Mutex::default(),
                asking: async_lock::Mutex::new(()),
                asked: AtomicU64::new(0),
                observer,
            }),
        })
    }

    /// How many times a token was asked for (provider calls, token endpoint requests).
    pub(crate) fn asked(&self) -> u64 {
        self.inner.asked.load(Ordering::SeqCst)
    }

    /// Whether `req` goes to the API's origin (and gets a token).
    pub(crate) fn wants(&self, req: &Request) -> bool {
        let o = &self.inner.origin;
        !o.is_empty()
            && req.url.starts_with(o.as_str())
            && matches!(
                req.url.as_bytes().get(o.len()),
                Some(b'/' | b'?' | b'#') | None
            )
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.inner.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self, now: Instant) -> Option<Granted> {
        usable(&self.slot(), now)
    }

    /// A token for a request: the one held, or, when none is or it is
    /// due, a new one (asked once for every request waiting). `send` sends
    /// a token endpoint's request (through the `Api`'s transport).
    /// Failures are [`TransportErrorKind::Auth`].
    pub(crate) async fn get<S, F>(&self, send: S) -> Result<Granted, TransportError>
    where
        S: FnOnce(Request) -> F,
        F: Future<Output = Result<Response, TransportError>>,
    {
        let seen = {
            let slot = self.slot();
            if let Some(g) = usable(&slot, Instant::now()) {
                return Ok(g);
            }
            slot.generation
        };
        let _asking = self.inner.asking.lock().await;
        {
            let slot = self.slot();
            if slot.generation != seen {
                // Asked while this request waited: that answer is its answer.
                if let Some((generation, error)) = &slot.failed {
                    if *generation == slot.generation {
                        return Err(error.clone());
                    }
                }
                drop(slot);
                if let Some(g) = self.current(Instant::now()) {
                    return Ok(g);
                }
            }
        }
        self.inner.asked.fetch_add(1, Ordering::SeqCst);
        let asked_at = Instant::now();
        let answer = self.ask(send).await;
        let mut slot = self.slot();
        slot.generation += 1;
        let generation = slot.generation;
        match answer {
            Ok((token, refresh_token)) => {
                let due = token.expires_in.map(|lifetime| {
                    let ahead = match &self.inner.source {
                        Source::OAuth2(o) => refresh_ahead(lifetime, o.refresh_before),
                        Source::Provider(_) => refresh_ahead(lifetime, None),
                    };
                    asked_at + (lifetime - ahead)
                });
                if refresh_token.is_some() {
                    slot.refresh_token = refresh_token;
                }
                let header = token.to_header();
                slot.token = Some(Held {
                    header: header.clone(),
                    generation,
                    due,
                });
                slot.failed = None;
                drop(slot);
                self.inner
                    .observer
                    .emit_with(crate::core::TARGET_AUTH, log::Level::Info, || {
                        crate::ApiEvent::TokenRefreshed
                    });
                Ok(Granted { header, generation })
            }
            Err(error) => {
                slot.token = None;
                slot.failed = Some((generation, error.clone()));
                Err(error)
            }
        }
    }

    /// Forgets the token of `generation` (the API refused it): the next
    /// request asks for a new one. A newer token is kept.
    pub(crate) fn refused(&self, generation: u64) {
        let mut slot = self.slot();
        if slot
            .token
            .as_ref()
            .is_some_and(|h| h.generation == generation)
        {
            slot.token = None;
        }
    }

    /// Asks the source: the token and a rotated refresh token, or a message
    /// without secrets.
    /// A token, or the `Auth` transport error saying why none came (the
    /// provider's own error as its source).
    async fn ask<S, F>(&self, send: S) -> Result<(Token, Option<String>), TransportError>
    where
        S: FnOnce(Request) -> F,
        F: Future<Output = Result<Response, TransportError>>,
    {
        let auth = |message: String| TransportError::new(TransportErrorKind::Auth, message);
        match &self.inner.source {
            Source::Provider(p) => match p.0.token().await {
                Ok(t) => {
                    if t.header.is_empty()
                        || t.value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
                    {
                        Err(auth(
                            "the token provider gave a token with an empty header name, \
                             a line break or a NUL"
                                .into(),
                        ))
                    } else {
                        Ok((t, None))
                    }
                }
                Err(e) => {
                    let error = auth(format!("the token provider failed: {e}"));
                    Err(error.with_source_of(provider_source(e)))
                }
            },
            Source::OAuth2(o) => {
                let refresh = self.slot().refresh_token.clone();
                let req = o.request(RequestId(u64::MAX), refresh.as_deref(), self.inner.timeout);
                match send(req).await {
                    Ok(resp) => o
                        .read_answer(&resp)
                        .map(|g| (g.token, g.refresh_token))
                        .map_err(|e| auth(e.message().to_string())),
                    Err(e) => Err(TransportError {
                        kind: TransportErrorKind::Auth,
                        message: format!(
                            "the OAuth 2.0 token endpoint could not be reached: {}",
                            e.message
                        ),
                        source: e.source,
                    }),
                }
            }
        }
    }
}

/// A token provider's error, kept as the source of the `Auth` error.
#[cfg(not(target_arch = "wasm32"))]
fn provider_source(e: crate::core::BoxError) -> Option<crate::error::Source> {
    Some(Arc::from(e))
}

/// A token provider's error, kept as the source of the `Auth` error when it
/// is what JavaScript threw (the npm package's `auth.token()`): a
/// WebAssembly provider's error need not be `Send`, an `Error`'s source is.
#[cfg(target_arch = "wasm32")]
fn provider_source(e: crate::core::BoxError) -> Option<crate::error::Source> {
    let js = e.downcast::<crate::transport::fetch::JsError>().ok()?;
    Some(Arc::new(*js))
}

/// The token to send now, if one is held and not due.
fn usable(slot: &Slot, now: Instant) -> Option<Granted> {
    let held = slot.token.as_ref()?;
    if held.due.is_some_and(|due| now >= due) {
        return None;
    }
    Some(Granted {
        header: held.header.clone(),
        generation: held.generation,
    })
}
