//! GitHub REST: `/repos/{owner}/{repo}/issues` and `/issues/{number}`,
//! with GitHub's rate-limit headers and answers. Every repository serves
//! the one collection: the record id is the issue number.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::{
    parse_instant, reply, select, set_header, window, writable, Cond, Op, Rec, Req, Scalar, Sort,
    Target, JSON_UTF8,
};
use crate::server::Resp;
use crate::time::format_rfc3339;

const DOCS: &str = "https://docs.github.com/rest";
const RATE_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const SECONDARY_DOCS: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// The primary budget's window and use, and the secondary limit's state.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// End of the current window, Unix seconds (0: no window yet).
    reset: u64,
    used: u64,
    requests: u64,
    secondary_until: Option<Instant>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn message(status: StatusCode, message: &str, docs: &str) -> Resp {
    reply(
        status,
        JSON_UTF8,
        &json!({"message": message, "documentation_url": docs, "status": status.as_u16().to_string()}),
    )
}

fn limit_status(code: u16) -> StatusCode {
    if code == 429 {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::FORBIDDEN
    }
}

pub(crate) fn handle(req: &Req<'_>, owner: &str, repo: &str, rest: &[&str]) -> Resp {
    if let Some(token) = &req.config().token {
        let sent = req.header("authorization").and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                .then(|| rest.trim())
        });
        if sent != Some(token.as_str()) {
            return message(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS);
        }
    }
    let config = req.config();
    let budget = config.github_budget;
    let window = config.github_window.as_secs().max(1);
    // Secondary limit first: it does not use the primary budget.
    let (limited, used, reset) = {
        let mut state = req.shared.families.lock();
        let gh = &mut state.github;
        let now = now_secs();
        if gh.reset == 0 || now >= gh.reset {
            gh.reset = now + window;
            gh.used = 0;
        }
        gh.requests += 1;
        let mut limited = None;
        if let Some(secondary) = config.github_secondary {
            let holding = gh
                .secondary_until
                .is_some_and(|until| Instant::now() < until);
            if holding || gh.requests.is_multiple_of(secondary.every.max(1)) {
                if !holding {
                    gh.secondary_until = Some(
                        Instant::now() + std::time::Duration::from_secs(secondary.retry_after_secs),
                    );
                }
                limited = Some(Limited::Secondary(
                    secondary.status,
                    secondary.retry_after_secs,
                ));
            }
        }
        if limited.is_none() {
            if gh.used >= budget {
                limited = Some(Limited::Primary);
            } else {
                gh.used += 1;
            }
        }
        (limited, gh.used, gh.reset)
    };
    let mut resp = match limited {
        Some(Limited::Primary) => message(
            limit_status(config.github_limit_status),
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
            RATE_DOCS,
        ),
        Some(Limited::Secondary(status, retry_after)) => {
            let mut resp = message(
                limit_status(status),
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
                SECONDARY_DOCS,
            );
            set_header(&mut resp, "retry-after", retry_after);
            resp
        }
        None => dispatch(req, owner, repo, rest),
    };
    set_header(&mut resp, "x-ratelimit-limit", budget);
    set_header(
        &mut resp,
        "x-ratelimit-remaining",
        budget.saturating_sub(used),
    );
    set_header(&mut resp, "x-ratelimit-reset", reset);
    set_header(&mut resp, "x-ratelimit-used", used);
    set_header(&mut resp, "x-ratelimit-resource", "core");
    resp
}

enum Limited {
    Primary,
    Secondary(u16, u64),
}

fn dispatch(req: &Req<'_>, owner: &str, repo: &str, rest: &[&str]) -> Resp {
    match (rest, &req.parts.method) {
        ([], _) if req.is_read() => list(req, owner, repo),
        ([], &Method::POST) => create(req, owner, repo),
        ([number], _) if req.is_read() => get(req, owner, repo, number),
        ([number], &Method::PATCH) => update(req, owner, repo, number),
        _ => message(StatusCode::NOT_FOUND, "Not Found", DOCS),
    }
}

/// The issue as GitHub shows it: `title` is the stored `name`, `body` the
/// `description`, `state` the `active` flag (`open`/`closed`), `labels`
/// the `category`; other stored fields follow as they are.
fn render(origin: &str, owner: &str, repo: &str, rec: &Rec) -> Value {
    let n = rec.id;
    let mut out = Map::new();
    let api = format!("{origin}/repos/{owner}/{repo}/issues/{n}");
    out.insert("url".into(), Value::from(api.clone()));
    out.insert(
        "comments_url".into(),
        Value::from(format!("{api}/comments")),
    );
    out.insert(
        "html_url".into(),
        Value::from(format!("{origin}/{owner}/{repo}/issues/{n}")),
    );
    out.insert("id".into(), Value::from(1_000_000_000 + n));
    out.insert(
        "node_id".into(),
        Value::from(format!("I_kwDO{}", super::base62(n, 8))),
    );
    out.insert("number".into(), Value::from(n));
    let get = |k: &str| rec.fields.get(k).cloned().unwrap_or(Value::Null);
    out.insert("title".into(), get("name"));
    let open = rec
        .fields
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    out.insert(
        "state".into(),
        Value::from(if open { "open" } else { "closed" }),
    );
    let labels: Vec<Value> = rec
        .fields
        .get("category")
        .and_then(Value::as_str)
        .map(|c| json!({"name": c}))
        .into_iter()
        .collect();
    out.insert("labels".into(), Value::from(labels));
    out.insert("comments".into(), Value::from(0));
    out.insert(
        "created_at".into(),
        Value::from(format_rfc3339(rec.created())),
    );
    out.insert("updated_at".into(), Value::from(format_rfc3339(rec.stamp)));
    out.insert(
        "closed_at".into(),
        if open {
            Value::Null
        } else {
            Value::from(format_rfc3339(rec.stamp))
        },
    );
    out.insert("body".into(), get("description"));
    for (key, value) in &rec.fields {
        if !matches!(key.as_str(), "name" | "description" | "active" | "category")
            && !out.contains_key(key)
        {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn validation(message: &str) -> Resp {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        JSON_UTF8,
        &json!({"message": "Validation Failed", "errors": [{"message": message, "code": "invalid"}], "documentation_url": DOCS, "status": "422"}),
    )
}

fn list(req: &Req<'_>, owner: &str, repo: &str) -> Resp {
    let q = &req.query;
    let number = |name: &str, default: u64| -> u64 {
        // GitHub ignores values it cannot read.
        q.get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let per_page = number("per_page", 30).clamp(1, 100);
    let page = number("page", 1).max(1);
    let mut conds = Vec::new();
    if let Some(since) = q.get("since").filter(|s| !s.is_empty()) {
        match parse_instant(since, false) {
            Some(secs) => conds.push(Cond::cmp(Target::Stamp, Op::Gte, Scalar::Num(secs as f64))),
            None => {
                return validation(&format!(
                    "'{since}' is not a valid ISO 8601 timestamp for since"
                ))
            }
        }
    }
    match q.get("state").unwrap_or("open") {
        "open" => conds.push(Cond::cmp(
            Target::Field("active".into()),
            Op::Ne,
            Scalar::Text("false".into()),
        )),
        "closed" => conds.push(Cond::cmp(
            Target::Field("active".into()),
            Op::Eq,
            Scalar::Text("false".into()),
        )),
        "all" => {}
        other => {
            return validation(&format!(
                "'{other}' is not a valid state (open, closed, all)"
            ))
        }
    }
    let sort_target = match q.get("sort").unwrap_or("created") {
        "created" => Target::Created,
        "updated" => Target::Stamp,
        other => return validation(&format!("'{other}' is not a valid sort (created, updated)")),
    };
    let desc = match q.get("direction").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => return validation(&format!("'{other}' is not a valid direction (asc, desc)")),
    };
    let origin = req.origin();
    let store = req.shared.read_store();
    let ids = select(
        &store,
        &conds,
        &[Sort {
            target: sort_target,
            desc,
        }],
    );
    let total = ids.len() as u64;
    let items: Vec<Value> = window(&ids, (page - 1) * per_page, per_page)
        .iter()
        .filter_map(|&id| Rec::load(&store, id))
        .map(|rec| render(&origin, owner, repo, &rec))
        .collect();
    drop(store);

    let last = total.div_ceil(per_page).max(1);
    let base = format!("{origin}{}", req.parts.uri.path());
    let link = |p: u64, rel: &str| {
        let query = q.rebuild(
            &["page", "per_page"],
            &[("per_page", per_page.to_string()), ("page", p.to_string())],
        );
        format!("<{base}?{query}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    let mut resp = reply(StatusCode::OK, JSON_UTF8, &Value::Array(items));
    if !links.is_empty() {
        set_header(&mut resp, "link", links.join(", "));
    }
    resp
}

fn not_found() -> Resp {
    message(
        StatusCode::NOT_FOUND,
        "Not Found",
        "https://docs.github.com/rest/issues/issues#get-an-issue",
    )
}

fn get(req: &Req<'_>, owner: &str, repo: &str, raw: &str) -> Resp {
    let rec = raw
        .parse::<u64>()
        .ok()
        .and_then(|n| Rec::load(&req.shared.read_store(), n));
    match rec {
        Some(rec) => reply(
            StatusCode::OK,
            JSON_UTF8,
            &render(&req.origin(), owner, repo, &rec),
        ),
        None => not_found(),
    }
}

/// The stored fields an issue body sets (`title` → `name`, `body` →
/// `description`, first label → `category`, `state` → `active`).
fn fields_from(body: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = writable(
        body,
        &[
            "title",
            "body",
            "labels",
            "state",
            "number",
            "id",
            "updated_at",
            "created_at",
            "url",
        ],
    );
    if let Some(title) = body.get("title") {
        fields.insert("name".into(), title.clone());
    }
    if let Some(text) = body.get("body") {
        fields.insert("description".into(), text.clone());
    }
    if let Some(label) = body
        .get("labels")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    {
        let name = label.get("name").unwrap_or(label).clone();
        fields.insert("category".into(), name);
    }
    if let Some(state) = body.get("state").and_then(Value::as_str) {
        fields.insert("active".into(), Value::from(state != "closed"));
    }
    fields
}

fn body_object(req: &Req<'_>) -> Result<Map<String, Value>, Resp> {
    match req.json_body() {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(message(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
            DOCS,
        )),
    }
}

fn create(req: &Req<'_>, owner: &str, repo: &str) -> Resp {
    let body = match body_object(req) {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    if !body
        .get("title")
        .is_some_and(|t| t.is_string() || t.is_number())
    {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            JSON_UTF8,
            &json!({"message": "Invalid request.\n\n\"title\" wasn't supplied.", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422"}),
        );
    }
    let mut fields = fields_from(&body);
    fields.entry("active").or_insert(Value::Bool(true));
    let (id, _) = req.shared.write_store().create(&fields);
    let Some(rec) = Rec::load(&req.shared.read_store(), id) else {
        return not_found();
    };
    let value = render(&req.origin(), owner, repo, &rec);
    let mut resp = reply(StatusCode::CREATED, JSON_UTF8, &value);
    set_header(
        &mut resp,
        "location",
        value["url"].as_str().unwrap_or_default(),
    );
    resp
}

fn update(req: &Req<'_>, owner: &str, repo: &str, raw: &str) -> Resp {
    let body = match body_object(req) {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let Some(n) = raw.parse::<u64>().ok() else {
        return not_found();
    };
    if req
        .shared
        .write_store()
        .merge(n, &fields_from(&body))
        .is_none()
    {
        return not_found();
    }
    get(req, owner, repo, raw)
}
