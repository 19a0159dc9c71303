//! The options of the jobs: [`ManyOptions`] and [`BatchLookup`] for
//! fetching, [`WriteOptions`], [`WriteOp`] and [`BatchWrite`] for writing.

use crate::core::checkpoint::ManyCheckpoint;
use crate::core::http::Method;
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
/// // For every collection of an API (`ApiBuilder::lookup`): `{collection}` is
/// // the job's template before `/{id}` (`incident` for `incident/{id}`).
/// let any = BatchLookup::new("{collection}", "sysparm_query").value("sys_idIN{ids}");
/// # let _ = (plain, postgrest, servicenow, any);
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

    /// This lookup with `{collection}` in its path replaced.
    pub(crate) fn for_collection(mut self, collection: &str) -> Self {
        self.path = self
            .path
            .replace("{collection}", collection.trim_matches('/'));
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
    /// One `GET` per id even when the API has a default lookup.
    pub(crate) unbatched: bool,
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
        self.unbatched = false;
        self
    }
    /// One `GET` per id, even when the API has a default lookup
    /// ([`ApiBuilder::lookup`](crate::ApiBuilder::lookup)).
    pub fn no_batch(mut self) -> Self {
        self.batch = None;
        self.unbatched = true;
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

/// How the answer of a batch write tells each record's outcome
/// ([`BatchWrite::results`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BatchResults {
    /// One result per record at [`results_at`](BatchWrite::results_at), in
    /// the records' order, each saying `ok`, `status` or `errors` (the default).
    #[default]
    Items,
    /// No per-record results: a 2xx answer (with [`ok_at`](BatchWrite::ok_at)
    /// `true`, when set) succeeds every record of the batch; an error answer
    /// fails every one with that error. A 2xx whose `ok_at` is `false` fails
    /// them all; one whose `ok_at` cannot be read is an unknown outcome.
    AllOrNothing,
    /// The records written, returned in the records' order (PostgREST
    /// `Prefer: return=representation`): a returned record succeeded. A
    /// result that does carry `ok`, `status` or `errors` is read as in
    /// [`Items`](Self::Items).
    ByPosition,
    /// The records written, returned in any order and matched by their id
    /// field: a returned record succeeded; a record without a result in a
    /// 2xx answer has an unknown outcome.
    ById,
}

impl BatchResults {
    /// The name in the option schema: `items`, `all-or-nothing`, `by-position`, `by-id`.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchResults::Items => "items",
            BatchResults::AllOrNothing => "all-or-nothing",
            BatchResults::ByPosition => "by-position",
            BatchResults::ById => "by-id",
        }
    }
}

/// A batch endpoint: several records per request, one result per record.
///
/// The body is `{"op": "<op>", "records": [...]}` by default; the answer's
/// per-record results sit at `/results`, each with `ok`, `id`, `status` and
/// `error` members. Every part is configurable:
///
/// - the body: [`op_field`](Self::op_field), [`records_field`](Self::records_field)
///   (`None`: the body is the array), fixed [`members`](Self::members) of the
///   body, [`item_members`](Self::item_members) of each record, one record
///   per request as `{"row": {...}}` ([`single`](Self::single)), extra
///   [`header`](Self::header)s (of every op, or of one: [`header_for`](Self::header_for));
/// - the request: a [`method`](Self::method) and a [`path_for`](Self::path_for)
///   each op, the records' id field ([`record_id_field`](Self::record_id_field)), ids of a delete in a query parameter ([`delete_ids_param`](Self::delete_ids_param));
/// - the answer: [`results`](Self::results) (per-record items, all-or-nothing,
///   by position, by id), [`ok_at`](Self::ok_at), [`result_fields`](Self::result_fields),
///   an [`errors_field`](Self::errors_field).
///
/// A path may hold `{collection}`: the job's path (`"items"` for
/// `insert_many("items", ..)`), so one `BatchWrite` can serve every
/// collection of an API ([`ApiBuilder::batch_write`](crate::ApiBuilder::batch_write)).
///
/// An answer that does not say what became of a record (a 2xx whose results
/// cannot be read, are too few or too many, or name no record) makes that
/// record's outcome [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown),
/// never a failure: sending it again could write it twice.
///
/// ```
/// use pagewise::{BatchResults, BatchWrite, WriteOp};
/// use serde_json::json;
/// let batch = BatchWrite::new("batch/items").results_at("/results").max(200);
/// let bare = BatchWrite::new("bulk").records_field(None).op_field(None); // body: [...]
/// // {"rows": [...]} answered by {"ok": true}
/// let rows = BatchWrite::new("rows").op_field(None).records_field(Some("rows"))
///     .results(BatchResults::AllOrNothing).ok_at("/ok");
/// // Salesforce composite sObject collections.
/// let salesforce = BatchWrite::new("composite/sobjects")
///     .op_field(None)
///     .members(json!({"allOrNone": false}))
///     .item_members(json!({"attributes": {"type": "Account"}}))
///     .results_at("")
///     .result_fields("success", "id", "status", "message")
///     .errors_field("errors")
///     .method(WriteOp::Update, "PATCH")
///     .method(WriteOp::Upsert, "PATCH")
///     .path_for(WriteOp::Upsert, "composite/sobjects/Account/External_Id__c")
///     .method(WriteOp::Delete, "DELETE")
///     .delete_ids_param("ids");
/// // PostgREST bulk insert, the rows written handed back in order.
/// let postgrest = BatchWrite::new("{collection}").op_field(None).records_field(None)
///     .header("Prefer", "return=representation")
///     .results(BatchResults::ByPosition).results_at("");
/// # let _ = (batch, bare, rows, salesforce, postgrest);
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
    pub(crate) errors_field: Option<String>,
    pub(crate) max: usize,
    pub(crate) members: serde_json::Map<String, serde_json::Value>,
    pub(crate) item_members: serde_json::Map<String, serde_json::Value>,
    pub(crate) results: BatchResults,
    pub(crate) ok_at: Option<String>,
    pub(crate) single: bool,
    pub(crate) methods: Vec<(WriteOp, Method)>,
    pub(crate) paths: Vec<(WriteOp, String)>,
    pub(crate) delete_ids_param: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) op_headers: Vec<(WriteOp, String, String)>,
    pub(crate) record_id_field: Option<String>,
    pub(crate) bad_method: Option<String>,
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
            errors_field: None,
            max: 200,
            members: serde_json::Map::new(),
            item_members: serde_json::Map::new(),
            results: BatchResults::Items,
            ok_at: None,
            single: false,
            methods: Vec::new(),
            paths: Vec::new(),
            delete_ids_param: None,
            headers: Vec::new(),
            op_headers: Vec::new(),
            record_id_field: None,
            bad_method: None,
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
    /// Where the per-record results sit in the answer (JSON pointer; `""`:
    /// the answer is the array).
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
    /// The member of a result holding an array of errors (Salesforce
    /// `errors: [{statusCode, message, fields}]`): a non-empty array fails
    /// the record, with the errors' `message`s (or the array's text).
    pub fn errors_field(mut self, name: impl Into<String>) -> Self {
        self.errors_field = Some(name.into());
        self
    }
    /// Records per request at most (default 200).
    pub fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    /// Fixed members added to every batch body (`{"allOrNone": false}`);
    /// they go before the records member. In a delete with
    /// [`delete_ids_param`](Self::delete_ids_param) they become query
    /// parameters. A value that is not a JSON object adds nothing.
    pub fn members(mut self, members: serde_json::Value) -> Self {
        if let serde_json::Value::Object(m) = members {
            self.members = m;
        }
        self
    }
    /// Members added to every record object of the body (Salesforce
    /// `{"attributes": {"type": "Account"}}`), before the record's own
    /// members. A value that is not a JSON object adds nothing.
    pub fn item_members(mut self, members: serde_json::Value) -> Self {
        if let serde_json::Value::Object(m) = members {
            self.item_members = m;
        }
        self
    }
    /// How the answer tells each record's outcome (default [`BatchResults::Items`]).
    pub fn results(mut self, results: BatchResults) -> Self {
        self.results = results;
        self
    }
    /// A JSON pointer to a boolean of an all-or-nothing answer that must be
    /// `true` for the batch to have succeeded (`"/ok"`).
    pub fn ok_at(mut self, pointer: impl Into<String>) -> Self {
        self.ok_at = Some(pointer.into());
        self
    }
    /// One record per request, as the value of the records member
    /// (`{"row": {...}}` with `records_field(Some("row"))`), or as the
    /// whole body when there is no records member.
    pub fn single(mut self, single: bool) -> Self {
        self.single = single;
        self
    }
    /// The HTTP method of the batches of `op` (default `POST`):
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (any case); another name
    /// makes the job fail to start, saying so.
    pub fn method(mut self, op: WriteOp, method: &str) -> Self {
        let m = match method.to_ascii_uppercase().as_str() {
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            "GET" => Some(Method::Get),
            _ => None,
        };
        self.methods.retain(|(o, _)| *o != op);
        match m {
            Some(m) => self.methods.push((op, m)),
            None => {
                self.bad_method = Some(format!(
                "the batch method of {} must be GET, POST, PUT, PATCH or DELETE, not {method:?}",
                op.as_str()
            ))
            }
        }
        self
    }
    /// The path of the batches of `op` (default: [`new`](Self::new)'s).
    pub fn path_for(mut self, op: WriteOp, path: impl Into<String>) -> Self {
        self.paths.retain(|(o, _)| *o != op);
        self.paths.push((op, path.into()));
        self
    }
    /// Deletes send the records' ids in this query parameter, joined by
    /// `,` (`?ids=a,b`), and no body (Salesforce).
    pub fn delete_ids_param(mut self, name: impl Into<String>) -> Self {
        self.delete_ids_param = Some(name.into());
        self
    }
    /// A header of every batch request (`Prefer: return=representation`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header of the batch requests of `op` only, after those of
    /// [`header`](Self::header): PostgREST's upsert is a POST of the same
    /// array with `Prefer: resolution=merge-duplicates`, which an insert
    /// must not send (it would merge where the insert should refuse).
    ///
    /// ```
    /// use pagewise::{BatchWrite, WriteOp};
    /// let rows = BatchWrite::new("items")
    ///     .header_for(WriteOp::Upsert, "Prefer", "resolution=merge-duplicates");
    /// # let _ = rows;
    /// ```
    pub fn header_for(
        mut self,
        op: WriteOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.op_headers.push((op, name.into(), value.into()));
        self
    }

    /// The field holding the records' id in jobs through this endpoint that
    /// name none with `id_field` (Salesforce: `Id`; default `id`).
    pub fn record_id_field(mut self, field: impl Into<String>) -> Self {
        self.record_id_field = Some(field.into());
        self
    }

    /// This endpoint for jobs of `op`: the headers of `op` joined to the others.
    pub(crate) fn for_op(mut self, op: WriteOp) -> Self {
        for (o, name, value) in std::mem::take(&mut self.op_headers) {
            if o == op {
                self.headers.push((name, value));
            }
        }
        self
    }

    pub(crate) fn method_of(&self, op: WriteOp) -> Method {
        self.methods
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(Method::Post, |(_, m)| *m)
    }

    pub(crate) fn path_of(&self, op: WriteOp) -> &str {
        self.paths
            .iter()
            .find(|(o, _)| *o == op)
            .map_or(self.path.as_str(), |(_, p)| p.as_str())
    }

    /// This endpoint with `{collection}` in its paths replaced.
    pub(crate) fn for_collection(mut self, collection: &str) -> Self {
        let c = collection.trim_matches('/');
        self.path = self.path.replace("{collection}", c);
        for (_, p) in &mut self.paths {
            *p = p.replace("{collection}", c);
        }
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
    /// `None`: the batch endpoint's `record_id_field`, else `id`.
    pub(crate) id_field: Option<String>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) seed: Option<u64>,
    pub(crate) key_seed: Option<u128>,
    pub(crate) resume: Option<ManyCheckpoint>,
    /// One request per record even when the API has a default batch endpoint.
    pub(crate) unbatched: bool,
    /// A single-record operation's own path (`create`, `update`, `delete`).
    pub(crate) target: Option<String>,
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
            id_field: None,
            retry: None,
            seed: None,
            key_seed: None,
            resume: None,
            unbatched: false,
            target: None,
        }
    }
    /// Through a batch endpoint.
    pub fn batch(mut self, batch: BatchWrite) -> Self {
        self.batch = Some(batch);
        self.unbatched = false;
        self
    }
    /// One request per record, even when the API has a default batch
    /// endpoint ([`ApiBuilder::batch_write`](crate::ApiBuilder::batch_write)).
    pub fn no_batch(mut self) -> Self {
        self.batch = None;
        self.unbatched = true;
        self
    }
    /// One record written at `path`, its own URL (`items/7`, or
    /// `items/{id}` with the record's id field in place of `{id}`): what the
    /// single-record operations (`create`, `update`, `delete`) run; the
    /// answer's body is kept ([`Written::answer`](crate::Written::answer)).
    /// Never batched.
    pub fn single(mut self, path: impl Into<String>) -> Self {
        self.target = Some(path.into());
        self.batch = None;
        self.unbatched = true;
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
    /// The record field holding its id, for update, upsert and delete
    /// (default: the batch endpoint's [`record_id_field`](BatchWrite::record_id_field),
    /// else `id`).
    pub fn id_field(mut self, field: impl Into<String>) -> Self {
        self.id_field = Some(field.into());
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
