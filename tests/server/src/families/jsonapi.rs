//! JSON:API: `/jsonapi/{type}` and `/jsonapi/{type}/{id}`. Every type
//! serves the one collection.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::{parse_instant, reply, select, window, Cond, Op, Rec, Req, Scalar, Sort, Target, Test};
use crate::server::Resp;

const MEDIA: &str = "application/vnd.api+json";

fn error(status: StatusCode, detail: &str) -> Resp {
    reply(
        status,
        MEDIA,
        &json!({"errors": [{
            "status": status.as_u16().to_string(),
            "title": status.canonical_reason().unwrap_or("Error"),
            "detail": detail,
        }]}),
    )
}

fn render(origin: &str, kind: &str, rec: &Rec) -> Value {
    let mut attributes = Map::new();
    attributes.insert(
        "updated_at".into(),
        Value::from(crate::time::format_rfc3339(rec.stamp)),
    );
    for (key, value) in &rec.fields {
        attributes.insert(key.clone(), value.clone());
    }
    json!({
        "type": kind,
        "id": rec.id.to_string(),
        "attributes": attributes,
        "links": {"self": format!("{origin}/jsonapi/{kind}/{}", rec.id)},
    })
}

fn target(name: &str) -> Target {
    match name {
        "id" => Target::Id,
        "updated_at" | "updated-at" | "updatedAt" => Target::Stamp,
        other => Target::Field(other.to_owned()),
    }
}

fn scalar(target: &Target, raw: &str) -> Result<Scalar, String> {
    match target {
        Target::Id => raw
            .trim()
            .parse::<u64>()
            .map(|n| Scalar::Num(n as f64))
            .map_err(|_| format!("invalid id {raw:?}")),
        Target::Stamp | Target::Created => parse_instant(raw, false)
            .map(|secs| Scalar::Num(secs as f64))
            .ok_or_else(|| format!("invalid date-time {raw:?} (expected RFC 3339)")),
        Target::Field(_) => Ok(Scalar::Text(raw.to_owned())),
    }
}

/// `filter[attr]=v` (a comma list is a set), `filter[attr][op]=v` with op
/// `eq`, `ne`, `gt`, `gte`, `lt`, `lte`.
fn filters(req: &Req<'_>) -> Result<Vec<Cond>, String> {
    let mut conds = Vec::new();
    for (name, value) in req.query.iter() {
        let Some(inner) = name.strip_prefix("filter[") else {
            continue;
        };
        let (attr, op) = match inner.split_once("][") {
            Some((attr, op)) => (attr, Some(op.strip_suffix(']').ok_or("malformed filter")?)),
            None => (inner.strip_suffix(']').ok_or("malformed filter")?, None),
        };
        let target = target(attr);
        let cond = match op {
            None => {
                let values = value
                    .split(',')
                    .map(|v| scalar(&target, v))
                    .collect::<Result<Vec<_>, _>>()?;
                Cond {
                    target,
                    test: Test::In(values),
                }
            }
            Some(op) => {
                let op = match op {
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "gt" => Op::Gt,
                    "gte" => Op::Gte,
                    "lt" => Op::Lt,
                    "lte" => Op::Lte,
                    other => return Err(format!("unknown filter operator {other:?}")),
                };
                let value = scalar(&target, value)?;
                Cond::cmp(target, op, value)
            }
        };
        conds.push(cond);
    }
    Ok(conds)
}

pub(crate) fn handle(req: &Req<'_>, rest: &[&str]) -> Resp {
    if let Some(token) = &req.config().token {
        if req.bearer() != Some(token.as_str()) {
            return error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
        }
    }
    if !req.is_read() {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "this server's JSON:API routes are read-only",
        );
    }
    match rest {
        [kind] => list(req, kind),
        [kind, id] => {
            let rec = id
                .parse::<u64>()
                .ok()
                .and_then(|id| Rec::load(&req.shared.read_store(), id));
            match rec {
                Some(rec) => reply(
                    StatusCode::OK,
                    MEDIA,
                    &json!({"data": render(&req.origin(), kind, &rec), "links": {"self": format!("{}{}", req.origin(), req.parts.uri)}}),
                ),
                None => error(StatusCode::NOT_FOUND, &format!("no {kind} with id {id}")),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "no such resource"),
    }
}

fn list(req: &Req<'_>, kind: &str) -> Resp {
    let config = req.config();
    let max = config.jsonapi_max_page_size.max(1);
    let number = |name: &str| -> Result<Option<u64>, Resp> {
        match req.query.get(name) {
            None => Ok(None),
            Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    &format!("{name} must be a non-negative integer, got {raw:?}"),
                )
            }),
        }
    };
    let by_number =
        req.query.get("page[number]").is_some() || req.query.get("page[size]").is_some();
    let (offset, size, page_number) = if by_number {
        let (number, size) = match (number("page[number]"), number("page[size]")) {
            (Ok(n), Ok(s)) => (n.unwrap_or(1), s.unwrap_or(max).clamp(1, max)),
            (Err(resp), _) | (_, Err(resp)) => return resp,
        };
        if number == 0 {
            return error(StatusCode::BAD_REQUEST, "page[number] starts at 1");
        }
        ((number - 1) * size, size, Some(number))
    } else {
        match (number("page[offset]"), number("page[limit]")) {
            (Ok(o), Ok(l)) => (o.unwrap_or(0), l.unwrap_or(max).clamp(1, max), None),
            (Err(resp), _) | (_, Err(resp)) => return resp,
        }
    };
    let conds = match filters(req) {
        Ok(conds) => conds,
        Err(detail) => return error(StatusCode::BAD_REQUEST, &detail),
    };
    let sorts: Vec<Sort> = req
        .query
        .get("sort")
        .map(|s| {
            s.split(',')
                .filter(|f| !f.is_empty())
                .map(|f| match f.strip_prefix('-') {
                    Some(name) => Sort {
                        target: target(name),
                        desc: true,
                    },
                    None => Sort {
                        target: target(f),
                        desc: false,
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let origin = req.origin();
    let store = req.shared.read_store();
    let ids = select(&store, &conds, &sorts);
    let total = ids.len() as u64;
    let data: Vec<Value> = window(&ids, offset, size)
        .iter()
        .filter_map(|&id| Rec::load(&store, id))
        .map(|rec| render(&origin, kind, &rec))
        .collect();
    drop(store);

    let base = format!("{origin}{}", req.parts.uri.path());
    let paging = ["page[offset]", "page[limit]", "page[number]", "page[size]"];
    let link = |at: u64| -> String {
        let set = match page_number {
            Some(_) => vec![
                ("page[number]", (at / size + 1).to_string()),
                ("page[size]", size.to_string()),
            ],
            None => vec![
                ("page[offset]", at.to_string()),
                ("page[limit]", size.to_string()),
            ],
        };
        format!("{base}?{}", req.query.rebuild(&paging, &set))
    };
    let mut links = Map::new();
    links.insert("self".into(), Value::from(link(offset)));
    links.insert("first".into(), Value::from(link(0)));
    if offset > 0 {
        links.insert(
            "prev".into(),
            Value::from(link(offset.saturating_sub(size))),
        );
    }
    if offset + size < total {
        links.insert("next".into(), Value::from(link(offset + size)));
    }
    let mut body = json!({"jsonapi": {"version": "1.0"}, "data": data});
    if config.jsonapi_meta_total {
        let last = if total == 0 {
            0
        } else {
            (total - 1) / size * size
        };
        links.insert("last".into(), Value::from(link(last)));
        body["meta"] = json!({"total": total});
    }
    body["links"] = Value::Object(links);
    reply(StatusCode::OK, MEDIA, &body)
}
