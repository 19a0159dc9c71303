//! The options of the jobs: [`ManyOptions`] and [`BatchLookup`] for
//! fetching, [`WriteOptions`], [`WriteOp`] and [`BatchWrite`] for writing.

use crate::core::checkpoint::ManyCheckpoint;
use crate::core::options::Order;
use crate::core::retry::RetryPolicy;

/// Looking several ids up in one request, where the API can:
/// `GET items?ids=1,2,3` or `GET items?id=in.(1,2,3)`.
///
/// ```
/// use pagewise::BatchLookup;
/// let plain = BatchLookup::new("items", "ids").max(100);
/// let postgrest = BatchLookup::new("items", "id").value("in.({ids})");
/// let servicenow = BatchLookup::new("incident", "sysparm_query").value("sys_idIN{ids}").records_at("/result");
/// # let _ = (plain, postgrest, servicenow);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLookup {
    pub(crate) path: String,
    pub(crate) param: String,
    pub(crate) value: String,
    pub(crate) separator: String,
    pub(crate) max: usize,
    pub(crate) records_at: String,
    pub(crate) id_field: String,
}

impl BatchLookup {
    /// Lookups at `path` with the ids in query parameter `param`
    /// (joined by `,`, at most 100 per request, records at `/items`, matched by `id`).
    pub fn new(path: impl Into<String>, param: impl Into<String>) -> Self {
        BatchLookup {
            path: path.into(),
            param: param.into(),
            value: "{ids}".into(),
            separator: ",".into(),
            max: 100,
            records_at: "/items".into(),
            id_field: "id".into(),
        }
    }
    /// The parameter value, a template over `{ids}` (default `{ids}`).
    pub fn value(mut self, template: impl Into<String>) -> Self {
        self.value = template.into();
        self
    }
    /// What joins the ids (default `,`).
    pub fn separator(mut self, sep: impl Into<String>) -> Self {
        self.separator = sep.into();
        self
    }
    /// Ids per request at most (default 100).
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    /// Where the records sit in the answer (JSON pointer, default `/items`).
    pub fn records_at(mut self, pointer: impl Into<String>) -> Self {
        self.records_at = pointer.into();
        self
    }
    /// The record field that holds its id (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }
}

/// Options of a `fetch_many` job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManyOptions {
    pub(crate) concurrency: Option<usize>,
    pub(crate) order: Order,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) seed: Option<u64>,
    pub(crate) resume: Option<ManyCheckpoint>,
    pub(crate) batch: Option<BatchLookup>,
}

impl ManyOptions {
    /// Requests in flight at once (default and maximum: the API's concurrency).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Input order (`Order::Page`, the default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// How failed requests are retried (default: the API's policy).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// The jitter seed (default: drivers pick one).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Skips the items a checkpoint says are done.
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
    /// Looks several ids up per request.
    pub fn batch(mut self, lookup: BatchLookup) -> Self {
        self.batch = Some(lookup);
        self
    }
}

/// What a write job does to each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteOp {
    /// Create: `POST {path}` (or `"op":"insert"` in a batch).
    Insert,
    /// Change some fields: `PATCH {path}/{id}`.
    Update,
    /// Create or replace: `PUT {path}/{id}`.
    Upsert,
    /// Remove: `DELETE {path}/{id}` (records may be bare ids).
    Delete,
}

impl WriteOp {
    /// The op's name in a batch body: `insert`, `update`, `upsert`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Insert => "insert",
            WriteOp::Update => "update",
            WriteOp::Upsert => "upsert",
            WriteOp::Delete => "delete",
        }
    }
}

/// A batch endpoint: several records per request, one result per record.
///
/// The body is `{"op": "<op>", "records": [...]}` by default; the answer's
/// per-record results sit at `/results`, each with `ok`, `id`, `status` and
/// `error` members. Every part is configurable.
///
/// ```
/// use pagewise::BatchWrite;
/// let batch = BatchWrite::new("batch/items").results_at("/results").max(200);
/// let bare = BatchWrite::new("bulk").records_field(None).op_field(None); // body: [...]
/// # let _ = (batch, bare);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchWrite {
    pub(crate) path: String,
    pub(crate) op_field: Option<String>,
    pub(crate) records_field: Option<String>,
    pub(crate) results_at: String,
    pub(crate) ok_field: String,
    pub(crate) id_field: String,
    pub(crate) status_field: String,
    pub(crate) error_field: String,
    pub(crate) max: usize,
}

impl BatchWrite {
    /// A batch endpoint at `path` (POST).
    pub fn new(path: impl Into<String>) -> Self {
        BatchWrite {
            path: path.into(),
            op_field: Some("op".into()),
            records_field: Some("records".into()),
            results_at: "/results".into(),
            ok_field: "ok".into(),
            id_field: "id".into(),
            status_field: "status".into(),
            error_field: "error".into(),
            max: 200,
        }
    }
    /// The body member naming the op (`None`: no such member).
    pub fn op_field(mut self, name: Option<&str>) -> Self {
        self.op_field = name.map(str::to_string);
        self
    }
    /// The body member holding the records (`None`: the body is the array).
    pub fn records_field(mut self, name: Option<&str>) -> Self {
        self.records_field = name.map(str::to_string);
        self
    }
    /// Where the per-record results sit in the answer (JSON pointer).
    pub fn results_at(mut self, pointer: impl Into<String>) -> Self {
        self.results_at = pointer.into();
        self
    }
    /// Names of the `ok`, `id`, `status` and `error` members of a result.
    pub fn result_fields(mut self, ok: &str, id: &str, status: &str, error: &str) -> Self {
        self.ok_field = ok.into();
        self.id_field = id.into();
        self.status_field = status.into();
        self.error_field = error.into();
        self
    }
    /// Records per request at most (default 200).
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
}

/// Options of a write job.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    pub(crate) op: WriteOp,
    pub(crate) path: String,
    pub(crate) batch: Option<BatchWrite>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) order: Order,
    pub(crate) idempotency_header: Option<String>,
    pub(crate) id_field: String,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) seed: Option<u64>,
    pub(crate) key_seed: Option<u128>,
    pub(crate) resume: Option<ManyCheckpoint>,
}

impl WriteOptions {
    /// Writes of `op` to the collection at `path`, one request per record,
    /// with an `Idempotency-Key` header so that retries never write twice.
    pub fn new(op: WriteOp, path: impl Into<String>) -> Self {
        WriteOptions {
            op,
            path: path.into(),
            batch: None,
            batch_size: None,
            concurrency: None,
            order: Order::Page,
            idempotency_header: Some("Idempotency-Key".into()),
            id_field: "id".into(),
            retry: None,
            seed: None,
            key_seed: None,
            resume: None,
        }
    }
    /// Through a batch endpoint.
    pub fn batch(mut self, batch: BatchWrite) -> Self {
        self.batch = Some(batch);
        self
    }
    /// Records per batch request (default: the batch endpoint's max).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }
    /// Requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }
    /// Outcomes in input order (default) or completion order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// The idempotency header (default `Idempotency-Key`); `None` sends none,
    /// and then a write that may have reached the server is never retried.
    pub fn idempotency_header(mut self, name: Option<&str>) -> Self {
        self.idempotency_header = name.map(str::to_string);
        self
    }
    /// The record field holding its id, for update, upsert and delete (default `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = field.into();
        self
    }
    /// How failed requests are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// The seed of the retry jitter (default: drivers pick one), and of
    /// the idempotency keys when no [`key_seed`](Self::key_seed) is given.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// 128 random bits the idempotency keys are drawn from (UUID v4
    /// strings, one per request body). The drivers take them from the
    /// operating system's random source (`crypto.getRandomValues` in
    /// WebAssembly), so two processes or tabs never send the same key;
    /// without them the keys derive from [`seed`](Self::seed), which
    /// simulations fix to get the same keys every run.
    ///
    /// ```
    /// use pagewise::core::{WriteJob, WriteOp, WriteOptions};
    /// use pagewise::{Api, JsonText};
    /// let api = Api::builder("https://api.example/").build()?;
    /// let options = WriteOptions::new(WriteOp::Insert, "items").key_seed(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    /// let record = JsonText::parse(r#"{"name":"a"}"#.to_string()).unwrap();
    /// let mut job = WriteJob::new(api.spec(), vec![record], options, web_time::Instant::now())?;
    /// let request = job.poll_request().unwrap();
    /// let key = request.headers().iter().find(|h| h.name == "Idempotency-Key").unwrap();
    /// // A UUID v4: 8-4-4-4-12 hex digits, version 4.
    /// assert_eq!(key.value.len(), 36);
    /// assert_eq!(&key.value[14..15], "4");
    /// # Ok::<(), pagewise::Error>(())
    /// ```
    pub fn key_seed(mut self, bits: u128) -> Self {
        self.key_seed = Some(bits);
        self
    }
    /// Skips the records a checkpoint says are done.
    pub fn resume(mut self, checkpoint: ManyCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
}
