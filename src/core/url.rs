//! The URLs of the core: one small type with the operations it needs.
//!
//! Parsing and resolving follow the WHATWG URL Standard; they are done
//! outside the core, by `crate::url_parse` (the `url` crate natively, the
//! platform's own `URL` class in WebAssembly).
//! Everything else (reading the query, adding parameters, removing user
//! info) works on the serialization the parser returns, which the standard
//! fixes exactly: `scheme:[//[userinfo@]host[:port]]path[?query][#fragment]`,
//! with `?` and `#` percent-encoded everywhere before the query and `#`
//! everywhere in it. The same Rust code runs on both targets; the native
//! tests check it against the `url` crate's own operations.

use std::fmt;

/// A parsed absolute URL (WHATWG URL Standard), as the core builds and sends it.
///
/// Natively parsed by the `url` crate, in WebAssembly by the platform's `URL`
/// class; [`Url::as_str`] is the standard serialization on both. Where an
/// engine departs from the standard the WebAssembly build follows the engine,
/// except for hosts: Chromium accepts (percent-encoded) characters the standard
/// forbids in an `http`/`https` host, and these are errors here as natively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    href: String,
    /// The serialized origin; `None` for an opaque origin, which equals no other.
    origin: Option<String>,
}

/// Why a string is not a URL (the message never contains the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

/// A [`Url`] from what the parser gave.
fn from_parsed(parsed: Result<crate::url_parse::Parsed, String>) -> Result<Url, UrlError> {
    let (href, origin) = parsed.map_err(UrlError)?;
    Ok(Url { href, origin })
}

impl Url {
    /// Parses an absolute URL.
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        from_parsed(crate::url_parse::parse(None, input))
    }

    /// Resolves `input` (absolute, or relative to this URL), as a link in a
    /// page at this URL would be.
    pub fn join(&self, input: &str) -> Result<Url, UrlError> {
        // In WebAssembly each parse is a trip to JavaScript's `URL` (a
        // `fetchMany` resolves one path per id): the common case is done here
        // (natively too, where it spares the parse; the tests check it
        // against the parser).
        if let Some(url) = self.join_plain(input) {
            return Ok(url);
        }
        from_parsed(crate::url_parse::parse(Some(&self.href), input))
    }

    /// `input` resolved against this URL when it is a plain relative path (no
    /// scheme, no leading `/`, no query or fragment, no dot segments, only
    /// characters the standard leaves as they are in a path) and this URL is
    /// `http` or `https`: the directory of this URL's path followed by
    /// `input`, as the standard's parser gives it. `None` for anything else.
    pub(crate) fn join_plain(&self, input: &str) -> Option<Url> {
        if !matches!(self.scheme(), "http" | "https") || input.is_empty() {
            return None;
        }
        let plain = |c: &u8| c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@%/".contains(c);
        if input.starts_with('/') || !input.as_bytes().iter().all(plain) {
            return None;
        }
        // `.`, `..` and their percent-encoded spellings are dot segments.
        let dotted = input.split('/').any(|seg| {
            let seg = seg.to_ascii_lowercase().replace("%2e", ".");
            seg == "." || seg == ".."
        });
        if dotted {
            return None;
        }
        let (authority, path_start) = self.authority();
        authority?;
        let path_end = self.query_start().unwrap_or(self.fragment_start());
        let dir_end = path_start + self.href[path_start..path_end].rfind('/')? + 1;
        let mut href = String::with_capacity(dir_end + input.len());
        href.push_str(&self.href[..dir_end]);
        href.push_str(input);
        Some(Url {
            href,
            origin: self.origin.clone(),
        })
    }

    /// The serialization.
    pub fn as_str(&self) -> &str {
        &self.href
    }

    /// The scheme, lower case, without `:`.
    pub fn scheme(&self) -> &str {
        &self.href[..self.scheme_end()]
    }

    /// Whether `other` has the same origin (scheme, host and port) as this URL.
    /// An opaque origin (e.g. of a `data:` URL) is the same as no other.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.origin.is_some() && self.origin == other.origin
    }

    /// The serialized origin (`https://h.example`, `http://h.example:8080`);
    /// `None` for an opaque origin (a `data:` or `file:` URL).
    pub(crate) fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The path (percent-encoded).
    pub fn path(&self) -> &str {
        let (_, end) = self.authority();
        &self.href[end..self.query_start().unwrap_or(self.fragment_start())]
    }

    /// The query without `?` (percent-encoded), if there is one.
    pub fn query(&self) -> Option<&str> {
        self.query_start()
            .map(|q| &self.href[q + 1..self.fragment_start()])
    }

    /// Whether the URL has a non-empty host (`file:///x` has none).
    pub(crate) fn has_host(&self) -> bool {
        !self.host().is_empty()
    }

    /// The host and port (`h.example:8443`); empty when there is none.
    fn host(&self) -> &str {
        match self.authority() {
            (Some(start), end) => {
                let host_start = self.userinfo().map_or(start, |(_, e)| e);
                &self.href[host_start..end]
            }
            (None, _) => "",
        }
    }

    fn scheme_end(&self) -> usize {
        // A parsed URL always has a scheme.
        self.href.find(':').unwrap_or(0)
    }

    fn fragment_start(&self) -> usize {
        self.href.find('#').unwrap_or(self.href.len())
    }

    fn query_start(&self) -> Option<usize> {
        self.href[..self.fragment_start()].find('?')
    }

    /// Where the authority (after `//`) starts, if there is one, and where the path starts.
    fn authority(&self) -> (Option<usize>, usize) {
        let after = self.scheme_end() + 1;
        if self.href[after..].starts_with("//") {
            let start = after + 2;
            let end = self.href[start..]
                .find(['/', '?', '#'])
                .map_or(self.href.len(), |i| start + i);
            (Some(start), end)
        } else if self.href[after..].starts_with("/.//") {
            // No host and a path starting `//` (`foo:/.//p`): the standard
            // writes `/.` before the path so that it does not read as a host.
            (None, after + 2)
        } else {
            (None, after)
        }
    }

    /// Where the user info (`user:password@`) is, if there is any.
    fn userinfo(&self) -> Option<(usize, usize)> {
        let (start, end) = self.authority();
        let start = start?;
        self.href[start..end]
            .rfind('@')
            .map(|at| (start, start + at + 1))
    }

    /// Whether the URL has a user name or a password.
    pub(crate) fn has_userinfo(&self) -> bool {
        self.userinfo().is_some()
    }

    /// Removes the user name and password.
    pub(crate) fn clear_userinfo(&mut self) {
        if let Some((start, end)) = self.userinfo() {
            self.href.replace_range(start..end, "");
        }
    }

    /// Appends `/` to the path unless it ends with one.
    pub(crate) fn ensure_trailing_slash(&mut self) {
        if !self.path().ends_with('/') {
            let at = self.query_start().unwrap_or(self.fragment_start());
            self.href.insert(at, '/');
        }
    }

    /// Replaces the query; `query` must be what [`form_urlencode`] and `&`, `=` make
    /// (nothing that the URL parser would still percent-encode).
    fn set_query(&mut self, query: Option<&str>) {
        let frag = self.fragment_start();
        let start = self.query_start().unwrap_or(frag);
        let new = match query {
            Some(q) => format!("?{q}"),
            None => String::new(),
        };
        self.href.replace_range(start..frag, &new);
        // An opaque path (`mailto:a `, no `/` after the scheme) that ends
        // the URL loses its trailing spaces, as in the URL Standard (and the
        // `url` crate): parsing it again would drop them.
        let opaque = !self.href[self.scheme_end() + 1..].starts_with('/');
        if query.is_none() && opaque && !self.href.contains('#') {
            let kept = self.href.trim_end_matches(' ').len();
            self.href.truncate(kept);
        }
    }

    /// The query's name/value pairs, decoded as `application/x-www-form-urlencoded`.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        self.query().map(form_parse).unwrap_or_default()
    }

    /// Whether the query has a parameter named `name`.
    pub(crate) fn has_query_param(&self, name: &str) -> bool {
        self.query_pairs().iter().any(|(k, _)| k == name)
    }

    /// Appends `name=value` pairs (form-encoded) to the query; nothing when there are none.
    pub(crate) fn append_query_pairs<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let mut pairs = pairs.into_iter().peekable();
        if pairs.peek().is_none() {
            return;
        }
        let mut q = self.query().unwrap_or("").to_string();
        for (k, v) in pairs {
            if !q.is_empty() {
                q.push('&');
            }
            form_urlencode_into(&mut q, k);
            q.push('=');
            form_urlencode_into(&mut q, v);
        }
        self.set_query(Some(&q));
    }

    /// The decoded values of every `name` parameter of the query, in order.
    pub(crate) fn query_values(&self, name: &str) -> Vec<String> {
        self.query_pairs()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }

    /// Replaces every `name` parameter of the query with one `name=value`
    /// (form-encoded) where the first was, or at the end if there was none;
    /// the rest of the query is kept as it was written, byte for byte.
    pub(crate) fn replace_query_param(&mut self, name: &str, value: &str) {
        let Some(query) = self.query() else {
            self.append_query_pairs([(name, value)]);
            return;
        };
        let mut out = String::with_capacity(query.len() + value.len() + name.len() + 1);
        let mut placed = false;
        for part in query.split('&') {
            let raw_name = part.split_once('=').map_or(part, |(k, _)| k);
            if !part.is_empty() && form_decode(raw_name) == name {
                if placed {
                    continue;
                }
                placed = true;
                if !out.is_empty() {
                    out.push('&');
                }
                form_urlencode_into(&mut out, name);
                out.push('=');
                form_urlencode_into(&mut out, value);
                continue;
            }
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(part);
        }
        if !placed {
            if !out.is_empty() {
                out.push('&');
            }
            form_urlencode_into(&mut out, name);
            out.push('=');
            form_urlencode_into(&mut out, value);
        }
        self.set_query(Some(&out));
    }

    /// Replaces the query with `pairs` (form-encoded); with no pairs, the
    /// query is removed if `keep_empty` is false, else left as a bare `?`.
    pub(crate) fn set_query_pairs(&mut self, pairs: &[(String, String)], keep_empty: bool) {
        if pairs.is_empty() && !keep_empty {
            self.set_query(None);
            return;
        }
        self.set_query(Some(""));
        self.append_query_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.href)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.href, f)
    }
}

impl From<Url> for String {
    fn from(u: Url) -> String {
        u.href
    }
}

/// `input` encoded as `application/x-www-form-urlencoded` (the URL Standard's
/// byte serializer: ASCII letters, digits and `*-._` kept, space as `+`,
/// every other byte of the UTF-8 as `%XX`).
pub(crate) fn form_urlencode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    form_urlencode_into(&mut out, input);
    out
}

fn form_urlencode_into(out: &mut String, input: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// `id` as one path segment: every byte but ASCII letters, digits and
/// `*-._` percent-encoded (so `/`, `?`, `#` and `%` stay inside the
/// segment: `a/b` is `a%2Fb`, `%2e%2e` is `%252e%252e`), space as `%20`.
///
/// An empty id, `.` and `..` are errors: the URL parser would take them for
/// the collection itself or a dot segment (`items/..` is the API's root,
/// `items/.` the collection), and no encoding changes that (`%2e%2e` is a
/// dot segment too). Ids that only *decode* to dot segments (`%2e%2e` given
/// as an id) are safe: their `%` is encoded.
pub(crate) fn id_segment(id: &str) -> Result<String, String> {
    match id {
        "" => Err("an empty id cannot be a path segment: the request would go to the collection itself".into()),
        "." | ".." => Err(format!(
            "the id {id:?} cannot be a path segment: the URL would resolve it as a dot segment and the request would go to another resource"
        )),
        _ => Ok(form_urlencode(id).replace('+', "%20")),
    }
}

/// The URL Standard's `application/x-www-form-urlencoded` parser.
fn form_parse(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap_or(0) * 16 + hex(b[i + 2]).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// URLs with user info, ports, queries, fragments, odd characters.
    const CASES: &[&str] = &[
        "https://h.example/",
        "https://h.example",
        "http://h.example:80/a/b",
        "https://h.example:8443/a/b?x=1&y=2#frag",
        "https://bob:hunter2@h.example/x?api_key=abc&page=2",
        "https://bob@h.example/x",
        "https://:pw@h.example/x?",
        "https://a%40b:c%3Ad@h.example/p%3F?q=%23#f?g",
        "https://h.example/a?b=c+d&e=%zz&&f&=g&h==i",
        "https://h.example/ä ö?q=ü ß&x=€#ñ",
        "https://h.example/?a=b#",
        "https://h.example/api#x",
        "http://[::1]:3000/x?y",
        "http://127.0.0.1:8080/?",
        "https://H.EXAMPLE/./a/../b/%2e/c",
        "https://xn--mnchen-3ya.example/",
        "https://münchen.example/x",
        "file:///tmp/x?y",
        "mailto:a@b.example?subject=x",
        "data:text/plain,hi?x#y",
        // An opaque path with trailing spaces, then a query (and a fragment).
        "mailto:a@b.example  ?x",
        "data:text/plain,hi  ?x#y",
        "web+foo://u:p@h/x?y#z",
        "ws://h.example:80/",
        "ftp://h.example:21/",
    ];

    #[test]
    fn components_agree_with_the_url_crate() {
        for c in CASES {
            let ours = Url::parse(c).unwrap();
            let theirs = url::Url::parse(c).unwrap();
            assert_eq!(ours.as_str(), theirs.as_str(), "{c}");
            assert_eq!(ours.scheme(), theirs.scheme(), "{c}");
            assert_eq!(ours.path(), theirs.path(), "{c}");
            assert_eq!(ours.query(), theirs.query(), "{c}");
            assert_eq!(
                ours.has_host(),
                theirs.has_host() && !theirs.cannot_be_a_base(),
                "{c}"
            );
            assert_eq!(
                ours.has_userinfo(),
                !theirs.username().is_empty() || theirs.password().is_some(),
                "{c}"
            );
            let pairs: Vec<(String, String)> = theirs
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours.query_pairs(), pairs, "{c}");
        }
    }

    #[test]
    fn plain_joins_agree_with_the_url_crate() {
        let inputs = [
            "items/1",
            "items/abc%20d",
            "a//b",
            "x",
            "items/a.b/c..d/.e",
            "items/%41",
            "it-em_s~/!$&'()*+,;=@",
            // Not plain: left to the parser.
            "items/../x",
            "./x",
            "items/.",
            "a/%2e%2E/b",
            "a/.%2E",
            "/abs",
            "//host/x",
            "x:y",
            "a?b",
            "a#b",
            "a b",
            "a\\b",
            "a\tb",
            "é",
            "",
        ];
        let mut plain = 0;
        for base in CASES {
            let Ok(b) = Url::parse(base) else { continue };
            for input in inputs {
                if let Some(fast) = b.join_plain(input) {
                    plain += 1;
                    let slow =
                        from_parsed(crate::url_parse::parse(Some(b.as_str()), input)).unwrap();
                    assert_eq!(fast.as_str(), slow.as_str(), "{base} + {input}");
                    assert!(fast.same_origin(&slow), "{base} + {input}");
                }
            }
        }
        assert!(plain > 20, "only {plain} plain joins");
        let b = Url::parse("https://h.example/a/b").unwrap();
        for input in ["items/../x", "a/%2e%2E/b", "/abs", "x:y", "a?b", ""] {
            assert!(b.join_plain(input).is_none(), "{input}");
        }
    }

    #[test]
    fn changes_agree_with_the_url_crate() {
        let add = [("a b", "c&d=e"), ("ü", "+%"), ("", "")];
        for c in CASES {
            let ours = Url::parse(c).unwrap();
            let theirs = url::Url::parse(c).unwrap();

            let mut o = ours.clone();
            o.append_query_pairs(add);
            let mut t = theirs.clone();
            t.query_pairs_mut().extend_pairs(add);
            assert_eq!(o.as_str(), t.as_str(), "append {c}");

            let pairs = ours.query_pairs();
            let mut o = ours.clone();
            o.set_query_pairs(&pairs, true);
            let mut t = theirs.clone();
            t.query_pairs_mut().clear().extend_pairs(&pairs);
            assert_eq!(o.as_str(), t.as_str(), "reset {c}");

            let mut o = ours.clone();
            o.set_query_pairs(&[], false);
            let mut t = theirs.clone();
            t.set_query(None);
            assert_eq!(o.as_str(), t.as_str(), "no query {c}");

            let mut o = ours.clone();
            o.clear_userinfo();
            let mut t = theirs.clone();
            let _ = t.set_username("");
            let _ = t.set_password(None);
            assert_eq!(o.as_str(), t.as_str(), "userinfo {c}");

            if theirs.scheme() == "http" || theirs.scheme() == "https" {
                let mut o = ours.clone();
                o.ensure_trailing_slash();
                let mut t = theirs.clone();
                if !t.path().ends_with('/') {
                    let p = format!("{}/", t.path());
                    t.set_path(&p);
                }
                assert_eq!(o.as_str(), t.as_str(), "slash {c}");
            }

            for d in CASES {
                let od = Url::parse(d).unwrap();
                let td = url::Url::parse(d).unwrap();
                assert_eq!(
                    ours.same_origin(&od),
                    theirs.origin() == td.origin(),
                    "{c} vs {d}"
                );
            }
            for rel in [
                "x",
                "/y?z",
                "../q#f",
                "?p=1",
                "//o.example/",
                "https://e.example/a",
            ] {
                let o = ours.join(rel).map(|u| u.as_str().to_string());
                let t = theirs.join(rel).map(|u| u.as_str().to_string());
                assert_eq!(o.ok(), t.ok(), "{c} + {rel}");
            }
        }
    }

    #[test]
    fn form_encoding_agrees_with_the_url_crate() {
        let mut all = String::new();
        for b in 0u8..128 {
            all.push(b as char);
        }
        for s in ["", "a b", "ü€😀", "a+b&c=d%e", &all] {
            let theirs: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            assert_eq!(form_urlencode(s), theirs, "{s:?}");
        }
        for q in ["%", "%4", "%41%4g%zz", "%e2%82%ac+x", "%ff%fe", "a=%3d=b"] {
            let theirs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(form_parse(q), theirs, "{q:?}");
        }
    }

    #[test]
    fn bad_urls_are_errors_without_the_input() {
        for bad in ["not a url", "https://", "http://a b/", "/relative"] {
            let e = Url::parse(bad).unwrap_err();
            assert!(!e.to_string().contains(bad), "{e}");
        }
    }
}
