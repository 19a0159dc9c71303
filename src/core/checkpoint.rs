//! Checkpoints: where a sweep got to, as a value that survives the process.

use serde::{Deserialize, Serialize};

use super::delta::Watermark;
use super::retry::RetryCounts;
use crate::error::{Error, ErrorKind, Result};

/// One page a sweep still has to hand out, as stored in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum PageRef {
    Offset { offset: u64, limit: u64 },
    Page { number: u64 },
    Cursor { cursor: Option<String> },
    Url { url: String },
    Keyset { after: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingPage {
    pub seq: u64,
    pub sub: u32,
    pub page: PageRef,
    /// Records at the start of the page already handed out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the sweep had learnt about the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Learnt {
    pub total: Option<u64>,
    pub effective_size: u64,
    pub fanned_out: bool,
    pub planned_end: u64,
    pub largest_page: u64,
    pub next_seq: u64,
    pub seen: Vec<String>,
    /// An empty page came back before the total: no page is planned any more.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stopped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Counters of the part of the sweep already done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Done {
    pub records: u64,
    pub pages: u64,
    pub requests: u64,
    pub retries: RetryCounts,
    pub throttled_ms: u64,
    #[serde(default)]
    pub dropped: u64,
}

/// Where a sweep got to: the pages it has not handed out yet (and, for the
/// page being read, how many of its records were), what it learnt about
/// the collection, and its counters. Serializable as JSON, so a sweep can
/// be resumed in another process, or moved between the native and the
/// browser build, with [`ListOptions::resume`](crate::ListOptions::resume).
/// Resuming fetches no page that was already handed out.
///
/// Credentials are never stored in it.
///
/// ```
/// # use pagewise::core::Checkpoint;
/// # fn demo(checkpoint: Checkpoint) -> pagewise::Result<()> {
/// let json = checkpoint.to_json();
/// std::fs::write("sweep.checkpoint.json", &json).unwrap();
/// let again = Checkpoint::from_json(&json)?;
/// assert_eq!(again, checkpoint);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub(crate) version: u32,
    pub(crate) collection: String,
    pub(crate) dialect: String,
    pub(crate) pending: Vec<PendingPage>,
    pub(crate) learnt: Learnt,
    pub(crate) done: Done,
    /// For a delta sync: the watermark it started from (the filter sent)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<Watermark>,
    /// …and the one reached so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reached: Option<Watermark>,
}

impl Checkpoint {
    pub(crate) const VERSION: u32 = 1;

    /// The checkpoint as JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// The largest number a checkpoint may hold: 2^53 - 1, the largest
    /// integer JavaScript represents exactly. No sweep counts that far, and
    /// counting on from it cannot overflow.
    pub const MAX_NUMBER: u64 = (1 << 53) - 1;

    /// A checkpoint from JSON made by [`to_json`](Checkpoint::to_json);
    /// anything else is an [`ErrorKind::Config`] error, and so is a number
    /// that no sweep could have saved (above [`MAX_NUMBER`](Checkpoint::MAX_NUMBER),
    /// a page size of 0, more records left out of a page than it holds, a
    /// page numbered past the sweep's count).
    ///
    /// ```
    /// use pagewise::{Checkpoint, ErrorKind};
    /// let json = r#"{"version":1,"collection":"https://h/items","dialect":"offset",
    ///   "pending":[],"learnt":{"total":null,"effective_size":10,"fanned_out":false,
    ///   "planned_end":0,"largest_page":0,"next_seq":1,"seen":[]},
    ///   "done":{"records":18446744073709551615,"pages":1,"requests":1,
    ///   "retries":{"throttled":0,"server_error":0,"timeout":0,"transport":0,"bad_body":0},
    ///   "throttled_ms":0}}"#;
    /// let err = Checkpoint::from_json(json).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// assert!(err.message().contains("`records`"), "{}", err.message());
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        let c = json::parse(json)
            .and_then(|v| Checkpoint::read(&v))
            .and_then(|c| c.validate().map(|()| c))
            .map_err(|e| {
                Error::new(ErrorKind::Config, format!("not a pagewise checkpoint: {e}"))
            })?;
        if c.version != Self::VERSION {
            return Err(Error::config(format!(
                "checkpoint version {} is not supported (this pagewise reads version {})",
                c.version,
                Self::VERSION
            )));
        }
        Ok(c)
    }

    /// Checks every number against what a sweep can have saved.
    fn validate(&self) -> json::Result<()> {
        let at_most = |name: &str, n: u64| {
            if n > Self::MAX_NUMBER {
                Err(format!(
                    "invalid value for `{name}`: {n} is more than {}",
                    Self::MAX_NUMBER
                ))
            } else {
                Ok(())
            }
        };
        let l = &self.learnt;
        let d = &self.done;
        let r = &d.retries;
        for (name, n) in [
            ("total", l.total.unwrap_or(0)),
            ("effective_size", l.effective_size),
            ("planned_end", l.planned_end),
            ("largest_page", l.largest_page),
            ("next_seq", l.next_seq),
            ("records", d.records),
            ("pages", d.pages),
            ("requests", d.requests),
            ("throttled", r.throttled),
            ("server_error", r.server_error),
            ("timeout", r.timeout),
            ("transport", r.transport),
            ("bad_body", r.bad_body),
            ("throttled_ms", d.throttled_ms),
            ("dropped", d.dropped),
        ] {
            at_most(name, n)?;
        }
        if l.effective_size == 0 {
            return Err("invalid value for `effective_size`: 0, expected at least 1".into());
        }
        for p in &self.pending {
            at_most("seq", p.seq)?;
            at_most("skip", p.skip)?;
            // Records of one page left out: a page never holds 2^32 records
            // (a body is far below 4 GiB), and on 32-bit targets (wasm) a
            // larger count would be cut short to a `usize`.
            if p.skip > u64::from(u32::MAX) {
                return Err(format!(
                    "invalid value for `skip`: {} is more than {}",
                    p.skip,
                    u32::MAX
                ));
            }
            if p.seq >= l.next_seq {
                return Err(format!(
                    "invalid value for `seq`: {}, expected less than `next_seq` ({})",
                    p.seq, l.next_seq
                ));
            }
            if p.sub == u32::MAX {
                return Err(format!("invalid value for `sub`: {}", p.sub));
            }
            match p.page {
                PageRef::Offset { offset, limit } => {
                    at_most("offset", offset)?;
                    at_most("limit", limit)?;
                    if limit == 0 || p.skip >= limit {
                        return Err(format!(
                            "invalid page: limit {limit} with {} records left out, expected \
                             a limit of at least 1 and fewer left out",
                            p.skip
                        ));
                    }
                }
                PageRef::Page { number } => at_most("number", number)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Records handed out before the checkpoint.
    pub fn records_done(&self) -> u64 {
        self.done.records
    }

    /// Pages handed out before the checkpoint.
    pub fn pages_done(&self) -> u64 {
        self.done.pages
    }

    /// Pages planned and not handed out yet. More may follow: pages found
    /// as the sweep goes on (dialects that walk in sequence), and pages up
    /// to the total, which a sweep plans only a few at a time (at most twice
    /// concurrency + window ahead), so a checkpoint stays small whatever the
    /// total.
    pub fn pages_pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is left to fetch.
    pub fn is_finished(&self) -> bool {
        self.pending.is_empty()
    }
}

// The JSON of checkpoints, by hand: the same text the serde derives above
// write and read (tests check both agree), without their code in the
// WebAssembly module (about 20 KB gzipped).

impl Checkpoint {
    fn write(&self, out: &mut String) {
        out.push_str("{\"version\":");
        json::num(out, u64::from(self.version));
        json::key(out, "collection");
        json::str(out, &self.collection);
        json::key(out, "dialect");
        json::str(out, &self.dialect);
        json::key(out, "pending");
        out.push('[');
        for (i, p) in self.pending.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            p.write(out);
        }
        out.push(']');
        json::key(out, "learnt");
        self.learnt.write(out);
        json::key(out, "done");
        self.done.write(out);
        if let Some(w) = &self.since {
            json::key(out, "since");
            w.write_json(out);
        }
        if let Some(w) = &self.reached {
            json::key(out, "reached");
            w.write_json(out);
        }
        out.push('}');
    }

    fn read(v: &json::Value<'_>) -> json::Result<Self> {
        let o = json::Obj::new(v, "struct Checkpoint")?;
        Ok(Checkpoint {
            version: o.u32("version")?,
            collection: o.string("collection")?,
            dialect: o.string("dialect")?,
            pending: o
                .array("pending")?
                .iter()
                .map(PendingPage::read)
                .collect::<json::Result<_>>()?,
            learnt: Learnt::read(o.get("learnt")?)?,
            done: Done::read(o.get("done")?)?,
            since: o.opt("since")?.map(Watermark::read_json).transpose()?,
            reached: o.opt("reached")?.map(Watermark::read_json).transpose()?,
        })
    }
}

impl PendingPage {
    fn write(&self, out: &mut String) {
        out.push_str("{\"seq\":");
        json::num(out, self.seq);
        json::key(out, "sub");
        json::num(out, u64::from(self.sub));
        json::key(out, "page");
        let (kind, field) = match &self.page {
            PageRef::Offset { .. } => ("offset", "offset"),
            PageRef::Page { .. } => ("page", "number"),
            PageRef::Cursor { .. } => ("cursor", "cursor"),
            PageRef::Url { .. } => ("url", "url"),
            PageRef::Keyset { .. } => ("keyset", "after"),
        };
        out.push_str("{\"kind\":");
        json::str(out, kind);
        json::key(out, field);
        match &self.page {
            PageRef::Offset { offset, limit } => {
                json::num(out, *offset);
                json::key(out, "limit");
                json::num(out, *limit);
            }
            PageRef::Page { number } => json::num(out, *number),
            PageRef::Cursor { cursor: v } | PageRef::Keyset { after: v } => {
                json::opt_str(out, v.as_deref());
            }
            PageRef::Url { url } => json::str(out, url),
        }
        out.push('}');
        if self.skip != 0 {
            json::key(out, "skip");
            json::num(out, self.skip);
        }
        out.push('}');
    }

    fn read(v: &json::Value<'_>) -> json::Result<Self> {
        let o = json::Obj::new(v, "struct PendingPage")?;
        let p = json::Obj::new(o.get("page")?, "internally tagged enum PageRef")?;
        let page = match p.string("kind")?.as_str() {
            "offset" => PageRef::Offset {
                offset: p.u64("offset")?,
                limit: p.u64("limit")?,
            },
            "page" => PageRef::Page {
                number: p.u64("number")?,
            },
            "cursor" => PageRef::Cursor {
                cursor: p.opt_string("cursor")?,
            },
            "url" => PageRef::Url {
                url: p.string("url")?,
            },
            "keyset" => PageRef::Keyset {
                after: p.opt_string("after")?,
            },
            other => {
                return Err(format!(
                    "unknown variant `{other}`, expected one of `offset`, `page`, `cursor`, `url`, `keyset`"
                ))
            }
        };
        Ok(PendingPage {
            seq: o.u64("seq")?,
            sub: o.u32("sub")?,
            page,
            skip: o.opt("skip")?.map_or(Ok(0), |v| json::u64_of(v, "skip"))?,
        })
    }
}

impl Learnt {
    fn write(&self, out: &mut String) {
        out.push_str("{\"total\":");
        match self.total {
            Some(n) => json::num(out, n),
            None => out.push_str("null"),
        }
        json::key(out, "effective_size");
        json::num(out, self.effective_size);
        json::key(out, "fanned_out");
        out.push_str(if self.fanned_out { "true" } else { "false" });
        json::key(out, "planned_end");
        json::num(out, self.planned_end);
        json::key(out, "largest_page");
        json::num(out, self.largest_page);
        json::key(out, "next_seq");
        json::num(out, self.next_seq);
        json::key(out, "seen");
        json::strs(out, &self.seen);
        if self.stopped {
            json::key(out, "stopped");
            out.push_str("true");
        }
        out.push('}');
    }

    fn read(v: &json::Value<'_>) -> json::Result<Self> {
        let o = json::Obj::new(v, "struct Learnt")?;
        Ok(Learnt {
            total: o
                .opt("total")?
                .map(|v| json::u64_of(v, "total"))
                .transpose()?,
            effective_size: o.u64("effective_size")?,
            fanned_out: o.bool("fanned_out")?,
            planned_end: o.u64("planned_end")?,
            largest_page: o.u64("largest_page")?,
            next_seq: o.u64("next_seq")?,
            seen: o.strings("seen")?,
            stopped: match o.opt("stopped")? {
                Some(json::Value::Bool(b)) => *b,
                Some(_) => return Err("invalid type for `stopped`, expected a boolean".into()),
                None => false,
            },
        })
    }
}

impl Done {
    fn write(&self, out: &mut String) {
        let r = &self.retries;
        let fields = [
            ("records", self.records),
            ("pages", self.pages),
            ("requests", self.requests),
        ];
        let retries = [
            ("throttled", r.throttled),
            ("server_error", r.server_error),
            ("timeout", r.timeout),
            ("transport", r.transport),
            ("bad_body", r.bad_body),
        ];
        out.push('{');
        json::nums(out, &fields);
        json::key(out, "retries");
        out.push('{');
        json::nums(out, &retries);
        out.push('}');
        json::key(out, "throttled_ms");
        json::num(out, self.throttled_ms);
        json::key(out, "dropped");
        json::num(out, self.dropped);
        out.push('}');
    }

    fn read(v: &json::Value<'_>) -> json::Result<Self> {
        let o = json::Obj::new(v, "struct Done")?;
        let r = json::Obj::new(o.get("retries")?, "struct RetryCounts")?;
        Ok(Done {
            records: o.u64("records")?,
            pages: o.u64("pages")?,
            requests: o.u64("requests")?,
            retries: RetryCounts {
                throttled: r.u64("throttled")?,
                server_error: r.u64("server_error")?,
                timeout: r.u64("timeout")?,
                transport: r.u64("transport")?,
                bad_body: r.u64("bad_body")?,
            },
            throttled_ms: o.u64("throttled_ms")?,
            dropped: o
                .opt("dropped")?
                .map_or(Ok(0), |v| json::u64_of(v, "dropped"))?,
        })
    }
}

impl Watermark {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"field\":");
        json::str(out, &self.field);
        json::key(out, "value");
        json::str(out, &self.value);
        json::key(out, "ids");
        json::strs(out, &self.ids);
        out.push('}');
    }

    fn read_json(v: &json::Value<'_>) -> json::Result<Self> {
        let o = json::Obj::new(v, "struct Watermark")?;
        Ok(Watermark {
            field: o.string("field")?,
            value: o.string("value")?,
            ids: o.strings("ids")?,
        })
    }
}

/// A small JSON reader and writer, enough for checkpoints.
pub(crate) mod json {
    /// A message that says what is wrong (and, from the parser, where).
    pub(crate) type Result<T> = std::result::Result<T, String>;

    /// A parsed JSON value; numbers stay text.
    pub(crate) enum Value<'a> {
        Null,
        Bool(bool),
        Num(&'a str),
        Str(String),
        Arr(Vec<Value<'a>>),
        Obj(Vec<(String, Value<'a>)>),
    }

    /// Nesting deeper than this is refused (serde_json's limit is 128).
    const MAX_DEPTH: u32 = 128;

    /// Parses `text`: one JSON value, with nothing but white space after it.
    pub(crate) fn parse(text: &str) -> Result<Value<'_>> {
        let mut p = Parser {
            text,
            i: 0,
            depth: 0,
        };
        let v = p.value();
        let v = v.and_then(|v| {
            p.ws();
            if p.i < text.len() {
                Err("trailing characters".to_string())
            } else {
                Ok(v)
            }
        });
        v.map_err(|e| {
            let before = &text[..p.i.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
            format!("{e} at line {line} column {column}")
        })
    }

    struct Parser<'a> {
        text: &'a str,
        i: usize,
        depth: u32,
    }

    impl<'a> Parser<'a> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.i).copied()
        }

        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
                self.i += 1;
            }
        }

        fn eat(&mut self, b: u8) -> bool {
            self.ws();
            let yes = self.peek() == Some(b);
            if yes {
                self.i += 1;
            }
            yes
        }

        fn lit(&mut self, word: &str) -> Result<()> {
            if self.text[self.i..].starts_with(word) {
                self.i += word.len();
                Ok(())
            } else {
                Err("expected value".to_string())
            }
        }

        fn value(&mut self) -> Result<Value<'a>> {
            self.ws();
            match self.peek() {
                None => Err("EOF while parsing a value".to_string()),
                Some(b'n') => self.lit("null").map(|()| Value::Null),
                Some(b't') => self.lit("true").map(|()| Value::Bool(true)),
                Some(b'f') => self.lit("false").map(|()| Value::Bool(false)),
                Some(b'"') => self.string().map(Value::Str),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(open @ (b'[' | b'{')) => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err("recursion limit exceeded".to_string());
                    }
                    self.i += 1;
                    let close = if open == b'[' { b']' } else { b'}' };
                    let mut items = Vec::new();
                    let mut members = Vec::new();
                    if !self.eat(close) {
                        loop {
                            if open == b'[' {
                                items.push(self.value()?);
                            } else {
                                self.ws();
                                if self.peek() != Some(b'"') {
                                    return Err("key must be a string".to_string());
                                }
                                let k = self.string()?;
                                if !self.eat(b':') {
                                    return Err("expected `:`".to_string());
                                }
                                members.push((k, self.value()?));
                            }
                            if self.eat(close) {
                                break;
                            }
                            if !self.eat(b',') {
                                return Err(if open == b'[' {
                                    "expected `,` or `]`"
                                } else {
                                    "expected `,` or `}`"
                                }
                                .to_string());
                            }
                        }
                    }
                    self.depth -= 1;
                    Ok(if open == b'[' {
                        Value::Arr(items)
                    } else {
                        Value::Obj(members)
                    })
                }
                Some(_) => Err("expected value".to_string()),
            }
        }

        fn digits(&mut self) -> usize {
            let from = self.i;
            while let Some(b'0'..=b'9') = self.peek() {
                self.i += 1;
            }
            self.i - from
        }

        fn number(&mut self) -> Result<Value<'a>> {
            let from = self.i;
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            let lead = self.peek();
            let n = self.digits();
            if n == 0 {
                return Err("invalid number".to_string());
            }
            if lead == Some(b'0') && n > 1 {
                return Err("invalid number".to_string());
            }
            if self.peek() == Some(b'.') {
                self.i += 1;
                if self.digits() == 0 {
                    return Err("invalid number".to_string());
                }
            }
            if let Some(b'e' | b'E') = self.peek() {
                self.i += 1;
                if let Some(b'+' | b'-') = self.peek() {
                    self.i += 1;
                }
                if self.digits() == 0 {
                    return Err("invalid number".to_string());
                }
            }
            Ok(Value::Num(&self.text[from..self.i]))
        }

        /// A string; `self.i` is at its opening quote. Its escapes are
        /// read by the scanner's `unescape`.
        fn string(&mut self) -> Result<String> {
            self.i += 1;
            let from = self.i;
            loop {
                match self.peek() {
                    None => return Err("EOF while parsing a string".to_string()),
                    Some(b'"') => break,
                    // The escaped character is checked by `unescape`.
                    Some(b'\\') => self.i += 2,
                    Some(b) if b < 0x20 => {
                        return Err(
                            "control character (\\u0000-\\u001F) found while parsing a string"
                                .into(),
                        )
                    }
                    Some(_) => self.i += 1,
                }
            }
            let raw = &self.text.as_bytes()[from..self.i];
            self.i += 1;
            crate::core::page::unescape(raw).map_err(str::to_string)
        }
    }

    /// The members of a JSON object, read field by field.
    pub(crate) struct Obj<'v, 'a>(&'v [(String, Value<'a>)]);

    impl<'v, 'a> Obj<'v, 'a> {
        /// `v` as an object; `what` names the expected type in the error.
        pub(crate) fn new(v: &'v Value<'a>, what: &str) -> Result<Self> {
            match v {
                Value::Obj(m) => Ok(Obj(m)),
                _ => Err(format!("invalid type: {}, expected {what}", kind(v))),
            }
        }

        fn find(&self, name: &str) -> Result<Option<&'v Value<'a>>> {
            let mut found = None;
            for (k, v) in self.0 {
                if k == name {
                    if found.is_some() {
                        return Err(format!("duplicate field `{name}`"));
                    }
                    found = Some(v);
                }
            }
            Ok(found)
        }

        /// The member `name`, `None` when absent or null.
        pub(crate) fn opt(&self, name: &str) -> Result<Option<&'v Value<'a>>> {
            Ok(self.find(name)?.filter(|v| !matches!(v, Value::Null)))
        }

        /// The member `name`, which must be there.
        pub(crate) fn get(&self, name: &str) -> Result<&'v Value<'a>> {
            self.find(name)?
                .ok_or_else(|| format!("missing field `{name}`"))
        }

        pub(crate) fn u64(&self, name: &str) -> Result<u64> {
            u64_of(self.get(name)?, name)
        }

        pub(crate) fn u32(&self, name: &str) -> Result<u32> {
            u32::try_from(self.u64(name)?)
                .map_err(|_| format!("invalid value for `{name}`: expected u32"))
        }

        pub(crate) fn bool(&self, name: &str) -> Result<bool> {
            match self.get(name)? {
                Value::Bool(b) => Ok(*b),
                v => Err(format!(
                    "invalid type for `{name}`: {}, expected a boolean",
                    kind(v)
                )),
            }
        }

        pub(crate) fn string(&self, name: &str) -> Result<String> {
            string_of(self.get(name)?, name)
        }

        pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>> {
            self.opt(name)?.map(|v| string_of(v, name)).transpose()
        }

        pub(crate) fn array(&self, name: &str) -> Result<&'v [Value<'a>]> {
            match self.get(name)? {
                Value::Arr(items) => Ok(items),
                v => Err(format!(
                    "invalid type for `{name}`: {}, expected a sequence",
                    kind(v)
                )),
            }
        }

        pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>> {
            self.array(name)?
                .iter()
                .map(|v| string_of(v, name))
                .collect()
        }
    }

    fn kind(v: &Value<'_>) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Num(_) => "number",
            Value::Str(_) => "string",
            Value::Arr(_) => "sequence",
            Value::Obj(_) => "map",
        }
    }

    /// A whole number from 0 to `u64::MAX` (as serde reads a `u64`).
    pub(crate) fn u64_of(v: &Value<'_>, name: &str) -> Result<u64> {
        match v {
            Value::Num(t) if t.bytes().all(|b| b.is_ascii_digit()) => t
                .parse()
                .map_err(|_| format!("invalid value for `{name}`: {t} is out of range")),
            _ => Err(format!(
                "invalid type for `{name}`: {}, expected an unsigned integer",
                kind(v)
            )),
        }
    }

    fn string_of(v: &Value<'_>, name: &str) -> Result<String> {
        match v {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(format!(
                "invalid type for `{name}`: {}, expected a string",
                kind(v)
            )),
        }
    }

    /// `,"name":`
    pub(crate) fn key(out: &mut String, name: &str) {
        out.push(',');
        str(out, name);
        out.push(':');
    }

    pub(crate) fn num(out: &mut String, n: u64) {
        out.push_str(&n.to_string());
    }

    /// `"a":1,"b":2`
    pub(crate) fn nums(out: &mut String, fields: &[(&str, u64)]) {
        for (i, (name, n)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            str(out, name);
            out.push(':');
            num(out, *n);
        }
    }

    /// `s` as a JSON string, escaped as serde_json does.
    pub(crate) fn str(out: &mut String, s: &str) {
        out.push('"');
        let mut from = 0;
        for (i, b) in s.bytes().enumerate() {
            let esc = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            out.push_str(&s[from..i]);
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            } else {
                out.push_str(esc);
            }
            from = i + 1;
        }
        out.push_str(&s[from..]);
        out.push('"');
    }

    pub(crate) fn opt_str(out: &mut String, s: Option<&str>) {
        match s {
            Some(s) => str(out, s),
            None => out.push_str("null"),
        }
    }

    pub(crate) fn strs(out: &mut String, items: &[String]) {
        out.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            str(out, s);
        }
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::many::ManyCheckpoint;

    fn sample(pending: Vec<PageRef>, watermarks: bool) -> Checkpoint {
        let w = |v: &str| Watermark {
            field: "updated_at".into(),
            value: v.into(),
            ids: vec!["a\"b".into(), "c\\d\u{1}\u{7f}é😀".into()],
        };
        Checkpoint {
            version: 1,
            collection: "https://api.example/v1/items?q=a%20b&x=\"y\"\n\t\r\u{8}\u{c}/".into(),
            dialect: "offset".into(),
            pending: pending
                .into_iter()
                .enumerate()
                .map(|(i, page)| PendingPage {
                    seq: i as u64 * 7,
                    sub: i as u32 % 2,
                    page,
                    skip: i as u64 % 3,
                })
                .collect(),
            learnt: Learnt {
                total: watermarks.then_some(Checkpoint::MAX_NUMBER),
                effective_size: 100,
                fanned_out: watermarks,
                planned_end: 1_000,
                largest_page: 100,
                next_seq: 50,
                seen: vec!["s1".into(), "ü\u{0}".into()],
                stopped: watermarks,
            },
            done: Done {
                records: 1,
                pages: 2,
                requests: 3,
                retries: RetryCounts {
                    throttled: 4,
                    server_error: 5,
                    timeout: 6,
                    transport: 7,
                    bad_body: 8,
                },
                throttled_ms: 9,
                dropped: 10,
            },
            since: watermarks.then(|| w("2024-01-01")),
            reached: watermarks.then(|| w("2024-02-01")),
        }
    }

    fn all_pages() -> Vec<PageRef> {
        vec![
            PageRef::Offset {
                offset: 0,
                limit: 10,
            },
            PageRef::Page { number: 3 },
            PageRef::Cursor { cursor: None },
            PageRef::Cursor {
                cursor: Some("c=\"1\"".into()),
            },
            PageRef::Url {
                url: "https://h/p?a=1&b=%2F".into(),
            },
            PageRef::Keyset { after: None },
            PageRef::Keyset {
                after: Some("k\u{1f}".into()),
            },
        ]
    }

    #[test]
    fn the_hand_written_json_is_the_serde_json() {
        for c in [
            sample(all_pages(), true),
            sample(all_pages(), false),
            sample(vec![], false),
        ] {
            let ours = c.to_json();
            assert_eq!(ours, serde_json::to_string(&c).unwrap());
            assert_eq!(Checkpoint::from_json(&ours).unwrap(), c);
            // Pretty-printed, reordered or with unknown members: still read.
            let pretty = serde_json::to_string_pretty(&c).unwrap();
            assert_eq!(Checkpoint::from_json(&pretty).unwrap(), c);
            let mut v: serde_json::Value = serde_json::from_str(&ours).unwrap();
            v["extra"] = serde_json::json!({"x": [1.5e3, -2, null, true, "\u{2028}"]});
            assert_eq!(Checkpoint::from_json(&v.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn optional_members_may_be_absent_or_null() {
        let c = sample(vec![PageRef::Cursor { cursor: None }], false);
        let mut v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        v["pending"][0]["page"]
            .as_object_mut()
            .unwrap()
            .remove("cursor");
        v["done"].as_object_mut().unwrap().remove("dropped");
        v["learnt"].as_object_mut().unwrap().remove("total");
        v["since"] = serde_json::Value::Null;
        let back = Checkpoint::from_json(&v.to_string()).unwrap();
        assert_eq!(back.done.dropped, 0);
        assert_eq!(back, serde_json::from_value::<Checkpoint>(v).unwrap());
    }

    #[test]
    fn escapes_in_input_are_decoded() {
        let mut c = sample(vec![], false);
        c.collection = "a/b\"😀\u{1}".into();
        let json = c
            .to_json()
            .replace("a/b", "a\\/b")
            .replace("😀", "\\ud83d\\ude00");
        assert_eq!(Checkpoint::from_json(&json).unwrap(), c);
    }

    #[test]
    fn bad_checkpoints_are_config_errors_that_say_what() {
        let good = sample(all_pages(), true).to_json();
        let cases = [
            ("", "EOF"),
            ("{\"nope\":1}", "missing field `version`"),
            ("[]", "invalid type"),
            (&good[..good.len() - 1], "at line 1"),
            ("{} x", "trailing characters"),
            ("{\"version\":\"1\"}", "`version`"),
            ("{\"version\":1.0}", "`version`"),
            ("{\"version\":-1}", "`version`"),
            ("{\"version\":4294967296}", "`version`"),
            ("{\"version\":1,\"version\":1}", "duplicate field"),
            ("{\"a\":\"\\ud800\"}", "surrogate"),
            ("{\"a\":\"\\x\"}", "escape"),
            ("{\"a\":01}", "number"),
            ("{\"a\":\"\n\"}", "control character"),
            ("{\"a\" 1}", "`:`"),
            ("[1 2]", "`,` or `]`"),
        ];
        for (json, says) in cases {
            let e = Checkpoint::from_json(json).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{json}");
            assert!(e.message().contains(says), "{json}: {}", e.message());
            assert!(e.message().starts_with("not a pagewise checkpoint: "));
            assert!(serde_json::from_str::<Checkpoint>(json).is_err(), "{json}");
        }
        let bad_kind = good.replace("\"kind\":\"page\"", "\"kind\":\"pages\"");
        let e = Checkpoint::from_json(&bad_kind).unwrap_err();
        assert!(
            e.message().contains("unknown variant `pages`"),
            "{}",
            e.message()
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Checkpoint::from_json(&deep)
            .unwrap_err()
            .message()
            .contains("recursion"));
        let v2 = good.replacen("\"version\":1", "\"version\":2", 1);
        assert!(Checkpoint::from_json(&v2)
            .unwrap_err()
            .message()
            .contains("version 2"));
    }

    #[test]
    fn numbers_no_sweep_could_have_saved_are_config_errors() {
        let good = sample(all_pages(), true);
        assert!(Checkpoint::from_json(&good.to_json()).is_ok());
        let max = Checkpoint::MAX_NUMBER;
        type Spoil = fn(&mut Checkpoint);
        let cases: [(&str, Spoil); 12] = [
            ("`records`", |c| c.done.records = u64::MAX),
            ("`dropped`", |c| c.done.dropped = Checkpoint::MAX_NUMBER + 1),
            ("`throttled_ms`", |c| c.done.throttled_ms = u64::MAX),
            ("`bad_body`", |c| c.done.retries.bad_body = u64::MAX),
            ("`total`", |c| c.learnt.total = Some(u64::MAX)),
            ("`next_seq`", |c| c.learnt.next_seq = u64::MAX),
            ("`effective_size`", |c| c.learnt.effective_size = 0),
            ("`seq`", |c| c.pending[0].seq = c.learnt.next_seq),
            ("`sub`", |c| c.pending[0].sub = u32::MAX),
            ("limit 0", |c| {
                c.pending[0].page = PageRef::Offset {
                    offset: 0,
                    limit: 0,
                }
            }),
            ("limit 10 with 10 records left out", |c| {
                c.pending[0].skip = 10
            }),
            ("`skip`: 4294967296 is more than 4294967295", |c| {
                c.pending[0].page = PageRef::Cursor { cursor: None };
                c.pending[0].skip = u64::from(u32::MAX) + 1
            }),
        ];
        for (says, spoil) in cases {
            let mut c = good.clone();
            spoil(&mut c);
            let e = Checkpoint::from_json(&c.to_json()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{says}");
            assert!(e.message().contains(says), "{says}: {}", e.message());
        }
        let mut c = good.clone();
        c.done.records = max;
        c.learnt.total = Some(max);
        assert!(
            Checkpoint::from_json(&c.to_json()).is_ok(),
            "the limit itself"
        );
        let json = good.to_json().replace("\"stopped\":true", "\"stopped\":1");
        let e = Checkpoint::from_json(&json).unwrap_err();
        assert!(e.message().contains("`stopped`"), "{}", e.message());
    }

    #[test]
    fn job_checkpoints_match_serde_too() {
        for json in [
            r#"{"version":1,"items":5,"done":[]}"#,
            r#"{"version":1,"items":50000,"done":[[0,3],[7,50000]]}"#,
        ] {
            let c: ManyCheckpoint = serde_json::from_str(json).unwrap();
            assert_eq!(c.to_json(), json);
            assert_eq!(ManyCheckpoint::from_json(json).unwrap(), c);
        }
        for bad in [
            r#"{"version":1,"items":5,"done":[[1]]}"#,
            r#"{"version":1,"items":5,"done":[[1,2,3]]}"#,
            r#"{"version":1,"items":-5,"done":[]}"#,
            r#"{"version":1,"done":[]}"#,
            "nope",
        ] {
            let e = ManyCheckpoint::from_json(bad).unwrap_err();
            assert!(
                e.message().starts_with("not a pagewise job checkpoint: "),
                "{}",
                e.message()
            );
            assert!(
                serde_json::from_str::<ManyCheckpoint>(bad).is_err(),
                "{bad}"
            );
        }
        // Well-formed JSON no job could have saved: a count over it would
        // underflow (b < a) or overflow, or the version is unknown.
        for (bad, says) in [
            (
                r#"{"version":1,"items":9,"done":[[5,2]]}"#,
                "done range [5, 2)",
            ),
            (
                r#"{"version":1,"items":9,"done":[[0,0]]}"#,
                "done range [0, 0)",
            ),
            (
                r#"{"version":1,"items":9,"done":[[0,10]]}"#,
                "within 9 items",
            ),
            (
                r#"{"version":1,"items":9,"done":[[4,6],[5,7]]}"#,
                "done range [5, 7)",
            ),
            (
                r#"{"version":1,"items":18446744073709551615,"done":[[0,18446744073709551615],[0,1]]}"#,
                "done range [0, 1)",
            ),
            (r#"{"version":2,"items":9,"done":[]}"#, "version 2"),
        ] {
            let e = ManyCheckpoint::from_json(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains(says), "{bad}: {}", e.message());
        }
    }
}
