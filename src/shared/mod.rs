//! The handles every operation of one [`Api`](crate::Api) shares, whatever
//! client or facade runs it: the concurrency [`Limiter`] and the pacer
//! (rate limit, 429 cooldown, adaptive concurrency) with the line of
//! operations waiting for it. The drivers take these handles, never the
//! `Api`; transports see only the [`Lease`] a request holds.
//!
//! Below: the core (the `Pacer` itself). Above: transports, the driver,
//! the facades.

pub(crate) mod lease;
pub(crate) mod limiter;
pub(crate) mod token;

pub use self::lease::Lease;
pub(crate) use self::lease::{Arrivals, Gate, SharedPacer};
pub use self::limiter::{Limiter, Permit};
pub(crate) use self::token::Tokens;

use crate::core::Pacer;

/// The limiter and the pacer of one `Api`: cloning shares them.
#[derive(Clone)]
pub(crate) struct Handles {
    pub(crate) limiter: Limiter,
    pub(crate) pacer: SharedPacer,
    /// The token of an `Api` whose credentials are asked for (a token
    /// provider, OAuth 2.0); the driver adds it to each request.
    pub(crate) tokens: Option<Tokens>,
    /// Where the driver's request events go (the `Api`'s observer).
    pub(crate) observer: crate::core::Observer,
}

impl std::fmt::Debug for Handles {
    /// The limiter and the pacer (the token state holds secrets: left out).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handles")
            .field("limiter", &self.limiter)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

impl Handles {
    /// Handles for `concurrency` requests in flight, paced by `pacer`.
    pub(crate) fn new(concurrency: usize, pacer: Pacer) -> Self {
        Handles {
            limiter: Limiter::new(concurrency),
            pacer: SharedPacer::new(pacer),
            tokens: None,
            observer: crate::core::Observer::default(),
        }
    }

    /// With the token state `spec`'s credentials need, if any.
    pub(crate) fn with_tokens(mut self, spec: &crate::core::ApiSpec) -> Self {
        let origin = spec.base().origin().unwrap_or_default();
        self.tokens = Tokens::for_auth(
            spec.auth.as_ref(),
            origin,
            spec.timeout,
            spec.observer.clone(),
        );
        self.pacer.lock().observer = spec.observer.clone();
        self.observer = spec.observer.clone();
        self
    }

    /// A gate for one operation's requests.
    pub(crate) fn gate(&self) -> Gate {
        Gate::new(self.pacer.clone(), self.limiter.clone())
    }
}
