//! The scenario table shared by the blocking and async integration tests:
//! every dialect the test server speaks, described as an `Api`.
#![allow(dead_code)]

use pagewise::{Api, Link, Pagination, Total};
use serde::Deserialize;

/// A record of the test server (only the fields the tests look at).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Item {
    pub id: u64,
    pub updated_at: String,
    pub name: String,
}

/// One dialect of the test server.
pub struct Scenario {
    pub name: &'static str,
    pub api: Api,
    /// Whether the dialect knows the total after the first page (and fans out).
    pub fans_out: bool,
}

/// Every dialect, against the server at `base`, with concurrency `c`.
pub fn scenarios(base: &str, c: usize) -> Vec<Scenario> {
    let b = |path: &str| Api::builder(format!("{base}/{path}/")).concurrency(c);
    let mk = |name, builder: pagewise::ApiBuilder, fans_out| Scenario {
        name,
        api: builder.build().expect("valid scenario"),
        fans_out,
    };
    vec![
        mk(
            "offset+header",
            b("offset")
                .records_at("/data")
                .pagination(Pagination::offset().total(Total::header("X-Total-Count"))),
            true,
        ),
        mk(
            "offset+pointer",
            b("offset")
                .records_at("/data")
                .pagination(Pagination::offset().total(Total::pointer("/meta/total"))),
            true,
        ),
        mk(
            "offset (no total)",
            b("offset")
                .records_at("/data")
                .pagination(Pagination::offset()),
            false,
        ),
        mk(
            "content-range",
            b("range").pagination(Pagination::offset().total(Total::ContentRange)),
            true,
        ),
        mk(
            "page from 1 + total",
            b("page")
                .records_at("/results")
                .pagination(Pagination::page_number().total(Total::pointer("/total"))),
            true,
        ),
        mk(
            "page from 0 + total",
            b("page0").records_at("/results").pagination(
                Pagination::page_number()
                    .first_page(0)
                    .total(Total::pointer("/total")),
            ),
            true,
        ),
        mk(
            "page, no total",
            b("page-nototal")
                .records_at("/results")
                .pagination(Pagination::page_number()),
            false,
        ),
        mk(
            "cursor in body",
            b("cursor")
                .records_at("/items")
                .pagination(Pagination::cursor(Link::pointer("/next_cursor"))),
            false,
        ),
        mk(
            "cursor in header",
            b("cursor-header").pagination(Pagination::cursor(Link::header("X-Next-Cursor"))),
            false,
        ),
        mk(
            "next URL in body",
            b("next")
                .records_at("/items")
                .pagination(Pagination::next_url(Link::pointer("/links/next"))),
            false,
        ),
        mk(
            "Link header",
            b("link")
                .pagination(Pagination::next_url(Link::LinkHeader).limit_param(Some("per_page"))),
            false,
        ),
        mk(
            "keyset",
            b("keyset")
                .records_at("/items")
                .pagination(Pagination::keyset("id")),
            false,
        ),
    ]
}
