//! The simulated servers: a fake API over a list of records that speaks
//! every pagination dialect, and a few servers built for one trap each.

use serde_json::{json, Value};

use super::{query, record, redirect, Answer, ITEMS};
use pagewise::core::Response;

// ---------------------------------------------------------------------------
// A fake API over a list of records
// ---------------------------------------------------------------------------

/// Where the fake API puts the total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tot {
    No,
    Header,
    Pointer,
    Range,
}

/// The dialect the fake API speaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    /// `?offset=&limit=`
    Offset(Tot),
    /// `?page=&per_page=`, first page number.
    Page(u64, Tot),
    /// `?cursor=tok-<offset>&limit=`, next cursor at `/next_cursor`.
    CursorBody,
    /// Same, next cursor in `X-Next-Cursor`.
    CursorHeader,
    /// `?start=&limit=`, next link at `/links/next`.
    NextBody,
    /// Same, next link in an RFC 8288 `Link` header.
    NextLink,
    /// `?id_gt=&limit=` over ascending ids.
    Keyset,
}

#[derive(Debug, Clone)]
pub struct Fake {
    pub ids: Vec<u64>,
    style: Style,
    /// The most records the server hands out per page, whatever is asked.
    cap: u64,
}

/// The next link of the next-URL dialects: relative in several ways, resolved
/// against the URL of the page that holds it. `k` is the number of the linked page.
fn next_link(k: u64, start: u64, limit: u64) -> String {
    match k % 4 {
        1 => format!("items?start={start}&limit={limit}"),
        2 => format!("/v2/list?start={start}&limit={limit}"),
        3 => format!("?start={start}&limit={limit}"),
        _ => format!("https://api.example/v1/items?start={start}&limit={limit}"),
    }
}

impl Fake {
    /// `n` records: ids 1..=n, or 10, 13, 16... for keyset paging.
    pub fn new(style: Style, n: u64) -> Self {
        let ids = if style == Style::Keyset {
            (0..n).map(|i| 10 + 3 * i).collect()
        } else {
            (1..=n).collect()
        };
        Fake {
            ids,
            style,
            cap: u64::MAX,
        }
    }

    pub fn cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }

    pub fn slice(&self, from: u64, take: u64) -> &[u64] {
        let n = self.ids.len();
        let a = (from as usize).min(n);
        let b = (from.saturating_add(take) as usize).min(n);
        &self.ids[a..b]
    }

    fn body(&self, ids: &[u64], extra: &[(&str, Value)], tot: Tot) -> Value {
        let mut body = json!({ "data": ids.iter().map(|&i| record(i)).collect::<Vec<_>>() });
        if tot == Tot::Pointer {
            body["meta"] = json!({ "total": self.ids.len() });
        }
        for (k, v) in extra {
            body[*k] = v.clone();
        }
        body
    }

    pub fn respond(&self, url: &str) -> Response {
        let q = query(url);
        let num = |k: &str, d: u64| {
            q.get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .unwrap_or_else(|_| panic!("{k}={v:?} in {url}"))
                })
                .unwrap_or(d)
        };
        let n = self.ids.len() as u64;
        match self.style {
            Style::Offset(tot) => {
                let from = num("offset", 0);
                let take = num("limit", 100).min(self.cap);
                self.with_total(from, self.slice(from, take).to_vec(), tot)
            }
            Style::Page(first, tot) => {
                let p = num("page", first);
                assert!(p >= first, "page {p} before the first page {first}");
                let per = num("per_page", 10).min(self.cap);
                let from = (p - first) * per;
                self.with_total(from, self.slice(from, per).to_vec(), tot)
            }
            Style::CursorBody | Style::CursorHeader => {
                let from = q
                    .get("cursor")
                    .map(|c| {
                        c.strip_prefix("tok-")
                            .expect("a cursor of ours")
                            .parse()
                            .unwrap()
                    })
                    .unwrap_or(0);
                let take = num("limit", 100).min(self.cap);
                let ids = self.slice(from, take).to_vec();
                let end = from + ids.len() as u64;
                let next = (end < n).then(|| format!("tok-{end}"));
                if self.style == Style::CursorBody {
                    let body = self.body(&ids, &[("next_cursor", json!(next))], Tot::No);
                    Response::new(200, body.to_string())
                } else {
                    let body = self.body(&ids, &[], Tot::No);
                    // The last page says "no next page" with an empty header.
                    Response::new(200, body.to_string())
                        .with_header("X-Next-Cursor", next.unwrap_or_default())
                }
            }
            Style::NextBody | Style::NextLink => {
                let from = num("start", 0);
                let asked = num("limit", 100);
                let ids = self.slice(from, asked.min(self.cap)).to_vec();
                let end = from + ids.len() as u64;
                let next = (end < n).then(|| next_link(end / asked, end, asked));
                if self.style == Style::NextBody {
                    let body = self.body(&ids, &[("links", json!({ "next": next }))], Tot::No);
                    Response::new(200, body.to_string())
                } else {
                    let body = self.body(&ids, &[], Tot::No);
                    let first = format!("<{ITEMS}?start=0&limit={asked}>; rel=\"first\"");
                    let link = match next {
                        Some(next) => format!("{first}, <{next}>; rel=\"next\""),
                        None => first,
                    };
                    Response::new(200, body.to_string()).with_header("Link", link)
                }
            }
            Style::Keyset => {
                let after = q.get("id_gt").map(|v| v.parse::<u64>().unwrap());
                let take = num("limit", 100).min(self.cap) as usize;
                let ids: Vec<u64> = self
                    .ids
                    .iter()
                    .copied()
                    .filter(|&i| match after {
                        Some(a) => i > a,
                        None => true,
                    })
                    .take(take)
                    .collect();
                Response::new(200, self.body(&ids, &[], Tot::No).to_string())
            }
        }
    }

    /// The page of `ids` starting at record `from`, with the total where `tot` says.
    pub fn with_total(&self, from: u64, ids: Vec<u64>, tot: Tot) -> Response {
        let n = self.ids.len();
        let body = self.body(&ids, &[], tot).to_string();
        match tot {
            Tot::No | Tot::Pointer => Response::new(200, body),
            Tot::Header => Response::new(200, body).with_header("X-Total-Count", n.to_string()),
            Tot::Range => {
                let range = if ids.is_empty() {
                    format!("items */{n}")
                } else {
                    format!("items {}-{}/{n}", from, from + ids.len() as u64 - 1)
                };
                Response::new(206, body).with_header("Content-Range", range)
            }
        }
    }

    /// The fake as a server.
    pub fn server(self) -> impl FnMut(&str) -> Answer {
        move |url| Ok(self.respond(url))
    }
}

// ---------------------------------------------------------------------------
// Other servers
// ---------------------------------------------------------------------------

/// A server over `fake` that calls `change` on its records after each answer.
pub fn changing(
    mut fake: Fake,
    mut change: impl FnMut(&mut Vec<u64>) + 'static,
) -> impl FnMut(&str) -> Answer {
    move |u| {
        let resp = fake.respond(u);
        change(&mut fake.ids);
        Ok(resp)
    }
}

/// A chain of cursors: (cursor asked, cursor sent back at `/next_cursor`);
/// page k holds ids 10k+1..=10k+2.
pub fn cursor_chain(
    cursors: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let q = query(url);
        let asked = q.get("cursor").map(String::as_str).unwrap_or("");
        let k = cursors
            .iter()
            .position(|(c, _)| *c == asked)
            .expect("a known cursor") as u64;
        let next = cursors[k as usize].1;
        let body = json!({ "data": [record(10 * k + 1), record(10 * k + 2)], "next_cursor": next });
        Ok(Response::new(200, body.to_string()))
    }
}

/// A chain of links: (URL asked, next link at `/next`); page k holds ids
/// 10k+1..=10k+2. Any other URL is a test failure.
pub fn link_chain(
    links: &'static [(&'static str, Option<&'static str>)],
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let k = links
            .iter()
            .position(|(u, _)| *u == url)
            .unwrap_or_else(|| panic!("unexpected {url}")) as u64;
        let body = json!({ "data": [record(10 * k + 1), record(10 * k + 2)], "next": links[k as usize].1 });
        Ok(Response::new(200, body.to_string()))
    }
}

/// A server that redirects `?hop=h` to `<to>?hop=h+1` (status `status`)
/// `hops` times, then answers with `last`.
pub fn hops(
    hops: u64,
    status: u16,
    to: &'static str,
    last: Response,
) -> impl FnMut(&str) -> Answer {
    move |url| {
        let h: u64 = query(url)
            .get("hop")
            .map(|h| h.parse().unwrap())
            .unwrap_or(0);
        Ok(if h < hops {
            redirect(status, &format!("{to}?hop={}", h + 1))
        } else {
            last.clone()
        })
    }
}

/// A server with 3 records that announces `total` of them (where `tot`
/// says), for offset or page-number paging: every page past the first is empty.
pub fn boasting(style: Style, total: u64) -> impl FnMut(&str) -> Answer {
    move |url| {
        let q = query(url);
        let (first, tot) = match style {
            Style::Offset(tot) => (q["offset"] == "0", tot),
            Style::Page(f, tot) => (q["page"] == f.to_string(), tot),
            _ => unreachable!(),
        };
        let ids: Vec<u64> = if first { vec![1, 2, 3] } else { vec![] };
        let mut body = json!({ "data": ids.iter().map(|&i| record(i)).collect::<Vec<_>>() });
        if tot == Tot::Pointer {
            body["meta"] = json!({ "total": total });
        }
        let body = body.to_string();
        Ok(match tot {
            Tot::Header => Response::new(200, body).with_header("X-Total-Count", total.to_string()),
            Tot::Range => {
                let range = if first {
                    format!("items 0-2/{total}")
                } else {
                    format!("items */{total}")
                };
                Response::new(206, body).with_header("Content-Range", range)
            }
            _ => Response::new(200, body),
        })
    }
}
