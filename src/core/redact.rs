//! Keeping credentials out of messages.

use super::url::Url;

/// What must never be printed: names of query parameters that carry a credential.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// Removed from stored URLs and redacted in messages (the auth query parameter).
    pub(crate) query_params: Vec<String>,
    /// Redacted in messages (default query parameters named like a secret).
    pub(crate) redacted_params: Vec<String>,
    /// The default query pairs named like a secret, name and value: a pair
    /// equal to one of them is removed from stored URLs (a checkpoint holds
    /// no credential) and added back when the request is made
    /// (by `ApiSpec::request`). The same name with
    /// another value (a server's own signature in a link) is kept.
    pub(crate) stored_pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Secrets {
    /// Names only: never a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("query_params", &self.query_params)
            .field("redacted_params", &self.redacted_params)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// `url` with user info removed and secret query values replaced by `REDACTED`.
    /// A URL that does not parse loses its query string and user info entirely.
    pub fn redact_url(&self, url: &str) -> String {
        match Url::parse(url) {
            Ok(u) => self.redact(u),
            Err(_) => {
                let no_query = url.split(['?', '#']).next().unwrap_or("");
                let Some(at) = no_query.rfind('@') else {
                    return no_query.to_string();
                };
                match no_query.find("://").map(|i| i + 3) {
                    Some(scheme_end) if at > scheme_end => {
                        format!("{}{}", &no_query[..scheme_end], &no_query[at + 1..])
                    }
                    // No authority where user info would be (`user:password@host`
                    // written without a scheme): nothing up to the `@` is shown.
                    _ => no_query[at + 1..].to_string(),
                }
            }
        }
    }

    /// `url` as shown when it has no `scheme://` authority (the parser read
    /// `admin:hunter2@host/…` as a URL of scheme `admin`): nothing up to its
    /// last `@`, wherever it is (a password may hold `?` or `#`).
    /// `None` when it has an authority or no `@`. Its query (cut there too)
    /// is not shown.
    fn without_authority(url: &str) -> Option<String> {
        let has_authority = url
            .find(':')
            .is_some_and(|colon| url[colon + 1..].starts_with("//"));
        let at = url.rfind('@').filter(|_| !has_authority)?;
        let rest = &url[at + 1..];
        Some(rest.split(['?', '#']).next().unwrap_or("").to_string())
    }

    /// [`redact_url`](Secrets::redact_url) of a URL already parsed (no
    /// second parse: in WebAssembly a parse is a trip to JavaScript).
    pub(crate) fn redact(&self, mut u: Url) -> String {
        if let Some(shown) = Self::without_authority(u.as_str()) {
            return shown;
        }
        u.clear_userinfo();
        if !(self.query_params.is_empty() && self.redacted_params.is_empty()) && u.query().is_some()
        {
            let mut pairs = u.query_pairs();
            for (k, v) in &mut pairs {
                if self
                    .query_params
                    .iter()
                    .chain(&self.redacted_params)
                    .any(|s| s == k)
                {
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
                if !(self.query_params.is_empty() && self.stored_pairs.is_empty())
                    && u.query().is_some()
                {
                    let mut pairs = u.query_pairs();
                    let secret = |p: &(String, String)| {
                        self.query_params.contains(&p.0) || self.stored_pairs.contains(p)
                    };
                    if pairs.iter().any(secret) {
                        pairs.retain(|p| !secret(p));
                        u.set_query_pairs(&pairs, false);
                    }
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
            stored_pairs: vec![("sig".into(), "zz".into())],
        };
        let r = s.redact_url("https://bob:hunter2@h.example/x?api_key=abc&page=2&sig=zz");
        assert_eq!(
            r,
            "https://h.example/x?api_key=REDACTED&page=2&sig=REDACTED"
        );
        // Stored URLs lose the configured signature (added back on resume),
        // not another one a server put in a link.
        assert_eq!(
            s.strip_url("https://h.example/x?api_key=abc&sig=zz&page=2"),
            "https://h.example/x?page=2"
        );
        assert_eq!(
            s.strip_url("https://h.example/x?sig=other"),
            "https://h.example/x?sig=other"
        );
        assert!(!format!("{s:?}").contains("zz"));
        assert!(!s.redact_url("nonsense://a:b@@?api_key=zz").contains("zz"));
        // No authority: a user name and password written without a scheme.
        for url in [
            "admin:hunter2@api.example/v1/",
            "admin:hun#ter2@api.example/v1/",
            "admin:hun?ter2@api.example/v1/?x=1",
            "admin:hunter2@api example/",
        ] {
            let r = s.redact_url(url);
            assert!(
                !r.contains("hunter2") && !r.contains("ter2"),
                "{url} -> {r}"
            );
        }
        assert_eq!(
            s.redact_url("admin:hunter2@api.example/v1/"),
            "api.example/v1/"
        );
    }
}
