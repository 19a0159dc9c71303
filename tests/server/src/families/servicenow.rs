//! ServiceNow Table API: `/api/now/table/{table}` and
//! `/api/now/table/{table}/{sys_id}`. Every table name serves the one
//! collection.

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::{
    format_servicenow, no_content, parse_instant, reply, select, set_header, window, writable,
    Cond, Op, Rec, Req, Scalar, Sort, Target, Test, JSON,
};
use crate::server::Resp;
use crate::store::mix64;

const SYS_ID_SALT: u64 = 0x5E41_CE00_0000_0001;

/// The 32-hex `sys_id` of record `id`.
pub(crate) fn sys_id(id: u64) -> String {
    format!("{:016x}{:016x}", mix64(id ^ SYS_ID_SALT), id)
}

/// The record id of a `sys_id`, if it is one this server made.
pub(crate) fn parse_sys_id(text: &str) -> Option<u64> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u64::from_str_radix(&text[16..], 16).ok()?;
    (text[..16].eq_ignore_ascii_case(&format!("{:016x}", mix64(id ^ SYS_ID_SALT)))).then_some(id)
}

fn failure(status: StatusCode, message: &str, detail: &str) -> Resp {
    reply(
        status,
        JSON,
        &json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

fn bad_request(detail: &str) -> Resp {
    failure(StatusCode::BAD_REQUEST, "Invalid request", detail)
}

fn not_found() -> Resp {
    failure(
        StatusCode::NOT_FOUND,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

/// The record as ServiceNow shows it: `sys_id`, `sys_created_on`,
/// `sys_updated_on`, then the stored fields, values as strings.
fn render(rec: &Rec, fields: Option<&[String]>) -> Value {
    let mut out = Map::new();
    out.insert("sys_id".into(), Value::from(sys_id(rec.id)));
    out.insert(
        "sys_created_on".into(),
        Value::from(format_servicenow(rec.created())),
    );
    out.insert(
        "sys_updated_on".into(),
        Value::from(format_servicenow(rec.stamp)),
    );
    for (key, value) in &rec.fields {
        let value = match value {
            Value::Null => Value::from(""),
            Value::String(_) | Value::Object(_) | Value::Array(_) => value.clone(),
            other => Value::from(other.to_string()),
        };
        out.insert(key.clone(), value);
    }
    if let Some(wanted) = fields {
        out.retain(|key, _| wanted.iter().any(|w| w == key));
    }
    Value::Object(out)
}

fn target(field: &str) -> Target {
    match field {
        "sys_id" => Target::Id,
        "sys_updated_on" => Target::Stamp,
        "sys_created_on" => Target::Created,
        other => Target::Field(other.to_owned()),
    }
}

/// A value of the encoded query for `target`.
fn scalar(target: &Target, raw: &str) -> Result<Scalar, String> {
    match target {
        Target::Id => Ok(Scalar::Num(parse_sys_id(raw).map_or(-1.0, |id| id as f64))),
        Target::Stamp | Target::Created => servicenow_instant(raw)
            .map(|secs| Scalar::Num(secs as f64))
            .ok_or_else(|| format!("invalid date-time {raw:?} (expected YYYY-MM-DD HH:MM:SS)")),
        Target::Field(_) => Ok(Scalar::Text(raw.to_owned())),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), RFC 3339, or
/// `javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')`.
fn servicenow_instant(value: &str) -> Option<i64> {
    if let Some(args) = value
        .strip_prefix("javascript:gs.dateGenerate(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let (date, time) = args.split_once(',')?;
        let unquote = |s: &str| s.trim().trim_matches('\'').to_owned();
        return parse_instant(&format!("{} {}", unquote(date), unquote(time)), true);
    }
    parse_instant(value, true)
}

/// An encoded query: conditions joined by `^`, `ORDERBY`/`ORDERBYDESC`.
pub(crate) fn parse_query(query: &str) -> Result<(Vec<Cond>, Vec<Sort>), String> {
    let mut conds = Vec::new();
    let mut sorts = Vec::new();
    for clause in query.split('^').map(str::trim).filter(|c| !c.is_empty()) {
        if clause == "EQ" {
            continue;
        }
        if let Some(field) = clause.strip_prefix("ORDERBYDESC") {
            sorts.push(Sort {
                target: target(field),
                desc: true,
            });
            continue;
        }
        if let Some(field) = clause.strip_prefix("ORDERBY") {
            sorts.push(Sort {
                target: target(field),
                desc: false,
            });
            continue;
        }
        if clause.starts_with("OR") || clause.starts_with("NQ") {
            return Err(format!(
                "unsupported clause {clause:?} (this server knows AND only)"
            ));
        }
        let split = clause
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
            .ok_or_else(|| format!("no operator in {clause:?}"))?;
        let (field, rest) = clause.split_at(split);
        if field.is_empty() {
            return Err(format!("no field in {clause:?}"));
        }
        let target = target(field);
        let (test, raw) = if let Some(raw) = rest.strip_prefix("NOT IN") {
            let _ = raw;
            return Err(format!("unsupported operator in {clause:?}"));
        } else if let Some(raw) = rest.strip_prefix("IN") {
            let values = raw
                .split(',')
                .map(|v| scalar(&target, v.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            conds.push(Cond {
                target,
                test: Test::In(values),
            });
            continue;
        } else if let Some(raw) = rest.strip_prefix(">=") {
            (Op::Gte, raw)
        } else if let Some(raw) = rest.strip_prefix("<=") {
            (Op::Lte, raw)
        } else if let Some(raw) = rest.strip_prefix("!=") {
            (Op::Ne, raw)
        } else if let Some(raw) = rest.strip_prefix('>') {
            (Op::Gt, raw)
        } else if let Some(raw) = rest.strip_prefix('<') {
            (Op::Lt, raw)
        } else if let Some(raw) = rest.strip_prefix('=') {
            (Op::Eq, raw)
        } else {
            return Err(format!("unsupported operator in {clause:?}"));
        };
        let value = scalar(&target, raw)?;
        conds.push(Cond::cmp(target, test, value));
    }
    Ok((conds, sorts))
}

fn authorized(req: &Req<'_>) -> bool {
    let config = req.config();
    if config.token.is_none() && config.basic.is_none() {
        return true;
    }
    if let (Some(token), Some(sent)) = (&config.token, req.bearer()) {
        if sent == token {
            return true;
        }
    }
    if let (Some(expected), Some(sent)) = (&config.basic, req.basic()) {
        return *expected == sent;
    }
    false
}

fn fields_param(req: &Req<'_>) -> Option<Vec<String>> {
    req.query
        .get("sysparm_fields")
        .filter(|f| !f.is_empty())
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
}

pub(crate) fn handle(req: &Req<'_>, rest: &[&str]) -> Resp {
    if !authorized(req) {
        return failure(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            "Required to provide Auth information",
        );
    }
    match (rest, &req.parts.method) {
        ([table], _) if req.is_read() => list(req, table),
        ([table], &Method::POST) => create(req, table),
        ([_, id], _) if req.is_read() => get(req, id),
        ([_, id], &Method::PATCH | &Method::PUT) => update(req, id),
        ([_, id], &Method::DELETE) => delete(req, id),
        ([_] | [_, _], _) => failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
            "Requested method is not supported for this resource",
        ),
        _ => failure(
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
            "",
        ),
    }
}

fn list(req: &Req<'_>, table: &str) -> Resp {
    let cap = req.config().servicenow_max_limit.max(1);
    let number = |name: &str| -> Result<Option<u64>, Resp> {
        match req.query.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| {
                bad_request(&format!(
                    "{name} must be a non-negative integer, got {raw:?}"
                ))
            }),
        }
    };
    let (offset, limit) = match (number("sysparm_offset"), number("sysparm_limit")) {
        (Ok(offset), Ok(limit)) => (offset.unwrap_or(0), limit.unwrap_or(cap).min(cap)),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let (conds, sorts) = match parse_query(req.query.get("sysparm_query").unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(detail) => return bad_request(&detail),
    };
    let fields = fields_param(req);
    let store = req.shared.read_store();
    let ids = select(&store, &conds, &sorts);
    let total = ids.len() as u64;
    let page: Vec<Value> = window(&ids, offset, limit)
        .iter()
        .filter_map(|&id| Rec::load(&store, id))
        .map(|rec| render(&rec, fields.as_deref()))
        .collect();
    drop(store);

    let base = format!("{}{}", req.origin(), req.parts.uri.path());
    let link = |off: u64, rel: &str| {
        let query = req.query.rebuild(
            &["sysparm_offset", "sysparm_limit"],
            &[
                ("sysparm_limit", limit.to_string()),
                ("sysparm_offset", off.to_string()),
            ],
        );
        format!("<{base}?{query}>;rel=\"{rel}\"")
    };
    let last = if total == 0 || limit == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut links = vec![link(0, "first")];
    if offset > 0 {
        links.push(link(offset.saturating_sub(limit), "prev"));
    }
    if limit > 0 && offset + limit < total {
        links.push(link(offset + limit, "next"));
    }
    links.push(link(last, "last"));

    let _ = table;
    let mut resp = reply(StatusCode::OK, JSON, &json!({ "result": page }));
    set_header(&mut resp, "x-total-count", total);
    set_header(&mut resp, "link", links.join(","));
    resp
}

fn get(req: &Req<'_>, raw_id: &str) -> Resp {
    let Some(id) = parse_sys_id(raw_id) else {
        return not_found();
    };
    let fields = fields_param(req);
    match Rec::load(&req.shared.read_store(), id) {
        Some(rec) => reply(
            StatusCode::OK,
            JSON,
            &json!({"result": render(&rec, fields.as_deref())}),
        ),
        None => not_found(),
    }
}

/// The body's fields a write may set, or the error answer.
fn body_fields(req: &Req<'_>) -> Result<Map<String, Value>, Resp> {
    match req.json_body() {
        Some(Value::Object(map)) => Ok(writable(
            &map,
            &[
                "sys_id",
                "sys_created_on",
                "sys_updated_on",
                "id",
                "updated_at",
            ],
        )),
        _ => Err(failure(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "The payload is not valid JSON.",
        )),
    }
}

fn written(req: &Req<'_>, id: u64, status: StatusCode) -> Resp {
    let rec = Rec::load(&req.shared.read_store(), id);
    match rec {
        Some(rec) => {
            let mut resp = reply(status, JSON, &json!({"result": render(&rec, None)}));
            if status == StatusCode::CREATED {
                let location = format!("{}{}/{}", req.origin(), req.parts.uri.path(), sys_id(id));
                set_header(&mut resp, "location", location);
            }
            resp
        }
        None => not_found(),
    }
}

fn create(req: &Req<'_>, _table: &str) -> Resp {
    let fields = match body_fields(req) {
        Ok(fields) => fields,
        Err(resp) => return resp,
    };
    let (id, _) = req.shared.write_store().create(&fields);
    written(req, id, StatusCode::CREATED)
}

fn update(req: &Req<'_>, raw_id: &str) -> Resp {
    let fields = match body_fields(req) {
        Ok(fields) => fields,
        Err(resp) => return resp,
    };
    let Some(id) = parse_sys_id(raw_id) else {
        return not_found();
    };
    if req.shared.write_store().merge(id, &fields).is_none() {
        return not_found();
    }
    written(req, id, StatusCode::OK)
}

fn delete(req: &Req<'_>, raw_id: &str) -> Resp {
    match parse_sys_id(raw_id) {
        Some(id) if req.shared.write_store().remove(id) => no_content(),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_ids_round_trip() {
        for id in [1, 42, 1050, u64::MAX] {
            let s = sys_id(id);
            assert_eq!(s.len(), 32);
            assert_eq!(parse_sys_id(&s), Some(id));
        }
        assert_eq!(parse_sys_id(&"0".repeat(32)), None);
    }

    #[test]
    fn encoded_queries() {
        let (conds, sorts) = parse_query(
            "sys_updated_on>=2026-03-01 00:00:00^categoryINbooks,toys^ORDERBYDESCamount",
        )
        .unwrap();
        assert_eq!(conds.len(), 2);
        assert_eq!(
            conds[0],
            Cond::cmp(Target::Stamp, Op::Gte, Scalar::Num(1_772_323_200.0))
        );
        assert_eq!(
            conds[1].test,
            Test::In(vec![
                Scalar::Text("books".into()),
                Scalar::Text("toys".into())
            ])
        );
        assert_eq!(
            sorts,
            vec![Sort {
                target: Target::Field("amount".into()),
                desc: true
            }]
        );
        assert!(parse_query("sys_updated_on>yesterday").is_err());
        assert!(parse_query("name^ORactive=true").is_err());
    }
}
