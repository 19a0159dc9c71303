//! An OAuth 2.0 token endpoint and bearer tokens that expire (off until
//! enabled with [`TestServer::enable_oauth`](crate::TestServer::enable_oauth)
//! or `POST /_oauth`).
//!
//! - `POST /oauth2/token`, an `application/x-www-form-urlencoded` body
//!   (RFC 6749): `grant_type=client_credentials` (§4.4) or
//!   `grant_type=refresh_token&refresh_token=..` (§6); the client
//!   authenticates with HTTP Basic or `client_id`/`client_secret` in the
//!   body. Answers `{"access_token","token_type":"Bearer","expires_in",
//!   "refresh_token"}` (the refresh token rotates at each use), or, with
//!   `salesforce: true`, Salesforce's shape (no `expires_in`;
//!   `instance_url`, `issued_at`, `signature`). Errors are RFC 6749 §5.2
//!   JSON: `{"error":"invalid_client"|"invalid_grant"|"unsupported_grant_type"|"invalid_request", "error_description"}`.
//! - Every other path but `/_…` control paths answers `401`
//!   (`WWW-Authenticate: Bearer error="invalid_token"`) unless it carries
//!   `Authorization: Bearer <token>` with a token issued here and not
//!   expired.
//! - `GET /_oauth`: `{"enabled","tokenCalls","issued","refused"}`;
//!   `POST /_oauth` with `{"clientId","clientSecret","lifetimeMs","salesforce"?,"refreshToken"?}`
//!   enables it (counters reset); `DELETE /_oauth` turns it off.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Deserialize;

use crate::server::{json, Resp};

/// How the token endpoint behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthConfig {
    /// The one client id accepted.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// How long an access token lasts, in milliseconds.
    pub lifetime_ms: u64,
    /// Answer as Salesforce does (no `expires_in`).
    #[serde(default)]
    pub salesforce: bool,
    /// A refresh token accepted from the start (for the refresh-token grant).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// What the token endpoint has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Requests to `/oauth2/token`, good or bad.
    pub token_calls: u64,
    /// Access tokens issued.
    pub issued: u64,
    /// Data requests refused with 401.
    pub refused: u64,
}

#[derive(Default)]
pub(crate) struct OAuth {
    state: Mutex<Option<State>>,
    token_calls: AtomicU64,
    issued: AtomicU64,
    refused: AtomicU64,
}

struct State {
    config: OAuthConfig,
    tokens: HashMap<String, Instant>,
    refresh_tokens: HashSet<String>,
    serial: u64,
}

impl OAuth {
    pub(crate) fn enable(&self, config: OAuthConfig) {
        let mut refresh_tokens = HashSet::new();
        if let Some(r) = &config.refresh_token {
            refresh_tokens.insert(r.clone());
        }
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(State {
            config,
            tokens: HashMap::new(),
            refresh_tokens,
            serial: 0,
        });
        self.token_calls.store(0, Ordering::Relaxed);
        self.issued.store(0, Ordering::Relaxed);
        self.refused.store(0, Ordering::Relaxed);
    }

    pub(crate) fn disable(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn stats(&self) -> OAuthStats {
        OAuthStats {
            token_calls: self.token_calls.load(Ordering::Relaxed),
            issued: self.issued.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    fn enabled(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Resp {
    json(
        status,
        serde_json::json!({ "error": error, "error_description": description }).to_string(),
    )
}

/// The hook of `server::handle`: answers `/_oauth`, the token endpoint and
/// refused data requests; hands any other request back.
pub(crate) async fn intercept(
    oauth: &OAuth,
    parts: &Parts,
    incoming: Incoming,
) -> Result<Resp, Incoming> {
    let path = parts.uri.path();
    if path == "/_oauth" {
        return Ok(control(oauth, parts, incoming).await);
    }
    if !oauth.enabled() || path.starts_with("/_") || parts.method == Method::OPTIONS {
        return Err(incoming);
    }
    if path == "/oauth2/token" {
        oauth.token_calls.fetch_add(1, Ordering::Relaxed);
        if parts.method != Method::POST {
            return Ok(oauth_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "POST only",
            ));
        }
        let body = match read(incoming).await {
            Some(b) => b,
            None => {
                return Ok(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "unreadable body",
                ))
            }
        };
        return Ok(token(oauth, parts, &body));
    }
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = {
        let state = oauth.state.lock().unwrap_or_else(PoisonError::into_inner);
        match (state.as_ref(), bearer) {
            (Some(s), Some(t)) => s.tokens.get(t).is_some_and(|exp| Instant::now() < *exp),
            _ => false,
        }
    };
    if valid {
        return Err(incoming);
    }
    oauth.refused.fetch_add(1, Ordering::Relaxed);
    let mut resp = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        if bearer.is_some() {
            "the token is unknown or expired"
        } else {
            "no bearer token"
        },
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    Ok(resp)
}

async fn read(incoming: Incoming) -> Option<Bytes> {
    Limited::new(incoming, 64 * 1024)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

async fn control(oauth: &OAuth, parts: &Parts, incoming: Incoming) -> Resp {
    match parts.method {
        Method::GET => {
            let s = oauth.stats();
            json(
                StatusCode::OK,
                serde_json::json!({
                    "enabled": oauth.enabled(),
                    "tokenCalls": s.token_calls,
                    "issued": s.issued,
                    "refused": s.refused,
                })
                .to_string(),
            )
        }
        Method::POST => {
            let Some(body) = read(incoming).await else {
                return crate::server::error(StatusCode::BAD_REQUEST, "unreadable body");
            };
            match serde_json::from_slice::<OAuthConfig>(&body) {
                Ok(config) => {
                    oauth.enable(config);
                    crate::server::no_content()
                }
                Err(e) => crate::server::error(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        Method::DELETE => {
            oauth.disable();
            crate::server::no_content()
        }
        _ => crate::server::error(StatusCode::METHOD_NOT_ALLOWED, "GET, POST or DELETE"),
    }
}

/// `application/x-www-form-urlencoded` decoding of a whole body.
fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn token(oauth: &OAuth, parts: &Parts, body: &Bytes) -> Resp {
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let params = form(body);
    // Client authentication: HTTP Basic (each part form-encoded) or the body.
    let basic = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(decode_basic);
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    let mut guard = oauth.state.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(state) = guard.as_mut() else {
        return oauth_error(StatusCode::NOT_FOUND, "invalid_request", "off");
    };
    if id != state.config.client_id || secret != state.config.client_secret {
        let mut resp = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"token\""),
        );
        return resp;
    }
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some("refresh_token") => {
            let given = params.get("refresh_token").cloned().unwrap_or_default();
            if !state.refresh_tokens.remove(&given) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is invalid, expired or already used",
                );
            }
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "client_credentials or refresh_token",
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            )
        }
    }
    state.serial += 1;
    let now = Instant::now();
    // Expired tokens are forgotten (a long test issues many).
    state.tokens.retain(|_, exp| *exp > now);
    let access = format!(
        "at-{}-{:x}",
        state.serial,
        crate::store::mix64(state.serial)
    );
    let lifetime = Duration::from_millis(state.config.lifetime_ms);
    state.tokens.insert(access.clone(), now + lifetime);
    oauth.issued.fetch_add(1, Ordering::Relaxed);
    let refresh = format!(
        "rt-{}-{:x}",
        state.serial,
        crate::store::mix64(!state.serial)
    );
    state.refresh_tokens.insert(refresh.clone());
    let body = if state.config.salesforce {
        serde_json::json!({
            "access_token": access,
            "instance_url": "https://example.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00D/005",
            "token_type": "Bearer",
            "issued_at": "1700000000000",
            "signature": "c2lnbmF0dXJl",
        })
    } else {
        serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state.config.lifetime_ms as f64 / 1000.0,
            "refresh_token": refresh,
        })
    };
    let mut resp = json(StatusCode::OK, body.to_string());
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn decode_basic(b64: &str) -> Option<(String, String)> {
    let bytes = base64_decode(b64.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
