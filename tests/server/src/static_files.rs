//! Static files of the demo: the dashboard under `/www/`, the npm
//! package under `/npm/` (only `index.js`, `index.d.ts` and `wasm/**`) and
//! the dashboard's one third-party library under `/vendor/` (only
//! [`VENDOR_FILES`], from `node_modules`).
//!
//! Not counted, not logged, no latency, no faults, no OAuth: these answers
//! are the demo's page, not its API. Every answer carries
//! `Cache-Control: no-store`. There are no directory listings; a path
//! that is not a plain file under its root is a `404`: `..` or `.`
//! segments (also percent-encoded), empty segments (`//`, an absolute path
//! after decoding), backslashes, `:`, NUL, hidden files, and anything whose
//! resolved path (symlinks followed) leaves the root.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

use crate::body::Body;
use crate::server::Resp;
use crate::Config;

/// The three mounts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mount {
    Www,
    Npm,
    Vendor,
}

/// The files served under `/vendor/`: `(URL path under /vendor/, path under
/// the vendor folder, a node_modules)`. Only these: a page loads nothing else
/// from `node_modules`.
pub(crate) const VENDOR_FILES: &[(&str, &str)] = &[
    ("uplot/uPlot.esm.js", "uplot/dist/uPlot.esm.js"),
    ("uplot/uPlot.min.css", "uplot/dist/uPlot.min.css"),
];

/// The answer for `parts` if its path is under a configured mount, `None`
/// otherwise (the request then goes on to the API routes).
pub(crate) fn serve(config: &Config, parts: &Parts) -> Option<Resp> {
    let path = parts.uri.path();
    let (mount, root, rest) = if let Some(rest) = mount_rest(path, "/www") {
        (Mount::Www, config.www_dir.as_deref()?, rest)
    } else if let Some(rest) = mount_rest(path, "/npm") {
        (Mount::Npm, config.npm_dir.as_deref()?, rest)
    } else if let Some(rest) = mount_rest(path, "/vendor") {
        (Mount::Vendor, config.vendor_dir.as_deref()?, rest)
    } else {
        return None;
    };
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(resp);
    }
    let Some(rest) = rest else {
        if mount == Mount::Vendor {
            return Some(not_found());
        }
        // `/www` → `/www/`, so that relative URLs in the page resolve.
        let mut resp = plain(StatusCode::MOVED_PERMANENTLY, "");
        let location = if mount == Mount::Www {
            "/www/"
        } else {
            "/npm/"
        };
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(location));
        return Some(resp);
    };
    Some(serve_file(mount, root, rest))
}

/// `Some(Some(rest))` for `{prefix}/rest`, `Some(None)` for `{prefix}`
/// itself, `None` for other paths.
fn mount_rest<'a>(path: &'a str, prefix: &str) -> Option<Option<&'a str>> {
    let after = path.strip_prefix(prefix)?;
    if after.is_empty() {
        Some(None)
    } else {
        after.strip_prefix('/').map(Some)
    }
}

fn serve_file(mount: Mount, root: &Path, rest: &str) -> Resp {
    if mount == Mount::Www && !root.is_dir() {
        return plain(
            StatusCode::NOT_FOUND,
            "There is no www/ folder here (pass --www-dir): the dashboard is not \
             served. The demo API itself is up.\n",
        );
    }
    let Some(relative) = safe_relative(rest) else {
        return not_found();
    };
    let relative = if mount == Mount::Vendor {
        let asked = relative.join("/");
        match VENDOR_FILES.iter().find(|(url, _)| *url == asked) {
            Some((_, file)) if !rest.ends_with('/') => file.split('/').map(str::to_owned).collect(),
            _ => return not_found(),
        }
    } else if relative.is_empty() || rest.ends_with('/') {
        if mount == Mount::Npm {
            return not_found();
        }
        let mut with_index = relative;
        with_index.push("index.html".to_owned());
        with_index
    } else {
        relative
    };
    if mount == Mount::Npm && !npm_allowed(&relative) {
        return not_found();
    }
    let Ok(root) = root.canonicalize() else {
        return not_found();
    };
    let mut candidate = root.clone();
    candidate.extend(&relative);
    // Symlinks are followed, then the real path must still be under the root.
    let Ok(real) = candidate.canonicalize() else {
        return missing(mount, &relative);
    };
    if !real.starts_with(&root) || !real.is_file() {
        return not_found();
    }
    let Ok(bytes) = std::fs::read(&real) else {
        return not_found();
    };
    let name = relative.last().map_or("", String::as_str);
    let mut resp = Response::new(Body::full(Bytes::from(bytes)));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The npm package's files that are served: `index.js`, `index.d.ts` and
/// everything under `wasm/`.
fn npm_allowed(relative: &[String]) -> bool {
    match relative {
        [one] => one == "index.js" || one == "index.d.ts",
        [first, _, ..] => first == "wasm",
        [] => false,
    }
}

/// The percent-decoded segments of `rest`, or `None` if any is unsafe:
/// `.`, `..`, empty (except a trailing one), hidden (`.name`), or holding
/// `\`, `:` or NUL; or if the decoding fails (bad `%`, not UTF-8).
fn safe_relative(rest: &str) -> Option<Vec<String>> {
    let decoded = percent_decode(rest)?;
    if decoded.is_empty() {
        return Some(Vec::new());
    }
    let trimmed = decoded.strip_suffix('/').unwrap_or(&decoded);
    let mut segments = Vec::new();
    for segment in trimmed.split('/') {
        if segment.is_empty() || segment.starts_with('.') || segment.contains(['\\', ':', '\0']) {
            return None;
        }
        segments.push(segment.to_owned());
    }
    Some(segments)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `Content-Type` for a file name.
fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "ts" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn plain(status: StatusCode, message: &'static str) -> Resp {
    let mut resp = Response::new(Body::full(Bytes::from_static(message.as_bytes())));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn not_found() -> Resp {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// A safe path that does not exist: for the npm package's `wasm/`, say
/// how it is built.
fn missing(mount: Mount, relative: &[String]) -> Resp {
    if mount == Mount::Npm && relative.first().is_some_and(|first| first == "wasm") {
        plain(
            StatusCode::NOT_FOUND,
            "not found: bindings/npm/wasm/ is built, not committed \
             (see bindings/npm/README.md)\n",
        )
    } else if mount == Mount::Vendor {
        plain(
            StatusCode::NOT_FOUND,
            "not found: the dashboard's libraries come from npm; run `npm ci` \
             at the repository's root\n",
        )
    } else {
        not_found()
    }
}

/// The default roots: the repository's `www/` and `bindings/npm/`, found
/// from this crate's directory at build time (two levels below the root).
pub(crate) fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(manifest)
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_checked_after_decoding() {
        assert_eq!(safe_relative(""), Some(vec![]));
        assert_eq!(
            safe_relative("a/b.js"),
            Some(vec!["a".into(), "b.js".into()])
        );
        assert_eq!(safe_relative("sub/"), Some(vec!["sub".into()]));
        for bad in [
            "..",
            "../x",
            "a/../b",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            ".%2e/x",
            "a%2f..%2fb",
            "/etc/passwd",
            "%2fetc%2fpasswd",
            "a//b",
            "..%5cx",
            "c:/x",
            "a%00b",
            ".env",
            "%zz",
            "%2",
            "%ff",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn npm_allow_list() {
        let ok = |p: &str| npm_allowed(&safe_relative(p).unwrap());
        assert!(
            ok("index.js") && ok("index.d.ts") && ok("wasm/x.wasm") && ok("wasm/snippets/a/b.js")
        );
        assert!(!ok("package.json") && !ok("README.md") && !ok("wasm") && !ok("test/x.js"));
    }
}
