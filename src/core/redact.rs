//! Keeping credentials out of messages.

use super::url::Url;

/// What must never be printed: names of query parameters that carry a credential.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// Removed from stored URLs and redacted in messages (the auth query parameter).
    pub(crate) query_params: Vec<String>,
    /// Only redacted in messages (default query parameters named like a secret).
    pub(crate) redacted_params: Vec<String>,
}

impl Secrets {
    /// `url` with user info removed and secret query values replaced by `REDACTED`.
    /// A URL that does not parse loses its query string and user info entirely.
    pub fn redact_url(&self, url: &str) -> String {
        match Url::parse(url) {
            Ok(u) => self.redact(u),
            Err(_) => {
                let no_query = url.split(['?', '#']).next().unwrap_or("");
                match no_query.rfind('@') {
                    Some(at) if no_query.contains("://") => {
                        let scheme_end = no_query.find("://").map(|i| i + 3).unwrap_or(0);
                        if at > scheme_end {
                            format!("{}{}", &no_query[..scheme_end], &no_query[at + 1..])
                        } else {
                            no_query.to_string()
                        }
                    }
                    _ => no_query.to_string(),
                }
            }
        }
    }

    /// [`redact_url`](Secrets::redact_url) of a URL already parsed (no
    /// second parse: in WebAssembly a parse is a trip to JavaScript).
    pub(crate) fn redact(&self, mut u: Url) -> String {
        u.clear_userinfo();
        if !(self.query_params.is_empty() && self.redacted_params.is_empty())
            && u.query().is_some()
        {
            let mut pairs = u.query_pairs();
            for (k, v) in &mut pairs {
                if self.query_params.iter().chain(&self.redacted_params).any(|s| s == k) {
                    *v = "REDACTED".to_string();
                }
            }
            u.set_query_pairs(&pairs, true);
        }
        u.to_string()
    }
}

impl Secrets {
    /// `url` without user info and without the secret query parameters, for
    /// storing (the secret is added back when the request is made).
    pub(crate) fn strip_url(&self, url: &str) -> String {
        match Url::parse(url) {
            Ok(mut u) => {
                u.clear_userinfo();
                if !self.query_params.is_empty() && u.query().is_some() {
                    let mut pairs = u.query_pairs();
                    pairs.retain(|(k, _)| !self.query_params.iter().any(|s| s == k));
                    u.set_query_pairs(&pairs, false);
                }
                u.to_string()
            }
            Err(_) => self.redact_url(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_user_info_and_secret_params() {
        let s = Secrets {
            query_params: vec!["api_key".into()],
            redacted_params: vec!["sig".into()],
        };
        let r = s.redact_url("https://bob:hunter2@h.example/x?api_key=abc&page=2&sig=zz");
        assert_eq!(r, "https://h.example/x?api_key=REDACTED&page=2&sig=REDACTED");
        // Stored URLs keep the signature (it is not added back on resume).
        assert_eq!(
            s.strip_url("https://h.example/x?api_key=abc&sig=zz"),
            "https://h.example/x?sig=zz"
        );
        assert!(!s.redact_url("nonsense://a:b@@?api_key=zz").contains("zz"));
    }
}
