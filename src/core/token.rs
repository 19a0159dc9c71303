//! Tokens that expire: the [`TokenProvider`] a program hands pagewise, the
//! [`Token`] it answers with, and the built-in OAuth 2.0 grants
//! ([`OAuth2`]). Sans-IO: this module builds the token endpoint's request
//! and reads its answer; asking, keeping and refreshing the token (one
//! refresh at a time per `Api`) is the shared token state's
//! (`src/shared/token.rs`), and the driver's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::http::{Header, Method, Request, RequestId, Response};
use super::url::{form_urlencode as form_encode, Url};
use crate::error::{Error, ErrorKind, Result};

/// The error a [`TokenProvider`] may fail with: any error type.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// The error a [`TokenProvider`] may fail with: any error type.
#[cfg(target_arch = "wasm32")]
pub type BoxError = Box<dyn std::error::Error + 'static>;

/// What [`TokenProvider::token`] returns (`Send` on native targets).
#[cfg(not(target_arch = "wasm32"))]
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<Token, BoxError>> + Send>>;
/// What [`TokenProvider::token`] returns (`Send` on native targets).
#[cfg(target_arch = "wasm32")]
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<Token, BoxError>>>>;

/// A source of tokens, asked by pagewise when a request needs one: before
/// the first request, when the token it gave has expired (see
/// [`Token::expires_in`]), and once when the API answers 401 (the request
/// is then sent again, once, with the new token). One `Api` asks one
/// question at a time: requests that need a token while it is being asked
/// wait for that answer, and none is sent meanwhile.
///
/// Closures are simpler: [`Auth::provider`](crate::Auth::provider) and
/// [`Auth::provider_async`](crate::Auth::provider_async).
///
/// ```
/// use pagewise::{Auth, Token, TokenFuture, TokenProvider};
///
/// struct Vault;
/// impl TokenProvider for Vault {
///     fn token(&self) -> TokenFuture {
///         Box::pin(async { Ok(Token::bearer("t0ken")) })
///     }
/// }
/// let auth = Auth::token_provider(Vault);
/// assert_eq!(format!("{auth:?}"), "Provider(<redacted>)");
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub trait TokenProvider: Send + Sync + 'static {
    /// A new token (asked again when it expires or is refused).
    fn token(&self) -> TokenFuture;
}

/// A source of tokens (see the native docs); `Send` is not needed in wasm32.
#[cfg(target_arch = "wasm32")]
pub trait TokenProvider: 'static {
    /// A new token (asked again when it expires or is refused).
    fn token(&self) -> TokenFuture;
}

/// A token: the header it is sent in (`Authorization: Bearer <token>` by
/// default) and, if known, how long it lasts. `Debug` never prints it.
///
/// ```
/// use std::time::Duration;
/// let t = pagewise::Token::bearer("abc").expires_in(Duration::from_secs(3600));
/// assert_eq!(format!("{t:?}"), "Token { header: \"Authorization\", value: <redacted>, expires_in: Some(3600s) }");
/// let k = pagewise::Token::header("X-Api-Key", "k3y");
/// assert!(!format!("{k:?}").contains("k3y"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub(crate) header: String,
    pub(crate) value: String,
    pub(crate) expires_in: Option<Duration>,
}

impl Token {
    /// Sent as `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Self {
        Token {
            header: "Authorization".into(),
            value: format!("Bearer {}", token.into()),
            expires_in: None,
        }
    }

    /// Sent as the header `name: value`, value as is.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Self {
        Token {
            header: name.into(),
            value: value.into(),
            expires_in: None,
        }
    }

    /// How long the token lasts from now: it is asked again a little
    /// before (the smaller of 30 s and a tenth of the lifetime). Without
    /// it, a token is kept until the API refuses it (401).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    pub(crate) fn to_header(&self) -> Header {
        Header {
            name: self.header.clone(),
            value: self.value.clone(),
            sensitive: true,
        }
    }
}

impl From<String> for Token {
    /// A bearer token.
    fn from(token: String) -> Self {
        Token::bearer(token)
    }
}

impl From<&str> for Token {
    /// A bearer token.
    fn from(token: &str) -> Self {
        Token::bearer(token)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("header", &self.header)
            .field("value", &format_args!("<redacted>"))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A [`TokenProvider`] held by an [`Auth`](crate::Auth): compared by identity.
#[derive(Clone)]
pub struct Provider(pub(crate) Arc<dyn TokenProvider>);

impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Provider {}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A sync closure as a provider.
pub(crate) struct SyncProvider<F>(pub(crate) F);

#[cfg(not(target_arch = "wasm32"))]
impl<F, T, E> TokenProvider for SyncProvider<F>
where
    F: Fn() -> std::result::Result<T, E> + Send + Sync + 'static,
    T: Into<Token>,
    E: Into<BoxError>,
{
    fn token(&self) -> TokenFuture {
        let answer = (self.0)().map(Into::into).map_err(Into::into);
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(target_arch = "wasm32")]
impl<F, T, E> TokenProvider for SyncProvider<F>
where
    F: Fn() -> std::result::Result<T, E> + 'static,
    T: Into<Token>,
    E: Into<BoxError>,
{
    fn token(&self) -> TokenFuture {
        let answer = (self.0)().map(Into::into).map_err(Into::into);
        Box::pin(std::future::ready(answer))
    }
}

/// A closure returning a future as a provider.
pub(crate) struct AsyncProvider<F>(pub(crate) F);

#[cfg(not(target_arch = "wasm32"))]
impl<F, Fut, T, E> TokenProvider for AsyncProvider<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    T: Into<Token>,
    E: Into<BoxError>,
{
    fn token(&self) -> TokenFuture {
        let fut = (self.0)();
        Box::pin(async move { fut.await.map(Into::into).map_err(Into::into) })
    }
}

#[cfg(target_arch = "wasm32")]
impl<F, Fut, T, E> TokenProvider for AsyncProvider<F>
where
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = std::result::Result<T, E>> + 'static,
    T: Into<Token>,
    E: Into<BoxError>,
{
    fn token(&self) -> TokenFuture {
        let fut = (self.0)();
        Box::pin(async move { fut.await.map(Into::into).map_err(Into::into) })
    }
}

/// The OAuth 2.0 grant a token is asked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (the default; what
    /// Salesforce expects).
    #[default]
    Body,
    /// HTTP Basic with the client id and secret.
    Basic,
}

/// The built-in OAuth 2.0 token source: pagewise asks the token endpoint
/// (a form POST, RFC 6749) before the first request, again a little before
/// the token expires (`expires_in`), and once when the API answers 401.
/// A `refresh_token` the endpoint rotates is kept. Salesforce's answer
/// (no `expires_in`; `instance_url`, `issued_at`) works: its token is kept
/// until the API refuses it.
///
/// The token URL must be `https` (plain `http` only on a loopback host);
/// its requests go through the `Api`'s transport with its timeout.
/// `Debug` prints no secret.
///
/// ```
/// use pagewise::{Api, Auth, OAuth2};
/// let api = Api::builder("https://api.example/v1/")
///     .auth(Auth::oauth2(
///         OAuth2::client_credentials("https://login.example/oauth2/token", "id", "s3cret")
///             .scope("read"),
///     ))
///     .build()
///     .unwrap();
/// assert!(!format!("{api:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OAuth2 {
    pub(crate) grant: Grant,
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) refresh_before: Option<Duration>,
}

impl OAuth2 {
    /// The client-credentials grant (RFC 6749 §4.4).
    pub fn client_credentials(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        OAuth2 {
            grant: Grant::ClientCredentials,
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            refresh_token: None,
            scope: None,
            client_auth: ClientAuth::Body,
            refresh_before: None,
        }
    }

    /// The refresh-token grant (RFC 6749 §6); the client secret is optional
    /// (public clients have none).
    pub fn refresh_token(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        OAuth2 {
            grant: Grant::RefreshToken,
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            refresh_token: Some(refresh_token.into()),
            scope: None,
            client_auth: ClientAuth::Body,
            refresh_before: None,
        }
    }

    /// The `scope` asked for.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// How the client authenticates to the token endpoint (default: in the body).
    pub fn client_auth(mut self, how: ClientAuth) -> Self {
        self.client_auth = how;
        self
    }

    /// How long before `expires_in` runs out the token is asked again
    /// (default: the smaller of 30 s and a tenth of the lifetime).
    pub fn refresh_before(mut self, ahead: Duration) -> Self {
        self.refresh_before = Some(ahead);
        self
    }

    /// The secrets of this configuration, to keep out of messages.
    pub(crate) fn secret_values(&self) -> Vec<&str> {
        self.client_secret
            .iter()
            .chain(self.refresh_token.iter())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Checks the configuration: a token URL that is `https`, or `http` on
    /// a loopback host; the members its grant needs.
    pub(crate) fn check(&self) -> Result<()> {
        let url = Url::parse(&self.token_url)
            .map_err(|_| Error::config("the OAuth 2.0 token URL (tokenUrl) is not a valid URL"))?;
        let host = url.origin().unwrap_or("").split("://").nth(1).unwrap_or("");
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(Error::config(format!(
                    "the OAuth 2.0 token URL {} must be https (plain http only on a loopback \
                     host): the client secret and the tokens would cross the network in clear",
                    crate::core::Secrets::default().redact_url(&self.token_url)
                )))
            }
        }
        if url.has_userinfo() {
            return Err(Error::config(
                "the OAuth 2.0 token URL must not carry a user name or password",
            ));
        }
        if self.client_id.is_empty() {
            return Err(Error::config("the OAuth 2.0 client id (clientId) is empty"));
        }
        if self.grant == Grant::RefreshToken
            && self.refresh_token.as_deref().unwrap_or("").is_empty()
        {
            return Err(Error::config(
                "the OAuth 2.0 refresh_token grant needs a refresh token (refreshToken)",
            ));
        }
        if self.grant == Grant::ClientCredentials && self.client_secret.is_none() {
            return Err(Error::config(
                "the OAuth 2.0 client_credentials grant needs a client secret (clientSecret)",
            ));
        }
        if self.client_auth == ClientAuth::Basic && self.client_secret.is_none() {
            return Err(Error::config(
                "clientAuth 'basic' needs a client secret (clientSecret)",
            ));
        }
        Ok(())
    }

    /// The token endpoint's request; `refresh_token` is the latest one
    /// (rotated by the endpoint) when the grant uses one.
    pub(crate) fn request(
        &self,
        id: RequestId,
        refresh_token: Option<&str>,
        timeout: Option<Duration>,
    ) -> Request {
        let mut form = Vec::new();
        match self.grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials")),
            Grant::RefreshToken => {
                form.push(("grant_type", "refresh_token"));
                form.push((
                    "refresh_token",
                    refresh_token
                        .or(self.refresh_token.as_deref())
                        .unwrap_or(""),
                ));
            }
        }
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let mut headers = vec![
            Header {
                name: "Accept".into(),
                value: "application/json".into(),
                sensitive: false,
            },
            Header {
                name: "Content-Type".into(),
                value: "application/x-www-form-urlencoded".into(),
                sensitive: false,
            },
        ];
        match self.client_auth {
            ClientAuth::Body => {
                form.push(("client_id", &self.client_id));
                if let Some(secret) = &self.client_secret {
                    form.push(("client_secret", secret));
                }
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded before Basic.
                let pair = format!(
                    "{}:{}",
                    form_encode(&self.client_id),
                    form_encode(self.client_secret.as_deref().unwrap_or(""))
                );
                headers.push(Header {
                    name: "Authorization".into(),
                    value: format!("Basic {}", super::api::base64(pair.as_bytes())),
                    sensitive: true,
                });
            }
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Request {
            id,
            method: Method::Post,
            url: self.token_url.clone(),
            headers,
            body: Some(body.into_bytes()),
            timeout,
            records_at: None,
            in_order: None,
            secrets: Default::default(),
        }
    }

    /// Reads the token endpoint's answer: the token, how long it lasts,
    /// and a rotated refresh token. Errors are [`ErrorKind::Auth`], with
    /// the endpoint's `error` and `error_description`, never a secret.
    pub(crate) fn read_answer(&self, resp: &Response) -> Result<Granted> {
        let redact = |s: String| {
            self.secret_values()
                .iter()
                .fold(s, |s, secret| s.replace(secret, "<redacted>"))
        };
        let fail = |message: String| {
            Error::new(ErrorKind::Auth, redact(message))
                .with_url(crate::core::Secrets::default().redact_url(&self.token_url))
                .with_status(resp.status)
        };
        let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        let text = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(|v| v.as_str())
                .map(|s| s.chars().take(300).collect::<String>())
        };
        if !(200..300).contains(&resp.status) {
            let mut message = format!("the OAuth 2.0 token endpoint answered {}", resp.status);
            if let Some(e) = text("error") {
                message.push_str(&format!(": {e}"));
            }
            if let Some(d) = text("error_description") {
                message.push_str(&format!(" ({d})"));
            }
            return Err(fail(message));
        }
        let Some(token) = text("access_token").filter(|t| !t.is_empty()) else {
            return Err(fail(
                "the OAuth 2.0 token endpoint's answer has no access_token".into(),
            ));
        };
        // The whole token, not the 300 characters of a message.
        let token = json
            .as_ref()
            .and_then(|j| j.get("access_token"))
            .and_then(|v| v.as_str())
            .unwrap_or(&token)
            .to_string();
        if token.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(fail(
                "the OAuth 2.0 access token holds a line break or NUL".into(),
            ));
        }
        let expires_in = json
            .as_ref()
            .and_then(|j| j.get("expires_in"))
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            });
        let expires_in = expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(1e9)));
        let refresh_token = json
            .as_ref()
            .and_then(|j| j.get("refresh_token"))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let mut t = Token::bearer(token);
        t.expires_in = expires_in;
        Ok(Granted {
            token: t,
            refresh_token,
        })
    }
}

/// A token the endpoint granted, and the refresh token it rotated to.
pub(crate) struct Granted {
    pub(crate) token: Token,
    pub(crate) refresh_token: Option<String>,
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("grant", &self.grant)
            .field(
                "token_url",
                &crate::core::Secrets::default().redact_url(&self.token_url),
            )
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .field("client_auth", &self.client_auth)
            .field("refresh_before", &self.refresh_before)
            .finish()
    }
}

/// How long before a token of `lifetime` expires it is asked again.
pub(crate) fn refresh_ahead(lifetime: Duration, configured: Option<Duration>) -> Duration {
    configured
        .unwrap_or_else(|| (lifetime / 10).min(Duration::from_secs(30)))
        .min(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_basic() {
        let o =
            OAuth2::client_credentials("https://l.example/token", "my id", "s&c=t").scope("a b");
        let r = o.request(RequestId(1), None, None);
        let body = String::from_utf8(r.body.clone().unwrap()).unwrap();
        assert_eq!(
            body,
            "grant_type=client_credentials&scope=a+b&client_id=my+id&client_secret=s%26c%3Dt"
        );
        let b = o
            .clone()
            .client_auth(ClientAuth::Basic)
            .request(RequestId(1), None, None);
        assert!(!String::from_utf8(b.body.clone().unwrap())
            .unwrap()
            .contains("client_id"));
        assert!(b.header("authorization").unwrap().starts_with("Basic "));
        assert!(!format!("{o:?}").contains("s&c=t"));
    }

    #[test]
    fn answers() {
        let o = OAuth2::refresh_token("https://l.example/t", "id", None, "r1");
        let g = o
            .read_answer(&Response::new(
                200,
                r#"{"access_token":"a","expires_in":"60","refresh_token":"r2"}"#,
            ))
            .unwrap();
        assert_eq!(g.token.expires_in, Some(Duration::from_secs(60)));
        assert_eq!(g.refresh_token.as_deref(), Some("r2"));
        // Salesforce: no expires_in.
        let sf = o
            .read_answer(&Response::new(
                200,
                r#"{"access_token":"00D!x","instance_url":"https://x.my.salesforce.com","issued_at":"1","token_type":"Bearer"}"#,
            ))
            .unwrap();
        assert_eq!(sf.token.expires_in, None);
        let e = o
            .read_answer(&Response::new(
                400,
                r#"{"error":"invalid_grant","error_description":"bad r1"}"#,
            ))
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("invalid_grant"));
        assert!(!e.to_string().contains("r1"), "{e}");
    }

    #[test]
    fn token_url_checked() {
        let c = |u: &str| OAuth2::client_credentials(u, "i", "s").check();
        assert!(c("https://l.example/t").is_ok());
        assert!(c("http://127.0.0.1:8080/t").is_ok());
        assert!(c("http://localhost/t").is_ok());
        assert_eq!(
            c("http://l.example/t").unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            refresh_ahead(Duration::from_secs(2), None),
            Duration::from_millis(200)
        );
        assert_eq!(
            refresh_ahead(Duration::from_secs(3600), None),
            Duration::from_secs(30)
        );
    }
}
