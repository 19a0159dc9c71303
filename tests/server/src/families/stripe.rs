//! Stripe-style lists: `/v1/{resource}` and `/v1/{resource}/{id}`, newest
//! first, `starting_after` / `ending_before` cursors. Every resource
//! serves the one collection; `created` follows the id (see
//! [`super::created_of`]), so newest first is highest id first.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::{base62, reply, select, unbase62, Cond, Op, Rec, Req, Scalar, Sort, Target, JSON};
use crate::server::Resp;

/// The id prefix and object name of a resource (`customers` → `cus`,
/// `customer`).
fn names(resource: &str) -> (String, String) {
    let object = resource.strip_suffix('s').unwrap_or(resource).to_owned();
    let prefix = match resource {
        "customers" => "cus",
        "charges" => "ch",
        "invoices" => "in",
        "products" => "prod",
        "prices" => "price",
        "payment_intents" => "pi",
        "subscriptions" => "sub",
        "refunds" => "re",
        "events" => "evt",
        other => &other[..other.len().min(3)],
    };
    (prefix.to_owned(), object)
}

/// `prefix_` + 14 base-62 digits.
pub(crate) fn stripe_id(prefix: &str, id: u64) -> String {
    format!("{prefix}_{}", base62(id, 14))
}

fn parse_stripe_id(prefix: &str, text: &str) -> Option<u64> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('_')?;
    (rest.len() == 14).then(|| unbase62(rest)).flatten()
}

fn error(status: StatusCode, code: Option<&str>, message: &str, param: Option<&str>) -> Resp {
    let mut err = Map::new();
    if let Some(code) = code {
        err.insert("code".into(), Value::from(code));
        err.insert(
            "doc_url".into(),
            Value::from(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            )),
        );
    }
    err.insert("message".into(), Value::from(message));
    if let Some(param) = param {
        err.insert("param".into(), Value::from(param));
    }
    err.insert("type".into(), Value::from("invalid_request_error"));
    reply(status, JSON, &json!({ "error": err }))
}

fn missing(object: &str, id: &str, param: &str) -> Resp {
    let status = if param == "id" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    error(
        status,
        Some("resource_missing"),
        &format!("No such {object}: '{id}'"),
        Some(param),
    )
}

fn render(prefix: &str, object: &str, rec: &Rec) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(stripe_id(prefix, rec.id)));
    out.insert("object".into(), Value::from(object));
    out.insert("created".into(), Value::from(rec.created()));
    out.insert("livemode".into(), Value::from(false));
    for (key, value) in &rec.fields {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

fn authorized(req: &Req<'_>) -> bool {
    let Some(token) = &req.config().token else {
        return true;
    };
    req.bearer() == Some(token.as_str()) || req.basic().is_some_and(|(user, _)| user == *token)
}

pub(crate) fn handle(req: &Req<'_>, rest: &[&str]) -> Resp {
    if !authorized(req) {
        return reply(
            StatusCode::UNAUTHORIZED,
            JSON,
            &json!({"error": {"message": "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", "type": "invalid_request_error"}}),
        );
    }
    if !req.is_read() {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "this server's Stripe-style routes are read-only",
            None,
        );
    }
    match rest {
        [resource] => list(req, resource),
        [resource, raw] => {
            let (prefix, object) = names(resource);
            let rec = parse_stripe_id(&prefix, raw)
                .and_then(|id| Rec::load(&req.shared.read_store(), id));
            match rec {
                Some(rec) => reply(StatusCode::OK, JSON, &render(&prefix, &object, &rec)),
                None => missing(&object, raw, "id"),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            None,
            &format!("Unrecognized request URL (GET: {}).", req.parts.uri.path()),
            None,
        ),
    }
}

fn integer(req: &Req<'_>, name: &str) -> Result<Option<i64>, Resp> {
    match req.query.get(name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse::<i64>().map(Some).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                Some("parameter_invalid_integer"),
                &format!("Invalid integer: {raw}"),
                Some(name),
            )
        }),
    }
}

fn list(req: &Req<'_>, resource: &str) -> Resp {
    let (prefix, object) = names(resource);
    let limit = match integer(req, "limit") {
        Ok(limit) => limit.unwrap_or(10),
        Err(resp) => return resp,
    };
    if !(1..=100).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            "Invalid limit: must be between 1 and 100",
            Some("limit"),
        );
    }
    let limit = limit as usize;
    let after = req.query.get("starting_after").filter(|s| !s.is_empty());
    let before = req.query.get("ending_before").filter(|s| !s.is_empty());
    if after.is_some() && before.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            "Received both starting_after and ending_before parameters. Please pass in only one.",
            Some("ending_before"),
        );
    }
    let mut conds = Vec::new();
    if let Ok(Some(exact)) = integer(req, "created") {
        conds.push(Cond::cmp(
            Target::Created,
            Op::Eq,
            Scalar::Num(exact as f64),
        ));
    }
    for (param, op) in [
        ("created[gt]", Op::Gt),
        ("created[gte]", Op::Gte),
        ("created[lt]", Op::Lt),
        ("created[lte]", Op::Lte),
    ] {
        match integer(req, param) {
            Ok(Some(value)) => {
                conds.push(Cond::cmp(Target::Created, op, Scalar::Num(value as f64)))
            }
            Ok(None) => {}
            Err(resp) => return resp,
        }
    }
    let store = req.shared.read_store();
    let cursor = |raw: &str, param: &str| -> Result<u64, Resp> {
        parse_stripe_id(&prefix, raw)
            .filter(|id| store.contains(*id))
            .ok_or_else(|| missing(&object, raw, param))
    };
    // Newest first: descending id.
    let ids = select(
        &store,
        &conds,
        &[Sort {
            target: Target::Id,
            desc: true,
        }],
    );
    let (page, has_more): (Vec<u64>, bool) = if let Some(raw) = before {
        let anchor = match cursor(raw, "ending_before") {
            Ok(anchor) => anchor,
            Err(resp) => return resp,
        };
        // The `limit` objects right before the anchor in list order.
        let newer: Vec<u64> = ids.iter().copied().filter(|&id| id > anchor).collect();
        let start = newer.len().saturating_sub(limit);
        (newer[start..].to_vec(), start > 0)
    } else {
        let start = match after {
            Some(raw) => match cursor(raw, "starting_after") {
                Ok(anchor) => ids.partition_point(|&id| id >= anchor),
                Err(resp) => return resp,
            },
            None => 0,
        };
        let end = (start + limit).min(ids.len());
        (ids[start..end].to_vec(), end < ids.len())
    };
    let data: Vec<Value> = page
        .iter()
        .filter_map(|&id| Rec::load(&store, id))
        .map(|rec| render(&prefix, &object, &rec))
        .collect();
    drop(store);
    reply(
        StatusCode::OK,
        JSON,
        &json!({"object": "list", "url": format!("/v1/{resource}"), "has_more": has_more, "data": data}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = stripe_id("cus", 42);
        assert_eq!(id.len(), 18);
        assert_eq!(parse_stripe_id("cus", &id), Some(42));
        assert_eq!(parse_stripe_id("ch", &id), None);
        assert_eq!(
            names("payment_intents"),
            ("pi".into(), "payment_intent".into())
        );
    }
}
