//! Salesforce REST: `/services/data/vNN.N/` `query`, `queryAll` (a SOQL
//! subset), `sobjects/{Obj}[/{id}]` and the composite sObject collections.
//! Every object name serves the one collection.

use std::collections::{HashSet, VecDeque};

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::{
    base62, format_salesforce, no_content, parse_instant, reply, select, set_header, unbase62,
    wants_rejection, window, writable, Cond, Op, Rec, Req, Scalar, Sort, Target, Test, JSON_UTF8,
};
use crate::server::Resp;
use crate::store::Store;

/// Most records one sObject collection request may carry.
const MAX_COLLECTION: usize = 200;
/// Open query cursors kept; the oldest is forgotten beyond this.
const MAX_CURSORS: usize = 256;
/// Fields the server sets; a write ignores them.
const SYSTEM_FIELDS: &[&str] = &[
    "attributes",
    "Id",
    "SystemModstamp",
    "LastModifiedDate",
    "CreatedDate",
    "id",
    "updated_at",
];

/// Open query cursors and the API usage counter.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    open: VecDeque<(String, Cursor)>,
    next: u64,
    api_usage: u64,
}

/// A query's result, fixed when the query ran (as Salesforce's cursors are).
#[derive(Debug, Clone)]
struct Cursor {
    object: String,
    fields: Vec<String>,
    ids: Vec<u64>,
    batch: u64,
}

/// The 3-character key prefix of an object's ids.
fn key_prefix(object: &str) -> &'static str {
    match object.to_ascii_lowercase().as_str() {
        "account" => "001",
        "contact" => "003",
        "user" => "005",
        "opportunity" => "006",
        "lead" => "00Q",
        "case" => "500",
        _ => "a00",
    }
}

/// An 18-character id: `prefix` + 12 base-62 digits + the case-safe suffix.
pub(crate) fn sf_id_with(prefix: &str, n: u64) -> String {
    let fifteen = format!("{prefix}{}", base62(n, 12));
    let suffix = case_suffix(&fifteen);
    fifteen + &suffix
}

/// The 3 characters that make a 15-character id case-insensitively unique.
fn case_suffix(fifteen: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut suffix = String::new();
    for chunk in fifteen.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        suffix.push(alphabet[bits] as char);
    }
    suffix
}

fn sf_id(object: &str, id: u64) -> String {
    sf_id_with(key_prefix(object), id)
}

/// The record id of a 15- or 18-character id made by this server.
pub(crate) fn parse_sf_id(text: &str) -> Option<u64> {
    if !(text.len() == 15 || text.len() == 18) || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let n = unbase62(&text[3..15])?;
    (text.len() == 15 || sf_id_with(&text[..3], n) == text).then_some(n)
}

fn error(status: StatusCode, code: &str, message: &str) -> Resp {
    reply(
        status,
        JSON_UTF8,
        &json!([{"message": message, "errorCode": code}]),
    )
}

fn item_error(code: &str, message: &str, fields: &[&str]) -> Value {
    json!({"statusCode": code, "message": message, "fields": fields})
}

fn target(field: &str) -> Target {
    match field.to_ascii_lowercase().as_str() {
        "id" => Target::Id,
        "systemmodstamp" | "lastmodifieddate" => Target::Stamp,
        "createddate" => Target::Created,
        _ => Target::Field(field.to_owned()),
    }
}

/// The record as Salesforce shows it: `attributes`, then the asked fields
/// (all when `fields` is empty: `Id`, dates, stored fields).
fn render(version: &str, object: &str, rec: &Rec, fields: &[String]) -> Value {
    let id = sf_id(object, rec.id);
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object, "url": format!("/services/data/{version}/sobjects/{object}/{id}")}),
    );
    let system = |name: &str| -> Option<(&'static str, Value)> {
        Some(match name.to_ascii_lowercase().as_str() {
            "id" => ("Id", Value::from(id.clone())),
            "createddate" => ("CreatedDate", Value::from(format_salesforce(rec.created()))),
            "lastmodifieddate" => (
                "LastModifiedDate",
                Value::from(format_salesforce(rec.stamp)),
            ),
            "systemmodstamp" => ("SystemModstamp", Value::from(format_salesforce(rec.stamp))),
            _ => return None,
        })
    };
    if fields.is_empty() {
        for name in ["Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            if let Some((key, value)) = system(name) {
                out.insert(key.into(), value);
            }
        }
        for (key, value) in &rec.fields {
            out.insert(key.clone(), value.clone());
        }
    } else {
        for name in fields {
            if let Some((key, value)) = system(name) {
                out.insert(key.into(), value);
            } else {
                let (key, value) = rec
                    .fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map_or((name.clone(), Value::Null), |(k, v)| (k.clone(), v.clone()));
                out.insert(key, value);
            }
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// SOQL

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
    Comma,
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => {
                            if let Some(&next) = chars.get(i + 1) {
                                s.push(next);
                            }
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            s.push(other);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '<' | '>' | '!' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "<=" => "<=",
                    ">=" => ">=",
                    "!=" => "!=",
                    "<>" => "!=",
                    _ => match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        _ => return Err("unexpected token: '!'".into()),
                    },
                };
                i += op.len().max(if two == "<>" { 2 } else { 0 });
                out.push(Tok::Op(op));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !",()'=<>!".contains(chars[i])
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

/// A parsed query: object, fields, conditions, order and limit.
#[derive(Debug)]
struct Soql {
    object: String,
    fields: Vec<String>,
    conds: Vec<Cond>,
    sorts: Vec<Sort>,
    limit: Option<u64>,
    offset: u64,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), String> {
        if self.keyword(word) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn unexpected(&self) -> String {
        match self.peek() {
            Some(Tok::Word(w)) => format!("unexpected token: '{w}'"),
            Some(Tok::Str(s)) => format!("unexpected token: ''{s}''"),
            Some(Tok::Op(op)) => format!("unexpected token: '{op}'"),
            Some(Tok::Comma) => "unexpected token: ','".into(),
            Some(Tok::Open) => "unexpected token: '('".into(),
            Some(Tok::Close) => "unexpected token: ')'".into(),
            None => "unexpected end of query".into(),
        }
    }

    fn word(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn number(&mut self) -> Result<u64, String> {
        let raw = self.word()?;
        raw.parse()
            .map_err(|_| format!("unexpected token: '{raw}'"))
    }

    fn literal(&mut self, target: &Target) -> Result<Scalar, String> {
        let tok = self.next().ok_or("unexpected end of query")?;
        let dated = matches!(target, Target::Stamp | Target::Created);
        match tok {
            Tok::Str(s) if !dated => Ok(Scalar::Text(s)),
            Tok::Word(w) if dated => parse_instant(&w, false)
                .map(|secs| Scalar::Num(secs as f64))
                .ok_or_else(|| {
                    format!("value of filter criterion for field is not a valid datetime: {w}")
                }),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Ok(Scalar::Null),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                Ok(Scalar::Text(w.to_ascii_lowercase()))
            }
            Tok::Word(w) if w.parse::<f64>().is_ok() && !matches!(target, Target::Id) => {
                Ok(Scalar::Num(w.parse().unwrap_or(0.0)))
            }
            Tok::Str(s) => Err(format!(
                "value of filter criterion is not a valid datetime: '{s}'"
            )),
            Tok::Word(w) => Err(format!("unexpected token: '{w}'")),
            _ => Err("unexpected token in filter value".into()),
        }
    }

    fn id_literal(&mut self, target: &Target) -> Result<Scalar, String> {
        if *target != Target::Id {
            return self.literal(target);
        }
        match self.next() {
            Some(Tok::Str(s)) => Ok(Scalar::Num(parse_sf_id(&s).map_or(-1.0, |n| n as f64))),
            _ => Err("invalid ID field value".into()),
        }
    }
}

fn parse_soql(text: &str) -> Result<Soql, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    p.expect_keyword("SELECT")?;
    let mut fields = vec![p.word()?];
    while p.peek() == Some(&Tok::Comma) {
        p.pos += 1;
        fields.push(p.word()?);
    }
    if fields.iter().any(|f| f.eq_ignore_ascii_case("FROM")) {
        return Err("unexpected token: 'FROM'".into());
    }
    p.expect_keyword("FROM")?;
    let object = p.word()?;
    let mut conds = Vec::new();
    if p.keyword("WHERE") {
        p.pos += 1;
        loop {
            let field = p.word()?;
            let target = target(&field);
            if p.keyword("IN") {
                p.pos += 1;
                if p.next() != Some(Tok::Open) {
                    return Err("expecting '(' after IN".into());
                }
                let mut values = vec![p.id_literal(&target)?];
                while p.peek() == Some(&Tok::Comma) {
                    p.pos += 1;
                    values.push(p.id_literal(&target)?);
                }
                if p.next() != Some(Tok::Close) {
                    return Err("expecting ')'".into());
                }
                conds.push(Cond {
                    target,
                    test: Test::In(values),
                });
            } else {
                let op = match p.next() {
                    Some(Tok::Op(op)) => match op {
                        "=" => Op::Eq,
                        "!=" => Op::Ne,
                        "<" => Op::Lt,
                        "<=" => Op::Lte,
                        ">" => Op::Gt,
                        _ => Op::Gte,
                    },
                    _ => {
                        p.pos -= 1;
                        return Err(p.unexpected());
                    }
                };
                let value = p.id_literal(&target)?;
                conds.push(Cond::cmp(target, op, value));
            }
            if p.keyword("AND") {
                p.pos += 1;
                continue;
            }
            if p.keyword("OR") {
                return Err("unexpected token: 'OR' (this server knows AND only)".into());
            }
            break;
        }
    }
    let mut sorts = Vec::new();
    if p.keyword("ORDER") {
        p.pos += 1;
        p.expect_keyword("BY")?;
        loop {
            let field = p.word()?;
            let mut desc = false;
            if p.keyword("ASC") {
                p.pos += 1;
            } else if p.keyword("DESC") {
                p.pos += 1;
                desc = true;
            }
            if p.keyword("NULLS") {
                p.pos += 1;
                if !(p.keyword("FIRST") || p.keyword("LAST")) {
                    return Err(p.unexpected());
                }
                p.pos += 1;
            }
            sorts.push(Sort {
                target: target(&field),
                desc,
            });
            if p.peek() == Some(&Tok::Comma) {
                p.pos += 1;
                continue;
            }
            break;
        }
    }
    let mut limit = None;
    if p.keyword("LIMIT") {
        p.pos += 1;
        limit = Some(p.number()?);
    }
    let mut offset = 0;
    if p.keyword("OFFSET") {
        p.pos += 1;
        offset = p.number()?;
    }
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    Ok(Soql {
        object,
        fields,
        conds,
        sorts,
        limit,
        offset,
    })
}

// ---------------------------------------------------------------------------
// Routing

pub(crate) fn handle(req: &Req<'_>, version: &str, rest: &[&str]) -> Resp {
    let usage = {
        let mut state = req.shared.families.lock();
        state.salesforce.api_usage += 1;
        state.salesforce.api_usage
    };
    let mut resp = dispatch(req, version, rest);
    set_header(
        &mut resp,
        "sforce-limit-info",
        format!("api-usage={usage}/{}", req.config().salesforce_api_limit),
    );
    resp
}

fn dispatch(req: &Req<'_>, version: &str, rest: &[&str]) -> Resp {
    if let Some(token) = &req.config().token {
        if req.bearer() != Some(token.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            );
        }
    }
    let method = &req.parts.method;
    match rest {
        [kind @ ("query" | "queryAll")] if req.is_read() => query(req, version, kind),
        [kind @ ("query" | "queryAll"), locator] if req.is_read() => {
            more(req, version, kind, locator)
        }
        ["sobjects", object] if *method == Method::POST => create_one(req, object),
        ["sobjects", object, id] if req.is_read() => get_one(req, version, object, id),
        ["sobjects", _, id] if *method == Method::PATCH => update_one(req, id),
        ["sobjects", _, id] if *method == Method::DELETE => delete_one(req, id),
        ["composite", "sobjects"] if *method == Method::POST => collection(req, Kind::Create),
        ["composite", "sobjects"] if *method == Method::PATCH => collection(req, Kind::Update),
        ["composite", "sobjects"] if *method == Method::DELETE => delete_collection(req),
        ["composite", "sobjects", object] if req.is_read() => get_collection(req, version, object),
        ["composite", "sobjects", object, field] if *method == Method::PATCH => {
            collection(req, Kind::Upsert { object, field })
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

fn batch_size(req: &Req<'_>) -> u64 {
    let asked = req.header("sforce-query-options").and_then(|value| {
        value.split(',').find_map(|part| {
            let (name, value) = part.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("batchSize"))
                .then(|| value.trim().parse::<u64>().ok())
                .flatten()
        })
    });
    match asked {
        Some(n) => n.clamp(200, 2000),
        None => req.config().salesforce_batch_size.clamp(1, 2000),
    }
}

fn query(req: &Req<'_>, version: &str, kind: &str) -> Resp {
    let Some(text) = req.query.get("q") else {
        return error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let soql = match parse_soql(text) {
        Ok(soql) => soql,
        Err(message) => return error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", &message),
    };
    let ids = {
        let store = req.shared.read_store();
        let ids = select(&store, &soql.conds, &soql.sorts);
        window(&ids, soql.offset, soql.limit.unwrap_or(u64::MAX)).to_vec()
    };
    let cursor = Cursor {
        object: soql.object,
        fields: soql.fields,
        ids,
        batch: batch_size(req),
    };
    page(req, version, kind, None, cursor, 0)
}

fn more(req: &Req<'_>, version: &str, kind: &str, locator: &str) -> Resp {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((name, start)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(start) = start.parse::<u64>() else {
        return invalid();
    };
    let cursor = {
        let state = req.shared.families.lock();
        state
            .salesforce
            .open
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
    };
    match cursor {
        Some(cursor) if start <= cursor.ids.len() as u64 => {
            page(req, version, kind, Some(name.to_owned()), cursor, start)
        }
        _ => invalid(),
    }
}

/// One batch of `cursor` from `start`; opens the cursor (a new locator)
/// when more follow and it has none yet.
fn page(
    req: &Req<'_>,
    version: &str,
    kind: &str,
    locator: Option<String>,
    cursor: Cursor,
    start: u64,
) -> Resp {
    let total = cursor.ids.len() as u64;
    let end = (start + cursor.batch).min(total);
    let records: Vec<Value> = {
        let store = req.shared.read_store();
        window(&cursor.ids, start, cursor.batch)
            .iter()
            .filter_map(|&id| Rec::load(&store, id))
            .map(|rec| render(version, &cursor.object, &rec, &cursor.fields))
            .collect()
    };
    let done = end >= total;
    let mut body = json!({"totalSize": total, "done": done, "records": records});
    if !done {
        let name = locator.unwrap_or_else(|| {
            let mut state = req.shared.families.lock();
            let cursors = &mut state.salesforce;
            cursors.next += 1;
            let name = sf_id_with("01g", cursors.next);
            if cursors.open.len() >= MAX_CURSORS {
                cursors.open.pop_front();
            }
            cursors.open.push_back((name.clone(), cursor));
            name
        });
        body["nextRecordsUrl"] =
            Value::from(format!("/services/data/{version}/{kind}/{name}-{end}"));
    }
    reply(StatusCode::OK, JSON_UTF8, &body)
}

fn not_found() -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// The comma-separated values of parameter `name` (none when missing).
fn list_param(req: &Req<'_>, name: &str) -> Vec<String> {
    req.query
        .get(name)
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn get_one(req: &Req<'_>, version: &str, object: &str, raw_id: &str) -> Resp {
    let fields = list_param(req, "fields");
    let rec = parse_sf_id(raw_id).and_then(|id| Rec::load(&req.shared.read_store(), id));
    match rec {
        Some(rec) => reply(
            StatusCode::OK,
            JSON_UTF8,
            &render(version, object, &rec, &fields),
        ),
        None => not_found(),
    }
}

fn body_object(req: &Req<'_>) -> Result<Map<String, Value>, Resp> {
    match req.json_body() {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
        )),
    }
}

fn create_one(req: &Req<'_>, object: &str) -> Resp {
    let fields = match body_object(req) {
        Ok(fields) => fields,
        Err(resp) => return resp,
    };
    if wants_rejection(&fields) {
        return error(
            StatusCode::BAD_REQUEST,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "rejected by a validation rule",
        );
    }
    let (id, _) = req
        .shared
        .write_store()
        .create(&writable(&fields, SYSTEM_FIELDS));
    reply(
        StatusCode::CREATED,
        JSON_UTF8,
        &json!({"id": sf_id(object, id), "success": true, "errors": []}),
    )
}

fn update_one(req: &Req<'_>, raw_id: &str) -> Resp {
    let fields = match body_object(req) {
        Ok(fields) => fields,
        Err(resp) => return resp,
    };
    if wants_rejection(&fields) {
        return error(
            StatusCode::BAD_REQUEST,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "rejected by a validation rule",
        );
    }
    let merged = parse_sf_id(raw_id).and_then(|id| {
        req.shared
            .write_store()
            .merge(id, &writable(&fields, SYSTEM_FIELDS))
    });
    match merged {
        Some(_) => no_content(),
        None => not_found(),
    }
}

fn delete_one(req: &Req<'_>, raw_id: &str) -> Resp {
    match parse_sf_id(raw_id) {
        Some(id) if req.shared.write_store().remove(id) => no_content(),
        _ => not_found(),
    }
}

// ---------------------------------------------------------------------------
// sObject collections

#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    Create,
    Update,
    Upsert { object: &'a str, field: &'a str },
}

/// What one item of a collection will do, decided before anything is
/// written (so `allOrNone` can refuse the whole batch).
enum Plan {
    Create(Map<String, Value>, String),
    Merge(u64, Map<String, Value>, String),
    Delete(u64, String),
    Fail(Value, Option<String>),
}

fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn too_many() -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )
}

fn collection(req: &Req<'_>, kind: Kind<'_>) -> Resp {
    let body = match body_object(req) {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let all_or_none = flag(body.get("allOrNone"));
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "expected a records array",
        );
    };
    if records.len() > MAX_COLLECTION {
        return too_many();
    }
    let mut store = req.shared.write_store();
    let mut seen_keys = HashSet::new();
    let plans: Vec<Plan> = records
        .iter()
        .map(|record| plan_item(&store, kind, record, &mut seen_keys))
        .collect();
    let results = apply(
        &mut store,
        plans,
        all_or_none,
        matches!(kind, Kind::Upsert { .. }),
    );
    drop(store);
    reply(StatusCode::OK, JSON_UTF8, &Value::Array(results))
}

fn plan_item(store: &Store, kind: Kind<'_>, record: &Value, seen: &mut HashSet<String>) -> Plan {
    let Some(fields) = record.as_object() else {
        return Plan::Fail(
            item_error("JSON_PARSER_ERROR", "record is not an object", &[]),
            None,
        );
    };
    let object = fields
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let object = match (kind, object) {
        (Kind::Upsert { object, .. }, _) => object.to_owned(),
        (_, Some(object)) => object,
        (_, None) => {
            return Plan::Fail(
                item_error("INVALID_TYPE", "Must send a concrete entity type.", &[]),
                None,
            )
        }
    };
    let values = writable(fields, SYSTEM_FIELDS);
    let given_id = fields
        .get("Id")
        .or_else(|| fields.get("id"))
        .and_then(Value::as_str);
    if wants_rejection(fields) {
        return Plan::Fail(
            item_error(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "rejected by a validation rule",
                &[],
            ),
            given_id.map(str::to_owned),
        );
    }
    match kind {
        Kind::Create => {
            if given_id.is_some() {
                return Plan::Fail(
                    item_error(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call",
                        &["Id"],
                    ),
                    None,
                );
            }
            Plan::Create(values, object)
        }
        Kind::Update => {
            let Some(raw) = given_id else {
                return Plan::Fail(
                    item_error(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        &[],
                    ),
                    None,
                );
            };
            match parse_sf_id(raw) {
                Some(id) if store.contains(id) && seen.insert(raw.to_owned()) => {
                    Plan::Merge(id, values, raw.to_owned())
                }
                Some(id) if store.contains(id) => Plan::Fail(
                    item_error("DUPLICATE_VALUE", "duplicate id in the list", &[]),
                    Some(raw.to_owned()),
                ),
                Some(_) => Plan::Fail(
                    item_error("ENTITY_IS_DELETED", "entity is deleted", &[]),
                    Some(raw.to_owned()),
                ),
                None => Plan::Fail(
                    item_error("MALFORMED_ID", &format!("malformed id {raw}"), &["Id"]),
                    Some(raw.to_owned()),
                ),
            }
        }
        Kind::Upsert { field, .. } => {
            let Some(key) = super::field(fields, field).filter(|v| !v.is_null()) else {
                return Plan::Fail(
                    item_error(
                        "MISSING_ARGUMENT",
                        &format!("{field} not specified"),
                        &[field],
                    ),
                    None,
                );
            };
            if !seen.insert(key.to_string()) {
                return Plan::Fail(
                    item_error(
                        "DUPLICATE_EXTERNAL_ID",
                        &format!("Duplicate external id specified: {key}"),
                        &[field],
                    ),
                    None,
                );
            }
            let wanted = Scalar::of(Some(key));
            let found = select(
                store,
                &[Cond::cmp(Target::Field(field.to_owned()), Op::Eq, wanted)],
                &[],
            );
            match found.as_slice() {
                [] => Plan::Create(values, object),
                [id] => Plan::Merge(*id, values, sf_id(&object, *id)),
                _ => Plan::Fail(
                    item_error(
                        "DUPLICATE_EXTERNAL_ID",
                        &format!("{field}: more than one record found for external id field"),
                        &[field],
                    ),
                    None,
                ),
            }
        }
    }
}

/// Applies the plans (none when `all_or_none` and one fails) and returns
/// the per-item results.
fn apply(store: &mut Store, plans: Vec<Plan>, all_or_none: bool, upsert: bool) -> Vec<Value> {
    let failed = plans.iter().any(|p| matches!(p, Plan::Fail(..)));
    let rolled_back = || {
        item_error(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
            &[],
        )
    };
    plans
        .into_iter()
        .map(|plan| {
            let (id, created, errors) = match plan {
                Plan::Fail(error, id) => (id, false, vec![error]),
                Plan::Create(_, _) | Plan::Merge(..) | Plan::Delete(..)
                    if all_or_none && failed =>
                {
                    (None, false, vec![rolled_back()])
                }
                Plan::Create(values, object) => {
                    let (id, _) = store.create(&values);
                    (Some(sf_id(&object, id)), true, vec![])
                }
                Plan::Merge(id, values, raw) => {
                    store.merge(id, &values);
                    (Some(raw), false, vec![])
                }
                Plan::Delete(id, raw) => {
                    store.remove(id);
                    (Some(raw), false, vec![])
                }
            };
            let mut out = json!({"id": id, "success": errors.is_empty(), "errors": errors});
            if upsert {
                out["created"] = Value::from(created);
            }
            out
        })
        .collect()
}

fn delete_collection(req: &Req<'_>) -> Resp {
    let ids = list_param(req, "ids");
    if ids.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "ids parameter is required",
        );
    }
    if ids.len() > MAX_COLLECTION {
        return too_many();
    }
    let all_or_none = req
        .query
        .get("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut store = req.shared.write_store();
    let mut seen = HashSet::new();
    let plans: Vec<Plan> = ids
        .into_iter()
        .map(|raw| match parse_sf_id(&raw) {
            Some(id) if store.contains(id) && seen.insert(id) => Plan::Delete(id, raw),
            Some(_) => Plan::Fail(
                item_error("ENTITY_IS_DELETED", "entity is deleted", &[]),
                Some(raw),
            ),
            None => Plan::Fail(
                item_error("MALFORMED_ID", &format!("malformed id {raw}"), &[]),
                Some(raw),
            ),
        })
        .collect();
    let results = apply(&mut store, plans, all_or_none, false);
    drop(store);
    reply(StatusCode::OK, JSON_UTF8, &Value::Array(results))
}

fn get_collection(req: &Req<'_>, version: &str, object: &str) -> Resp {
    let ids = list_param(req, "ids");
    let fields = list_param(req, "fields");
    if ids.is_empty() || fields.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "ids and fields parameters are required",
        );
    }
    if ids.len() > 2000 {
        return too_many();
    }
    let store = req.shared.read_store();
    let records: Vec<Value> = ids
        .iter()
        .map(|raw| {
            parse_sf_id(raw)
                .and_then(|id| Rec::load(&store, id))
                .map_or(Value::Null, |rec| render(version, object, &rec, &fields))
        })
        .collect();
    drop(store);
    reply(StatusCode::OK, JSON_UTF8, &Value::Array(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_the_suffix() {
        for n in [1, 42, 1050, 1 << 40] {
            let id = sf_id("Account", n);
            assert_eq!(id.len(), 18);
            assert!(id.starts_with("001"));
            assert_eq!(parse_sf_id(&id), Some(n));
            assert_eq!(parse_sf_id(&id[..15]), Some(n));
        }
        // The documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(case_suffix("001A0000006Vm9r"), "IAC");
        assert_eq!(parse_sf_id("001A0000006Vm9rXXX"), None);
    }

    #[test]
    fn soql_subset() {
        let q = parse_soql(
            "SELECT Id, Name, SystemModstamp FROM Account WHERE SystemModstamp >= 2026-03-01T00:00:00Z AND category IN ('books','toys') ORDER BY SystemModstamp DESC LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.object, "Account");
        assert_eq!(q.fields, ["Id", "Name", "SystemModstamp"]);
        assert_eq!(
            q.conds[0],
            Cond::cmp(Target::Stamp, Op::Gte, Scalar::Num(1_772_323_200.0))
        );
        assert_eq!(
            q.sorts,
            vec![Sort {
                target: Target::Stamp,
                desc: true
            }]
        );
        assert_eq!(q.limit, Some(10));
        let q = parse_soql(
            "select id from Contact where LastModifiedDate > 2026-03-01T00:00:00.000+0000",
        )
        .unwrap();
        assert_eq!(
            q.conds[0],
            Cond::cmp(Target::Stamp, Op::Gt, Scalar::Num(1_772_323_200.0))
        );
        for bad in [
            "SELECT FROM Account",
            "SELECT Id Account",
            "SELECT Id FROM Account WHERE",
            "SELECT Id FROM Account WHERE SystemModstamp > '2026'",
            "SELECT Id FROM Account WHERE a = 1 OR b = 2",
            "SELECT Id FROM Account LIMIT x",
            "SELECT Id FROM Account trailing",
        ] {
            assert!(parse_soql(bad).is_err(), "{bad}");
        }
    }
}
