//! The `Api` handle: a validated description, the shared handles (limiter,
//! pacer) and, natively, the default transport every client of it shares.

use std::sync::Arc;

use crate::core::{ApiBuilder, ApiSpec, Pacer, PacerStats, Preset};
use crate::error::Result;
use crate::shared::{Handles, Limiter};

/// A paginated JSON API: its base URL, authentication, pagination dialect and
/// the one concurrency limit that every client made from it shares.
///
/// Cloning is cheap and keeps the same limiter (and the same connections).
///
/// ```
/// use pagewise::{Api, Auth, Pagination, Total};
/// let api = Api::builder("https://api.example/v1/")
///     .auth(Auth::bearer("token"))
///     .records_at("/data")
///     .pagination(Pagination::offset().total(Total::header("X-Total-Count")))
///     .page_size(500)
///     .concurrency(16)
///     .build()?;
/// assert_eq!(api.limiter().limit(), 16);
/// assert!(!format!("{api:?}").contains("token"));
/// # Ok::<(), pagewise::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Api {
    spec: Arc<ApiSpec>,
    handles: Handles,
    /// The default transport, made on first use: one ureq agent (and its
    /// connections) and one set of worker threads for every client of this `Api`.
    #[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
    transport: Arc<std::sync::OnceLock<crate::transport::UreqTransport>>,
}

impl Api {
    /// Starts describing the API whose base URL is `base`. Collection paths
    /// are resolved under it (`items` under `https://h/v1` is `https://h/v1/items`).
    pub fn builder(base: impl Into<String>) -> ApiBuilder {
        ApiBuilder::new(base)
    }

    /// Starts describing an API pagewise knows by name: the [`Preset`]'s
    /// options, under whatever the builder's calls set after (see
    /// [`ApiBuilder::preset`]).
    ///
    /// ```no_run
    /// use pagewise::{Api, Auth, Preset};
    /// let api = Api::builder_for(Preset::ServiceNow)
    ///     .instance("acme")
    ///     .auth(Auth::basic("admin", "secret"))
    ///     .build()?;
    /// # let _ = api;
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn builder_for(preset: Preset) -> ApiBuilder {
        ApiBuilder::new("").preset(preset)
    }

    /// The validated description the core works from.
    pub fn spec(&self) -> &Arc<ApiSpec> {
        &self.spec
    }

    /// The limiter shared by every client of this `Api`.
    pub fn limiter(&self) -> &Limiter {
        &self.handles.limiter
    }

    /// The limiter and the pacer, for the driver.
    pub(crate) fn handles(&self) -> &Handles {
        &self.handles
    }

    /// The default native transport: ureq with as many worker threads as
    /// the `Api`'s concurrency, shared by every client made with `new`.
    #[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
    pub(crate) fn default_transport(&self) -> crate::transport::UreqTransport {
        self.transport
            .get_or_init(|| {
                crate::transport::UreqTransport::new().max_threads(self.spec.concurrency())
            })
            .clone()
    }

    /// What the shared pacer has done so far: throttling answers, time
    /// throttled, adaptive concurrency steps.
    pub fn pacing_stats(&self) -> PacerStats {
        self.handles.pacer.lock().stats().clone()
    }

    /// The concurrency the adaptive pacer allows now (at most the configured one).
    pub fn current_concurrency(&self) -> usize {
        self.handles.pacer.lock().concurrency()
    }

    /// The request rate the pacer learnt from the server's 429 answers, if any.
    pub fn learnt_rate(&self) -> Option<f64> {
        self.handles.pacer.lock().learnt_rate()
    }
}

impl ApiBuilder {
    /// Validates the description and makes the `Api`. A bad base URL is an
    /// [`ErrorKind::Url`](crate::ErrorKind::Url) error; a page size,
    /// concurrency or window of 0 or above 65,536
    /// ([`ListOptions::MAX_CONCURRENCY`](crate::ListOptions::MAX_CONCURRENCY),
    /// [`MAX_WINDOW`](crate::ListOptions::MAX_WINDOW)), an empty parameter name, a malformed JSON
    /// pointer or header are [`ErrorKind::Config`](crate::ErrorKind::Config) errors.
    pub fn build(self) -> Result<Api> {
        let observer = self.observer.clone();
        let mut spec = self.build_spec()?;
        spec.observer = observer;
        crate::core::check_sizes(spec.concurrency, spec.window)?;
        let pacer = Pacer::new(spec.pacing().clone(), spec.concurrency())
            .forbidden_rate_limit(spec.retry.get_forbidden_rate_limit());
        Ok(Api {
            handles: Handles::new(spec.concurrency(), pacer).with_tokens(&spec),
            spec: Arc::new(spec),
            #[cfg(all(not(target_arch = "wasm32"), feature = "ureq"))]
            transport: Arc::default(),
        })
    }
}
