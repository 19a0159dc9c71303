//! Endpoints that page in the request body: a search endpoint taking
//! `{"from", "size"}` (Elasticsearch-like) and a GraphQL endpoint taking
//! `{"query", "variables": {"first", "after"}}` (a cursor connection). Both
//! serve the store in id order, go through the server's latency, faults and
//! request log like any other route, and answer `405` to anything but
//! `POST`.

use bytes::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::server::{
    decode_cursor, encode_cursor, error, json, json_string, method_not_allowed, page_body, Resp,
};
use crate::Shared;

/// The answer of `POST /search/items` or `POST /graphql`; `None` for any
/// other path.
pub(crate) fn route(shared: &Shared, parts: &Parts, body: &Bytes) -> Option<Resp> {
    let graphql = match parts.uri.path() {
        "/search/items" => false,
        "/graphql" => true,
        _ => return None,
    };
    if parts.method != Method::POST {
        return Some(method_not_allowed(&parts.method, "POST, OPTIONS"));
    }
    Some(if graphql {
        graphql_page(shared, body)
    } else {
        search(shared, body)
    })
}

/// The largest page either endpoint serves (larger sizes are clamped).
fn max_size(shared: &Shared) -> u64 {
    shared.config.max_page_size.max(1)
}

/// `POST /search/items` with `{"from": n, "size": n, "query": ...}` (both
/// numbers optional: `0` and the default page size; `query` is not
/// interpreted, but must be an object when present) answers
/// `{"took":0,"hits":{"total":N,"hits":[..]}}`. A body that is not such an
/// object is a `400` `{"error": ".."}`.
fn search(shared: &Shared, body: &Bytes) -> Resp {
    let request: Value = match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => Value::Object(o),
        _ => return error(StatusCode::BAD_REQUEST, "the body must be a JSON object"),
    };
    let number = |name: &str, default: u64| match request.get(name) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_u64(),
    };
    let (Some(from), Some(size)) = (
        number("from", 0),
        number("size", shared.config.default_page_size),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "from and size must be non-negative integers",
        );
    };
    let size = size.min(max_size(shared));
    if request.get("query").is_some_and(|q| !q.is_object()) {
        return error(StatusCode::BAD_REQUEST, "query must be an object");
    }
    let store = shared.read_store();
    let view = store.view(None);
    let total = view.len();
    let (_, records) = view.window(from, size);
    let out = page_body(
        format!("{{\"took\":0,\"hits\":{{\"total\":{total},\"hits\":[").as_bytes(),
        records,
        b"]}}",
    );
    drop(view);
    drop(store);
    json(StatusCode::OK, out)
}

/// A GraphQL error answer: `{"errors":[{"message":".."}]}`.
fn graphql_error(status: StatusCode, message: &str) -> Resp {
    json(
        status,
        format!("{{\"errors\":[{{\"message\":{}}}]}}", json_string(message)),
    )
}

/// `POST /graphql` with `{"query": "...", "variables": {"first": n, "after":
/// cursor|null}}`: the query must be a string naming `items` (it is not
/// parsed further); `first` from 1 to the largest page size; `after` a
/// cursor from an earlier `endCursor`, or `null`/absent for the first page.
/// Answers `{"data":{"items":{"totalCount":N,"nodes":[..],"pageInfo":
/// {"endCursor":".."|null,"hasNextPage":bool}}}}` (`endCursor`: the last
/// node's cursor, `null` on an empty page). A bad body is a `400` with
/// `{"errors":[{"message":".."}]}`.
fn graphql_page(shared: &Shared, body: &Bytes) -> Resp {
    let bad = |message: &str| graphql_error(StatusCode::BAD_REQUEST, message);
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return bad("the body must be a JSON object {\"query\", \"variables\"}");
    };
    match request.get("query") {
        Some(Value::String(q)) if q.contains("items") => {}
        Some(Value::String(_)) => return bad("Cannot query field: only `items` is served"),
        _ => return bad("Must provide query string."),
    }
    let empty = serde_json::Map::new();
    let variables = match request.get("variables") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(v)) => v,
        Some(_) => return bad("Variables must be an object."),
    };
    let max = max_size(shared);
    let first = match variables.get("first") {
        None | Some(Value::Null) => shared.config.default_page_size.min(max),
        Some(v) => match v.as_u64().filter(|n| (1..=max).contains(n)) {
            Some(n) => n,
            None => {
                return bad(&format!(
                    "Variable \"$first\" must be an integer from 1 to {max}."
                ))
            }
        },
    };
    let after = match variables.get("after") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => match decode_cursor(c) {
            Some(id) => Some(id),
            None => return bad(&format!("Invalid cursor: {}", json_string(c))),
        },
        Some(_) => return bad("Variable \"$after\" must be a string or null."),
    };
    let store = shared.read_store();
    let view = store.view(None);
    let total = view.len();
    let start = after.map_or(0, |a| view.position_after(a));
    let (ids, records) = view.window(start as u64, first);
    let has_next = start + ids.len() < view.ids().len();
    let last = ids.last().copied();
    let end_cursor = last.map_or_else(|| "null".to_owned(), |id| json_string(&encode_cursor(id)));
    let out = page_body(
        format!("{{\"data\":{{\"items\":{{\"totalCount\":{total},\"nodes\":[").as_bytes(),
        records,
        format!("],\"pageInfo\":{{\"endCursor\":{end_cursor},\"hasNextPage\":{has_next}}}}}}}}}")
            .as_bytes(),
    );
    drop(view);
    drop(store);
    json(StatusCode::OK, out)
}
