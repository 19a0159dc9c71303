//! The demo's static files (`/www/`, `/npm/`) and `Config::demo()`.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use pagewise_testserver::{Config, TestServer};

struct Got {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw HTTP/1.1 request, so that the request target is sent exactly as
/// written (a client library would normalise `..`).
fn raw(server: &TestServer, method: &str, target: &str) -> Got {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr()
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Got {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

fn get(server: &TestServer, target: &str) -> Got {
    raw(server, "GET", target)
}

/// A fresh folder holding `www/`, `npm/` and, beside them, `secret.txt`.
fn fixture() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pagewise-static-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let files: &[(&str, &[u8])] = &[
        ("secret.txt", b"SECRET"),
        ("www/index.html", b"<!doctype html><title>dash</title>"),
        ("www/app.js", b"export const a = 1;"),
        ("www/worker.mjs", b"export const w = 1;"),
        ("www/style.css", b"body{}"),
        ("www/data.json", b"{\"a\":1}"),
        (
            "www/icon.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ),
        ("www/sub/index.html", b"<p>sub</p>"),
        ("www/nested/only.js", b"1"),
        ("www/.env", b"HIDDEN"),
        ("npm/index.js", b"export * from './wasm/pagewise_wasm.js';"),
        ("npm/index.d.ts", b"export {};"),
        ("npm/package.json", b"{\"name\":\"pagewise\"}"),
        ("npm/README.md", b"# pagewise"),
        ("npm/test/a.test.js", b"test"),
        ("npm/wasm/pagewise_wasm.js", b"export function init() {}"),
        ("npm/wasm/pagewise_wasm_bg.wasm", b"\0asm\x01\0\0\0"),
        ("npm/wasm/snippets/x/inline0.js", b"export const s = 1;"),
    ];
    for (path, bytes) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

fn start(dir: &Path) -> TestServer {
    TestServer::start(Config {
        records: 10,
        www_dir: Some(dir.join("www")),
        npm_dir: Some(dir.join("npm")),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn content_types_and_no_store() {
    let dir = fixture();
    let server = start(&dir);
    for (target, content_type, body) in [
        (
            "/www/",
            "text/html; charset=utf-8",
            "<!doctype html><title>dash</title>",
        ),
        (
            "/www/index.html",
            "text/html; charset=utf-8",
            "<!doctype html><title>dash</title>",
        ),
        ("/www/sub/", "text/html; charset=utf-8", "<p>sub</p>"),
        (
            "/www/app.js",
            "text/javascript; charset=utf-8",
            "export const a = 1;",
        ),
        (
            "/www/worker.mjs",
            "text/javascript; charset=utf-8",
            "export const w = 1;",
        ),
        ("/www/style.css", "text/css; charset=utf-8", "body{}"),
        ("/www/data.json", "application/json", "{\"a\":1}"),
        (
            "/www/icon.svg",
            "image/svg+xml",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ),
        (
            "/www/app.js?v=1",
            "text/javascript; charset=utf-8",
            "export const a = 1;",
        ),
        (
            "/npm/index.js",
            "text/javascript; charset=utf-8",
            "export * from './wasm/pagewise_wasm.js';",
        ),
        (
            "/npm/wasm/pagewise_wasm.js",
            "text/javascript; charset=utf-8",
            "export function init() {}",
        ),
        (
            "/npm/wasm/pagewise_wasm_bg.wasm",
            "application/wasm",
            "\0asm\x01\0\0\0",
        ),
    ] {
        let got = get(&server, target);
        assert_eq!(got.status, 200, "{target}: {}", got.text());
        assert_eq!(got.header("content-type"), Some(content_type), "{target}");
        assert_eq!(got.header("cache-control"), Some("no-store"), "{target}");
        assert_eq!(got.text(), body, "{target}");
    }
    let head = raw(&server, "HEAD", "/www/app.js");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("19"));
    assert!(head.body.is_empty());
    assert_eq!(raw(&server, "POST", "/www/app.js").status, 405);
    let bare = get(&server, "/www");
    assert_eq!((bare.status, bare.header("location")), (301, Some("/www/")));
    // Static files are not API requests: not counted, not logged.
    assert_eq!(server.stats().requests, 0);
    assert!(server.log().is_empty());
    // The API still answers beside them.
    assert_eq!(get(&server, "/offset/items?limit=2").status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn traversal_is_refused() {
    let dir = fixture();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("www/link.txt")).unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("www/up")).unwrap();
        std::os::unix::fs::symlink(dir.join("www/app.js"), dir.join("www/inside.js")).unwrap();
    }
    let server = start(&dir);
    for target in [
        "/www/../secret.txt",
        "/www/..%2fsecret.txt",
        "/www/%2e%2e/secret.txt",
        "/www/%2E%2E/secret.txt",
        "/www/%2e%2e%2fsecret.txt",
        "/www/.%2e/secret.txt",
        "/www/sub/../../secret.txt",
        "/www/sub/%2e%2e/%2e%2e/secret.txt",
        "/www/%252e%252e/secret.txt",
        "/www/..%5csecret.txt",
        "/www//etc/passwd",
        "/www/%2fetc%2fpasswd",
        "/www/C:%5cWindows%5cwin.ini",
        "/www/app.js%00.html",
        "/www/.env",
        "/www/%zz",
        "/www/link.txt",
        "/www/up/secret.txt",
        "/npm/../secret.txt",
        "/npm/wasm/../../secret.txt",
        "/npm/wasm/%2e%2e/%2e%2e/secret.txt",
        "/npm/wasm/..%2f..%2fsecret.txt",
    ] {
        let got = get(&server, target);
        assert_eq!(got.status, 404, "{target}: {}", got.text());
        assert!(!got.text().contains("SECRET"), "{target}");
        assert_eq!(got.header("cache-control"), Some("no-store"), "{target}");
    }
    #[cfg(unix)]
    assert_eq!(
        get(&server, "/www/inside.js").status,
        200,
        "a symlink within the root"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_files_and_no_listings() {
    let dir = fixture();
    let server = start(&dir);
    for target in [
        "/www/nope.js",
        "/www/nested/",
        "/www/nested",
        "/www/sub",
        "/npm/",
        "/npm/wasm/",
        "/npm/wasm",
    ] {
        let got = get(&server, target);
        assert_eq!(got.status, 404, "{target}: {}", got.text());
        assert!(!got.text().contains("only.js"), "{target}: a listing");
    }
    let wasm = get(&server, "/npm/wasm/missing.wasm");
    assert_eq!(wasm.status, 404);
    assert!(wasm.text().contains("built"), "{}", wasm.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_the_packaged_npm_files_are_served() {
    let dir = fixture();
    let server = start(&dir);
    for allowed in [
        "/npm/index.js",
        "/npm/index.d.ts",
        "/npm/wasm/pagewise_wasm.js",
        "/npm/wasm/snippets/x/inline0.js",
    ] {
        assert_eq!(get(&server, allowed).status, 200, "{allowed}");
    }
    for refused in [
        "/npm/package.json",
        "/npm/README.md",
        "/npm/test/a.test.js",
        "/npm/index.js/",
        "/npm/Cargo.toml",
    ] {
        assert_eq!(get(&server, refused).status, 404, "{refused}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_www_folder_the_page_says_so() {
    let dir = fixture();
    std::fs::remove_dir_all(dir.join("www")).unwrap();
    let server = start(&dir);
    for target in ["/www/", "/www/index.html", "/www/../secret.txt"] {
        let got = get(&server, target);
        assert_eq!(got.status, 404, "{target}");
        assert_eq!(
            got.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            got.text().contains("There is no www/ folder here"),
            "{}",
            got.text()
        );
    }
    // The npm package is still served.
    assert_eq!(get(&server, "/npm/index.js").status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn not_served_unless_configured() {
    let server = TestServer::start(Config {
        records: 10,
        ..Config::default()
    })
    .unwrap();
    for target in ["/www/", "/npm/index.js"] {
        let got = get(&server, target);
        assert_eq!(got.status, 404, "{target}");
        assert_eq!(
            got.header("content-type"),
            Some("application/json"),
            "an API 404"
        );
    }
}

#[test]
fn demo_config_seeds_what_it_says() {
    let config = Config::demo();
    assert_eq!(config.records, 200_000);
    assert_eq!(config.latency.as_millis(), 30);
    let limit = config.faults.rate_limit.expect("a rate limit");
    assert_eq!((limit.per_second, limit.burst), (100, 20));
    assert!(config.faults.error_rate > 0.0 && config.faults.error_rate <= 0.01);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    assert_eq!(config.www_dir, Some(root.join("www")));
    assert_eq!(
        config
            .npm_dir
            .as_deref()
            .map(|d| d.join("index.d.ts").is_file()),
        Some(true)
    );
    assert_eq!(config.npm_dir, Some(root.join("bindings/npm")));
    assert_eq!(config.vendor_dir, Some(root.join("node_modules")));
    assert!(config.cors);
    let summary = config.api_summary();
    for part in ["200000 records", "30 ms", "100/s", "429", "5xx"] {
        assert!(summary.contains(part), "{summary}");
    }

    // Started, it serves 200,000 records, the npm package and 429s past
    // the burst (on the API only: 40 static files in a row are never limited).
    let server = TestServer::start(config).unwrap();
    assert_eq!(server.ids().len(), 200_000);
    let last = get(&server, "/offset/items?offset=199999&limit=10");
    assert_eq!(last.status, 200, "{}", last.text());
    assert_eq!(last.header("x-total-count"), Some("200000"));
    assert_eq!(
        get(&server, "/npm/index.js").header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    for _ in 0..40 {
        assert_eq!(get(&server, "/npm/index.d.ts").status, 200);
    }
    // 60 requests at once: more than the burst of 30.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..60)
            .map(|_| scope.spawn(|| get(&server, "/items/1").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn vendor_serves_only_the_listed_uplot_files() {
    let dir = fixture();
    let modules = dir.join("node_modules");
    for (path, bytes) in [
        (
            "uplot/dist/uPlot.esm.js",
            "export default function uPlot() {}",
        ),
        ("uplot/dist/uPlot.min.css", ".uplot{}"),
        ("uplot/dist/uPlot.iife.js", "var uPlot;"),
        ("uplot/package.json", "{}"),
        ("other/index.js", "1"),
    ] {
        let path = modules.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let server = TestServer::start(Config {
        records: 10,
        vendor_dir: Some(modules.clone()),
        ..Config::default()
    })
    .unwrap();
    let js = get(&server, "/vendor/uplot/uPlot.esm.js");
    assert_eq!(js.status, 200);
    assert_eq!(js.text(), "export default function uPlot() {}");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("cache-control"), Some("no-store"));
    let css = get(&server, "/vendor/uplot/uPlot.min.css");
    assert_eq!(
        (css.status, css.header("content-type")),
        (200, Some("text/css; charset=utf-8"))
    );
    for target in [
        "/vendor",
        "/vendor/",
        "/vendor/uplot/",
        "/vendor/uplot/uPlot.iife.js",
        "/vendor/uplot/dist/uPlot.esm.js",
        "/vendor/uplot/package.json",
        "/vendor/other/index.js",
        "/vendor/uplot/uPlot.esm.js/",
        "/vendor/uplot/..%2F..%2Fsecret.txt",
    ] {
        let got = get(&server, target);
        assert_eq!(got.status, 404, "{target}");
        assert!(!got.text().contains("SECRET"), "{target}");
    }
    // Without the package installed: a 404 saying how to get it.
    std::fs::remove_dir_all(modules.join("uplot")).unwrap();
    let gone = get(&server, "/vendor/uplot/uPlot.esm.js");
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("npm ci"), "{}", gone.text());
    // Not configured: not a mount at all (the API answers).
    let plain = start(&dir);
    assert_ne!(
        get(&plain, "/vendor/uplot/uPlot.esm.js").text(),
        "export default function uPlot() {}"
    );
}

#[test]
fn no_cors_drops_every_access_control_header() {
    let with = TestServer::start(Config {
        records: 10,
        ..Config::default()
    })
    .unwrap();
    let without = TestServer::start(Config {
        records: 10,
        cors: false,
        ..Config::default()
    })
    .unwrap();
    let answer = get(&with, "/offset/items?offset=0&limit=2");
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    for target in [
        "/offset/items?offset=0&limit=2",
        "/items/1",
        "/items/999",
        "/_stats",
    ] {
        let got = get(&without, target);
        assert!(
            got.status == 200 || got.status == 404,
            "{target}: {}",
            got.status
        );
        assert!(
            got.headers
                .keys()
                .all(|k| !k.starts_with("access-control-")),
            "{target}: {:?}",
            got.headers
        );
    }
    let preflight = raw(&without, "OPTIONS", "/offset/items");
    assert!(
        preflight
            .headers
            .keys()
            .all(|k| !k.starts_with("access-control-")),
        "{:?}",
        preflight.headers
    );
    // The data is still served (only a browser page of another origin is refused).
    assert!(get(&without, "/offset/items?offset=0&limit=2")
        .text()
        .contains("\"id\":1"));
}
