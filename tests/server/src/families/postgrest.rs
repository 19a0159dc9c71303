//! PostgREST / Supabase: `/rest/v1/{table}`. Every table serves the one
//! collection; rows are the stored records as they are (`id`,
//! `updated_at`, other columns).

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::{
    bytes_reply, no_content, parse_instant, reply, select, set_header, window, Cond, Op, Req,
    Scalar, Sort, Target, Test,
};
use crate::server::Resp;
use crate::store::Store;

const JSON: &str = "application/json; charset=utf-8";
/// Query parameters that are not filters.
const RESERVED: &[&str] = &[
    "select",
    "order",
    "limit",
    "offset",
    "on_conflict",
    "columns",
    "apikey",
];

fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<&str>,
    hint: Option<&str>,
) -> Resp {
    reply(
        status,
        JSON,
        &json!({"code": code, "details": details, "hint": hint, "message": message}),
    )
}

fn target(column: &str) -> Target {
    match column {
        "id" => Target::Id,
        "updated_at" => Target::Stamp,
        other => Target::Field(other.to_owned()),
    }
}

fn scalar(target: &Target, raw: &str) -> Result<Scalar, Resp> {
    match target {
        Target::Id => raw
            .trim()
            .parse::<u64>()
            .map(|n| Scalar::Num(n as f64))
            .map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    "22P02",
                    &format!("invalid input syntax for type bigint: \"{raw}\""),
                    None,
                    None,
                )
            }),
        Target::Stamp | Target::Created => parse_instant(raw, true)
            .map(|secs| Scalar::Num(secs as f64))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "22007",
                    &format!("invalid input syntax for type timestamp with time zone: \"{raw}\""),
                    None,
                    None,
                )
            }),
        Target::Field(_) => Ok(Scalar::Text(raw.to_owned())),
    }
}

fn parse_error(what: &str) -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        "PGRST100",
        &format!("\"failed to parse filter ({what})\" (line 1, column 1)"),
        Some(&format!("unexpected \"{what}\"")),
        None,
    )
}

/// `col=op.value` filters: `eq`, `neq`, `gt`, `gte`, `lt`, `lte`,
/// `in.(a,b)`, `is.null`.
fn filters(req: &Req<'_>) -> Result<Vec<Cond>, Resp> {
    let mut conds = Vec::new();
    for (column, value) in req.query.iter().filter(|(k, _)| !RESERVED.contains(k)) {
        let target = target(column);
        let (op, raw) = value.split_once('.').ok_or_else(|| parse_error(value))?;
        let cond = match op {
            "in" => {
                let inner = raw
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| parse_error(value))?;
                let values = inner
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(|v| scalar(&target, v.trim().trim_matches('"')))
                    .collect::<Result<Vec<_>, _>>()?;
                Cond {
                    target,
                    test: Test::In(values),
                }
            }
            "is" if raw == "null" => Cond::cmp(target, Op::Eq, Scalar::Null),
            _ => {
                let op = match op {
                    "eq" => Op::Eq,
                    "neq" => Op::Ne,
                    "gt" => Op::Gt,
                    "gte" => Op::Gte,
                    "lt" => Op::Lt,
                    "lte" => Op::Lte,
                    _ => return Err(parse_error(value)),
                };
                let value = scalar(&target, raw)?;
                Cond::cmp(target, op, value)
            }
        };
        conds.push(cond);
    }
    Ok(conds)
}

fn order(req: &Req<'_>) -> Result<Vec<Sort>, Resp> {
    let Some(raw) = req.query.get("order") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|term| {
            let mut parts = term.split('.');
            let column = parts.next().unwrap_or_default();
            let mut desc = false;
            for modifier in parts {
                match modifier {
                    "asc" | "nullsfirst" | "nullslast" => {}
                    "desc" => desc = true,
                    _ => return Err(parse_error(term)),
                }
            }
            Ok(Sort {
                target: target(column),
                desc,
            })
        })
        .collect()
}

fn prefers(req: &Req<'_>, wanted: &str) -> bool {
    req.parts
        .headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == wanted)
}

fn counted(req: &Req<'_>) -> bool {
    prefers(req, "count=exact") || prefers(req, "count=planned") || prefers(req, "count=estimated")
}

/// The columns of `select=` (`None`: all).
fn columns(req: &Req<'_>) -> Option<Vec<String>> {
    req.query
        .get("select")
        .filter(|s| !s.is_empty() && *s != "*")
        .map(|s| s.split(',').map(|c| c.trim().to_owned()).collect())
}

/// The rows `ids` as a JSON array, with only `columns` when given.
fn rows(store: &Store, ids: &[u64], columns: Option<&[String]>) -> Bytes {
    let mut out = Vec::with_capacity(ids.len() * 260 + 2);
    out.push(b'[');
    let mut first = true;
    for &id in ids {
        let Some(body) = store.get(id) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        match columns {
            None => out.extend_from_slice(body),
            Some(columns) => {
                let fields: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
                let picked: Map<String, Value> = columns
                    .iter()
                    .map(|c| (c.clone(), fields.get(c).cloned().unwrap_or(Value::Null)))
                    .collect();
                out.extend_from_slice(Value::Object(picked).to_string().as_bytes());
            }
        }
    }
    out.push(b']');
    Bytes::from(out)
}

pub(crate) fn handle(req: &Req<'_>, rest: &[&str]) -> Resp {
    if let Some(key) = &req.config().postgrest_apikey {
        let sent = req.header("apikey").or_else(|| req.query.get("apikey"));
        match sent {
            None => {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    JSON,
                    &json!({"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."}),
                )
            }
            Some(sent) if sent != key => {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    JSON,
                    &json!({"message": "Invalid API key", "hint": "Double check your Supabase `anon` or `service_role` API key."}),
                )
            }
            Some(_) => {}
        }
    }
    let [_table] = rest else {
        return error(
            StatusCode::NOT_FOUND,
            "PGRST125",
            "Invalid path specified in request URL",
            None,
            None,
        );
    };
    match req.parts.method {
        _ if req.is_read() => read(req),
        Method::POST => insert(req),
        Method::PATCH => update(req),
        Method::DELETE => delete(req),
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "PGRST117",
            "Unsupported HTTP method",
            None,
            None,
        ),
    }
}

/// The rows asked: `offset`/`limit`, else `Range: a-b` / `a-`.
fn range(req: &Req<'_>) -> Result<(u64, Option<u64>), Resp> {
    let number = |name: &str| -> Result<Option<u64>, Resp> {
        match req.query.get(name) {
            None | Some("") => Ok(None),
            Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| parse_error(raw)),
        }
    };
    let offset = number("offset")?;
    let limit = number("limit")?;
    if offset.is_some() || limit.is_some() {
        return Ok((offset.unwrap_or(0), limit));
    }
    let Some(raw) = req.header("range") else {
        return Ok((0, None));
    };
    let unsatisfiable = || {
        error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
            None,
            None,
        )
    };
    let raw = raw.trim().strip_prefix("items=").unwrap_or(raw.trim());
    let (a, b) = raw.split_once('-').ok_or_else(unsatisfiable)?;
    let a: u64 = a.trim().parse().map_err(|_| unsatisfiable())?;
    if b.trim().is_empty() {
        return Ok((a, None));
    }
    let b: u64 = b.trim().parse().map_err(|_| unsatisfiable())?;
    if b < a {
        return Err(unsatisfiable());
    }
    Ok((a, Some(b - a + 1)))
}

fn read(req: &Req<'_>) -> Resp {
    let conds = match filters(req) {
        Ok(conds) => conds,
        Err(resp) => return resp,
    };
    let sorts = match order(req) {
        Ok(sorts) => sorts,
        Err(resp) => return resp,
    };
    let (offset, limit) = match range(req) {
        Ok(range) => range,
        Err(resp) => return resp,
    };
    let max_rows = req.config().postgrest_max_rows.max(1);
    let limit = limit.unwrap_or(max_rows).min(max_rows);
    let count = counted(req);
    let columns = columns(req);
    let store = req.shared.read_store();
    let ids = select(&store, &conds, &sorts);
    let total = ids.len() as u64;
    if count && offset > 0 && offset >= total {
        return error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
            Some(&format!(
                "An offset of {offset} was requested, but there are only {total} rows."
            )),
            None,
        );
    }
    let page = window(&ids, offset, limit);
    let body = rows(&store, page, columns.as_deref());
    drop(store);
    let total_text = if count {
        total.to_string()
    } else {
        "*".to_owned()
    };
    let content_range = if page.is_empty() {
        format!("*/{total_text}")
    } else {
        format!("{offset}-{}/{total_text}", offset + page.len() as u64 - 1)
    };
    let partial = count && (page.len() as u64) < total;
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = bytes_reply(status, JSON, body);
    set_header(&mut resp, "content-range", content_range);
    set_header(&mut resp, "range-unit", "items");
    resp
}

fn representation(req: &Req<'_>) -> bool {
    prefers(req, "return=representation")
}

/// The answer of a write that touched `ids`.
fn written(req: &Req<'_>, ids: &[u64], status: StatusCode) -> Resp {
    if representation(req) {
        let store = req.shared.read_store();
        let body = rows(&store, ids, columns(req).as_deref());
        drop(store);
        bytes_reply(status, JSON, body)
    } else if status == StatusCode::CREATED {
        let mut resp = no_content();
        *resp.status_mut() = StatusCode::CREATED;
        resp
    } else {
        no_content()
    }
}

fn invalid_json() -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        "PGRST102",
        "Empty or invalid json",
        None,
        None,
    )
}

fn insert(req: &Req<'_>) -> Resp {
    let rows: Vec<Map<String, Value>> = match req.json_body() {
        Some(Value::Object(row)) => vec![row],
        Some(Value::Array(items)) => {
            let mut rows = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(row) => rows.push(row),
                    _ => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "PGRST102",
                            "All object keys must match",
                            None,
                            None,
                        )
                    }
                }
            }
            rows
        }
        _ => return invalid_json(),
    };
    if let Some(first) = rows.first() {
        let keys: Vec<&String> = first.keys().collect();
        if rows.iter().any(|r| r.keys().collect::<Vec<_>>() != keys) {
            return error(
                StatusCode::BAD_REQUEST,
                "PGRST102",
                "All object keys must match",
                None,
                None,
            );
        }
    }
    let merge = prefers(req, "resolution=merge-duplicates");
    let ignore = prefers(req, "resolution=ignore-duplicates");
    let conflict = req.query.get("on_conflict").unwrap_or("id").to_owned();
    let mut store = req.shared.write_store();
    // Decide every row before writing: a conflict fails the whole request.
    let mut plans = Vec::with_capacity(rows.len());
    for row in &rows {
        let existing = match row.get(conflict.as_str()) {
            None | Some(Value::Null) => None,
            Some(key) if conflict == "id" => key.as_u64().filter(|id| store.contains(*id)),
            Some(key) => select(
                &store,
                &[Cond::cmp(
                    Target::Field(conflict.clone()),
                    Op::Eq,
                    Scalar::of(Some(key)),
                )],
                &[],
            )
            .first()
            .copied(),
        };
        if existing.is_some() && !(merge || ignore) {
            return error(
                StatusCode::CONFLICT,
                "23505",
                "duplicate key value violates unique constraint \"items_pkey\"",
                Some(&format!(
                    "Key ({conflict})=({}) already exists.",
                    row[conflict.as_str()]
                )),
                None,
            );
        }
        if let Some(id) = row.get("id").filter(|v| !v.is_null()) {
            if id.as_u64().is_none() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "22P02",
                    &format!("invalid input syntax for type bigint: {id}"),
                    None,
                    None,
                );
            }
        }
        plans.push(existing);
    }
    let mut touched = Vec::with_capacity(rows.len());
    for (row, existing) in rows.iter().zip(plans) {
        match existing {
            Some(_) if ignore => {}
            Some(id) => {
                store.merge(id, row);
                touched.push(id);
            }
            None => {
                let id = match row.get("id").and_then(Value::as_u64) {
                    Some(id) => {
                        store.create_with_id(id, row);
                        id
                    }
                    None => store.create(row).0,
                };
                touched.push(id);
            }
        }
    }
    drop(store);
    written(req, &touched, StatusCode::CREATED)
}

fn matched(req: &Req<'_>, verb: &str) -> Result<Vec<u64>, Resp> {
    let conds = filters(req)?;
    if conds.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "21000",
            &format!("{verb} requires a WHERE clause"),
            None,
            None,
        ));
    }
    Ok(select(&req.shared.read_store(), &conds, &[]))
}

fn update(req: &Req<'_>) -> Resp {
    let patch = match req.json_body() {
        Some(Value::Object(patch)) => patch,
        _ => return invalid_json(),
    };
    let ids = match matched(req, "UPDATE") {
        Ok(ids) => ids,
        Err(resp) => return resp,
    };
    let mut patch = patch;
    patch.remove("id");
    let mut store = req.shared.write_store();
    let touched: Vec<u64> = ids
        .into_iter()
        .filter(|&id| store.merge(id, &patch).is_some())
        .collect();
    drop(store);
    if representation(req) {
        written(req, &touched, StatusCode::OK)
    } else {
        no_content()
    }
}

fn delete(req: &Req<'_>) -> Resp {
    let ids = match matched(req, "DELETE") {
        Ok(ids) => ids,
        Err(resp) => return resp,
    };
    if representation(req) {
        let store = req.shared.read_store();
        let body = rows(&store, &ids, columns(req).as_deref());
        drop(store);
        let mut store = req.shared.write_store();
        for &id in &ids {
            store.remove(id);
        }
        return bytes_reply(StatusCode::OK, JSON, body);
    }
    let mut store = req.shared.write_store();
    for &id in &ids {
        store.remove(id);
    }
    no_content()
}
