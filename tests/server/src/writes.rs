//! The write endpoints: `POST /items`, `PUT`/`PATCH`/`DELETE /items/{id}`
//! and `POST /batch/items`, with `Idempotency-Key` replay.

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::server::{error, json, json_string, no_content, Resp};
use crate::store::{Remembered, Store};
use crate::Shared;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A write's answer before it becomes a response (and is remembered).
type Answer = (StatusCode, Bytes);

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    (status, body.into())
}

fn failure(status: StatusCode, message: &str) -> Answer {
    answer(status, format!("{{\"error\":{}}}", json_string(message)))
}

fn not_found(id: u64) -> Answer {
    answer(
        StatusCode::NOT_FOUND,
        format!("{{\"error\":\"not found\",\"id\":{id}}}"),
    )
}

fn rejected(id: Option<u64>) -> Answer {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": "rejected", "id": id}).to_string(),
    )
}

fn into_response((status, body): Answer) -> Resp {
    if status == StatusCode::NO_CONTENT {
        no_content()
    } else {
        json(status, body)
    }
}

/// Runs `apply` under the store's write lock, unless the request carries an
/// `Idempotency-Key` already seen: then the first answer is replayed (or,
/// for a different request under the same key, a `422`).
fn idempotent(
    shared: &Shared,
    parts: &Parts,
    body: &Bytes,
    apply: impl FnOnce(&mut Store) -> Answer,
) -> Resp {
    let key = parts
        .headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let fingerprint = (
        parts.method.as_str().to_owned(),
        parts.uri.path().to_owned(),
        body.clone(),
    );
    let mut store = shared.write_store();
    if let Some(key) = &key {
        if let Some(first) = store.remembered(key) {
            if first.fingerprint != fingerprint {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Idempotency-Key was already used for a different request",
                );
            }
            let status = StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK);
            let mut resp = into_response((status, first.body.clone()));
            resp.headers_mut()
                .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
            return resp;
        }
    }
    let (status, bytes) = apply(&mut store);
    if let Some(key) = key {
        store.remember(
            key,
            Remembered {
                fingerprint,
                status: status.as_u16(),
                body: bytes.clone(),
            },
        );
    }
    drop(store);
    into_response((status, bytes))
}

/// The request body as a JSON object, or the `400` answer.
fn object(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(failure(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(e) => Err(failure(
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON: {e}"),
        )),
    }
}

fn wants_rejection(fields: &Map<String, Value>) -> bool {
    fields.get("reject") == Some(&Value::Bool(true))
}

/// `id` of a record: `Ok(None)` when absent, `Err` when not an integer.
fn record_id(fields: &Map<String, Value>) -> Result<Option<u64>, Answer> {
    match fields.get("id") {
        None | Some(Value::Null) => Ok(None),
        Some(id) => id
            .as_u64()
            .map(Some)
            .ok_or_else(|| failure(StatusCode::BAD_REQUEST, "id must be a non-negative integer")),
    }
}

/// `POST /items`: creates a record under a new id; `201`.
pub(crate) fn create(shared: &Shared, parts: &Parts, body: &Bytes) -> Resp {
    idempotent(shared, parts, body, |store| {
        let fields = match object(body) {
            Ok(fields) => fields,
            Err(answer) => return answer,
        };
        if wants_rejection(&fields) {
            return rejected(fields.get("id").and_then(Value::as_u64));
        }
        let (_, record) = store.create(&fields);
        answer(StatusCode::CREATED, record)
    })
}

/// `PUT` (replace), `PATCH` (merge) and `DELETE /items/{id}`.
pub(crate) fn record(shared: &Shared, parts: &Parts, raw_id: &str, body: &Bytes) -> Resp {
    let Ok(id) = raw_id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("invalid id: {raw_id:?} (expected a non-negative integer)"),
        );
    };
    idempotent(shared, parts, body, |store| {
        if parts.method == Method::DELETE {
            return if store.remove(id) {
                answer(StatusCode::NO_CONTENT, Bytes::new())
            } else {
                not_found(id)
            };
        }
        let fields = match object(body) {
            Ok(fields) => fields,
            Err(answer) => return answer,
        };
        if wants_rejection(&fields) {
            return rejected(Some(id));
        }
        let written = if parts.method == Method::PUT {
            store.replace(id, &fields)
        } else {
            store.merge(id, &fields)
        };
        match written {
            Some(record) => answer(StatusCode::OK, record),
            None => not_found(id),
        }
    })
}

/// A batch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Insert,
    Update,
    Upsert,
    Delete,
}

/// `POST /batch/items` with `{"op":..,"records":[..]}`: one result per
/// record, in order; `413` beyond `max_batch` records.
pub(crate) fn batch(shared: &Shared, parts: &Parts, body: &Bytes) -> Resp {
    let max_batch = shared.config.max_batch;
    idempotent(shared, parts, body, |store| {
        let request = match object(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let op = match request.get("op").and_then(Value::as_str) {
            Some("insert") => Op::Insert,
            Some("update") => Op::Update,
            Some("upsert") => Op::Upsert,
            Some("delete") => Op::Delete,
            _ => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "op must be one of \"insert\", \"update\", \"upsert\", \"delete\"",
                )
            }
        };
        let Some(records) = request.get("records").and_then(Value::as_array) else {
            return failure(StatusCode::BAD_REQUEST, "records must be an array");
        };
        if records.len() as u64 > max_batch {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({
                    "error": "batch too large",
                    "max_batch": max_batch,
                    "records": records.len(),
                })
                .to_string(),
            );
        }
        let results: Vec<Value> = records
            .iter()
            .map(|record| item_result(store, op, record))
            .collect();
        answer(StatusCode::OK, json!({ "results": results }).to_string())
    })
}

/// `POST /composite/sobjects` with `{"allOrNone":false,"records":[..]}`,
/// Salesforce's composite shape: creates each record and answers a bare
/// array of `{"id", "success", "errors": [{"statusCode", "message"}]}`,
/// one per record, in order (ids are strings).
pub(crate) fn composite(shared: &Shared, parts: &Parts, body: &Bytes) -> Resp {
    idempotent(shared, parts, body, |store| {
        let request = match object(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let Some(records) = request.get("records").and_then(Value::as_array) else {
            return failure(StatusCode::BAD_REQUEST, "records must be an array");
        };
        let results: Vec<Value> = records
            .iter()
            .map(|record| match record {
                Value::Object(fields) if !wants_rejection(fields) => {
                    let (id, _) = store.create(fields);
                    json!({"id": id.to_string(), "success": true, "errors": []})
                }
                _ => json!({
                    "id": null,
                    "success": false,
                    "errors": [{
                        "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                        "message": "rejected",
                        "fields": []
                    }]
                }),
            })
            .collect();
        answer(StatusCode::OK, Value::Array(results).to_string())
    })
}

/// Applies one batch record; its result object.
fn item_result(store: &mut Store, op: Op, record: &Value) -> Value {
    match apply_item(store, op, record) {
        Ok((id, status)) => json!({"ok": true, "id": id, "status": status.as_u16()}),
        Err((id, (status, body))) => {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let mut result = json!({"ok": false, "status": status.as_u16(), "error": message});
            if let Some(id) = id {
                result["id"] = Value::from(id);
            }
            result
        }
    }
}

/// `Ok((id, status))` or `Err((id if known, failure answer))`.
fn apply_item(
    store: &mut Store,
    op: Op,
    record: &Value,
) -> Result<(u64, StatusCode), (Option<u64>, Answer)> {
    if op == Op::Delete {
        let id = match record {
            Value::Number(_) => record.as_u64(),
            Value::Object(fields) => fields.get("id").and_then(Value::as_u64),
            _ => None,
        };
        let Some(id) = id else {
            return Err((
                None,
                failure(
                    StatusCode::BAD_REQUEST,
                    "delete takes ids or objects with an integer id",
                ),
            ));
        };
        return if store.remove(id) {
            Ok((id, StatusCode::NO_CONTENT))
        } else {
            Err((Some(id), not_found(id)))
        };
    }

    let Value::Object(fields) = record else {
        return Err((
            None,
            failure(StatusCode::BAD_REQUEST, "a record must be a JSON object"),
        ));
    };
    let id = if op == Op::Insert {
        fields.get("id").and_then(Value::as_u64)
    } else {
        record_id(fields).map_err(|answer| (None, answer))?
    };
    if wants_rejection(fields) {
        return Err((id, rejected(id)));
    }
    match (op, id) {
        (Op::Insert, _) | (Op::Upsert, None) => Ok((store.create(fields).0, StatusCode::CREATED)),
        (Op::Update | Op::Delete, None) => Err((
            None,
            failure(StatusCode::BAD_REQUEST, "update needs an integer id"),
        )),
        (Op::Update, Some(id)) => match store.merge(id, fields) {
            Some(_) => Ok((id, StatusCode::OK)),
            None => Err((Some(id), not_found(id))),
        },
        (_, Some(id)) => {
            if store.replace(id, fields).is_some() {
                Ok((id, StatusCode::OK))
            } else {
                store.create_with_id(id, fields);
                Ok((id, StatusCode::CREATED))
            }
        }
    }
}

/// The shapes of `POST /shapes/{shape}/items`.
pub(crate) const SHAPES: [&str; 3] = ["rows", "row", "bulk"];

/// `POST /shapes/{shape}/items`: batch inserts of other shapes than
/// `/batch/items`, all or nothing (a record with `"reject": true` fails the
/// whole request with `422` and writes nothing):
/// - `rows`: `{"rows": [..]}`, answered `{"ok": true}` (or `{"ok": false,
///   "error": ..}` with `200` for a rejected batch, as some servers do);
/// - `row`: `{"row": {..}}`, one record, answered `{"ok": true}`;
/// - `bulk`: a bare array (PostgREST); with `Prefer: return=representation`
///   the rows written, in order, with their ids (`201`); else `201` and no body.
pub(crate) fn shaped(shared: &Shared, parts: &Parts, shape: &str, body: &Bytes) -> Resp {
    let representation = parts
        .headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("return=representation"));
    idempotent(shared, parts, body, |store| {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return failure(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
        };
        let records: Vec<Value> = match (shape, value) {
            ("rows", Value::Object(mut o)) => match o.remove("rows") {
                Some(Value::Array(rows)) => rows,
                _ => return failure(StatusCode::BAD_REQUEST, "rows must be an array"),
            },
            ("row", Value::Object(mut o)) => match o.remove("row") {
                Some(row @ Value::Object(_)) => vec![row],
                _ => return failure(StatusCode::BAD_REQUEST, "row must be an object"),
            },
            ("bulk", Value::Array(rows)) => rows,
            _ => return failure(StatusCode::BAD_REQUEST, "not the body this shape takes"),
        };
        let mut objects = Vec::with_capacity(records.len());
        for r in records {
            match r {
                Value::Object(fields) => objects.push(fields),
                _ => return failure(StatusCode::BAD_REQUEST, "a record must be a JSON object"),
            }
        }
        if objects.iter().any(wants_rejection) {
            return if shape == "rows" {
                answer(
                    StatusCode::OK,
                    json!({"ok": false, "error": "rejected"}).to_string(),
                )
            } else {
                rejected(None)
            };
        }
        let written: Vec<Value> = objects
            .iter()
            .map(|fields| {
                let (_, record) = store.create(fields);
                serde_json::from_slice(&record).unwrap_or(Value::Null)
            })
            .collect();
        match shape {
            "bulk" if representation => {
                answer(StatusCode::CREATED, Value::Array(written).to_string())
            }
            "bulk" => answer(StatusCode::CREATED, Bytes::new()),
            _ => answer(StatusCode::OK, json!({"ok": true}).to_string()),
        }
    })
}
