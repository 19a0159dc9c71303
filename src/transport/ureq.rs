//! The native blocking transport over ureq: one agent, connections reused.

use std::io::ErrorKind as IoKind;

use crate::core::{Method, Request, Response, TransportError, TransportErrorKind};

/// Sends requests with one [`ureq::Agent`] (so connections are pooled and
/// reused). Redirects are not followed here: the core follows them, so it can
/// refuse origins the API does not allow and keep credentials and configured
/// headers on the API's own origin.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    body_limit: u64,
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A transport with pagewise's defaults: no automatic redirects, statuses
    /// returned as answers (not errors), up to 256 idle connections kept, and
    /// bodies of at most 256 MiB.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(256)
            .max_idle_connections_per_host(256)
            .user_agent(concat!("pagewise/", env!("CARGO_PKG_VERSION")))
            .build();
        UreqTransport {
            agent: ureq::Agent::new_with_config(config),
            body_limit: 256 * 1024 * 1024,
        }
    }

    /// A transport over an agent you configured (proxy, TLS, ...). Set
    /// `http_status_as_error(false)` and `max_redirects(0)` on it.
    pub fn with_agent(agent: ureq::Agent) -> Self {
        UreqTransport {
            agent,
            body_limit: 256 * 1024 * 1024,
        }
    }

    /// Sends `req` and reads the whole answer.
    pub fn send(&self, req: &Request) -> Result<Response, TransportError> {
        let method = match req.method {
            Method::Get => ureq::http::Method::GET,
            Method::Post => ureq::http::Method::POST,
            Method::Put => ureq::http::Method::PUT,
            Method::Patch => ureq::http::Method::PATCH,
            Method::Delete => ureq::http::Method::DELETE,
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(&req.url);
        for h in &req.headers {
            builder = builder.header(&h.name, &h.value);
        }
        let built = match &req.body {
            Some(body) => builder.body(body.clone()).map(|r| self.run(r, req)),
            None => builder.body(()).map(|r| self.run(r, req)),
        };
        match built {
            Ok(result) => result.map_err(|mut e| {
                // Keep a credential carried in the query string out of messages.
                e.message = e.message.replace(&req.url, &req.redacted_url());
                e
            }),
            Err(e) => Err(TransportError::new(
                TransportErrorKind::Other,
                format!("cannot build the request: {e}"),
            )),
        }
    }

    fn run<B: ureq::AsSendBody>(
        &self,
        http_req: ureq::http::Request<B>,
        req: &Request,
    ) -> Result<Response, TransportError> {
        let http_req = self
            .agent
            .configure_request(http_req)
            .timeout_global(req.timeout)
            .build();
        let mut resp = self.agent.run(http_req).map_err(map_error)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.body_limit)
            .read_to_vec()
            .map_err(map_error)?;
        Ok(Response {
            status,
            headers,
            body,
            attachment: None,
        })
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => TransportErrorKind::Connect,
        ureq::Error::Io(io) => match io.kind() {
            IoKind::ConnectionRefused | IoKind::AddrNotAvailable | IoKind::NotFound => {
                TransportErrorKind::Connect
            }
            IoKind::TimedOut | IoKind::WouldBlock => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Io,
        },
        ureq::Error::Protocol(_) => TransportErrorKind::Io,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, e.to_string())
}
