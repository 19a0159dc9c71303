//! How an API pages: the dialects pagewise speaks and their parameters.

/// Where the total number of records is read from: offset and page-number
/// sweeps fan out from it; cursor, next-link and keyset sweeps read it for the
/// report ([`Report::total`](crate::core::Report::total), `complete`).
/// In the option schema: `{ "header": name }`, `{ "pointer": p }` or
/// `"content-range"`, with `"optional": true` in the object form
/// (`{ "pointer": "/meta/total", "optional": true }`, or
/// `{ "content-range": true, "optional": true }`) for [`Total::optional`].
///
/// ```
/// use pagewise::{Pagination, Total};
/// // JSON:API: `meta.total` where the server gives it; a sequential walk otherwise.
/// let jsonapi = Pagination::offset()
///     .params("page[offset]", "page[limit]")
///     .total(Total::pointer("/meta/total").optional());
/// # let _ = jsonapi;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Total {
    /// A response header holding the count, e.g. `X-Total-Count`.
    Header(String),
    /// A JSON pointer into the body, e.g. `/meta/total`.
    Pointer(String),
    /// The `Content-Range` header: `items 0-99/20000`.
    ContentRange,
    /// A total the API may leave out: an offset or page-number sweep whose
    /// first page has none walks in sequence, without a
    /// [`Notice::TotalMissing`](crate::core::Notice::TotalMissing). Made by
    /// [`Total::optional`].
    Optional(Box<Total>),
}

impl Total {
    /// The total from a header such as `X-Total-Count`.
    pub fn header(name: impl Into<String>) -> Self {
        Total::Header(name.into())
    }
    /// The total from a JSON pointer such as `/meta/total`.
    pub fn pointer(pointer: impl Into<String>) -> Self {
        Total::Pointer(pointer.into())
    }
    /// The same total, which the API may leave out (JSON:API `meta` totals
    /// "where present"): no notice when it is missing.
    pub fn optional(self) -> Self {
        match self {
            Total::Optional(t) => Total::Optional(t),
            t => Total::Optional(Box::new(t)),
        }
    }
    /// Where the total is read from (the total an [`Optional`](Total::Optional) wraps).
    pub(crate) fn source(&self) -> &Total {
        match self {
            Total::Optional(t) => t.source(),
            t => t,
        }
    }
    /// Whether the API may leave the total out.
    pub(crate) fn is_optional(&self) -> bool {
        matches!(self, Total::Optional(_))
    }
}

/// Where a cursor token or a next-page URL is read from.
/// In the option schema: `{ "pointer": p }`, `{ "header": name }` or `"link"`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Link {
    /// A JSON pointer into the body, e.g. `/next_cursor` or `/links/next`.
    /// `null`, a missing member or `""` means there is no next page.
    Pointer(String),
    /// A response header, e.g. `X-Next-Cursor`; absent or empty means no next page.
    Header(String),
    /// The RFC 8288 `Link` header's `rel="next"` target (next-URL dialect only).
    #[serde(rename = "link")]
    LinkHeader,
}

impl Link {
    /// Read from a JSON pointer.
    pub fn pointer(pointer: impl Into<String>) -> Self {
        Link::Pointer(pointer.into())
    }
    /// Read from a response header.
    pub fn header(name: impl Into<String>) -> Self {
        Link::Header(name.into())
    }
}

/// Offset + limit paging: `?offset=200&limit=100`.
///
/// With a [`Total`], every remaining page is planned after the first one and
/// fetched concurrently. Without one, pages are walked in sequence, each
/// offset advancing by the number of records actually received (so a server
/// that caps the page size loses no rows), until an empty page.
///
/// With [`range_header`](Offset::range_header), the page is asked for with
/// HTTP range headers instead of parameters (PostgREST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offset {
    pub(crate) offset_param: String,
    pub(crate) limit_param: String,
    pub(crate) total: Option<Total>,
    pub(crate) range: bool,
}

impl Offset {
    /// Parameter names (defaults: `offset`, `limit`).
    pub fn params(mut self, offset: impl Into<String>, limit: impl Into<String>) -> Self {
        self.offset_param = offset.into();
        self.limit_param = limit.into();
        self
    }
    /// Where the total count is (none by default: sequential walk).
    pub fn total(mut self, total: Total) -> Self {
        self.total = Some(total);
        self
    }
    /// Asks for each page with `Range-Unit: items` and `Range: 0-99` (the
    /// first and last record, inclusive) instead of the offset and limit
    /// parameters, as PostgREST reads them; the answer (200 or 206) gives
    /// the total in `Content-Range: 0-99/20000` when the server counts
    /// (PostgREST: send `Prefer: count=exact` as a header of the API).
    /// Unless a total is given, it is read from `Content-Range`, optional
    /// (`0-99/*`: a sequential walk). A `416 Range Not Satisfiable` answer
    /// is an empty page: the collection ends before that offset.
    ///
    /// ```
    /// use pagewise::Pagination;
    /// let postgrest = Pagination::offset().range_header();
    /// # let _ = postgrest;
    /// ```
    pub fn range_header(mut self) -> Self {
        self.range = true;
        if self.total.is_none() {
            self.total = Some(Total::ContentRange.optional());
        }
        self
    }
}

/// Page-number paging: `?page=3&per_page=100`, first page 1 (or 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNumber {
    pub(crate) page_param: String,
    pub(crate) size_param: Option<String>,
    pub(crate) first_page: u64,
    pub(crate) total: Option<Total>,
}

impl PageNumber {
    /// The page parameter name (default `page`).
    pub fn page_param(mut self, name: impl Into<String>) -> Self {
        self.page_param = name.into();
        self
    }
    /// The page-size parameter name (default `per_page`); `None` sends no size.
    pub fn size_param(mut self, name: Option<&str>) -> Self {
        self.size_param = name.map(str::to_string);
        self
    }
    /// The number of the first page: 1 (default) or 0.
    pub fn first_page(mut self, first: u64) -> Self {
        self.first_page = first;
        self
    }
    /// Where the total record count is (none by default: sequential walk).
    pub fn total(mut self, total: Total) -> Self {
        self.total = Some(total);
        self
    }
}

/// Cursor paging: each page names the token of the next, sent back as a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) from: Link,
    pub(crate) cursor_param: String,
    pub(crate) limit_param: Option<String>,
    pub(crate) more: Option<String>,
    pub(crate) total: Option<Total>,
}

impl Cursor {
    /// The parameter the cursor is sent back in (default `cursor`).
    pub fn param(mut self, name: impl Into<String>) -> Self {
        self.cursor_param = name.into();
        self
    }
    /// The page-size parameter (default `limit`); `None` sends no size.
    pub fn limit_param(mut self, name: Option<&str>) -> Self {
        self.limit_param = name.map(str::to_string);
        self
    }
    /// A JSON pointer to a boolean saying whether another page follows
    /// (`/has_more`): `false` ends the sweep even when a cursor is given.
    /// A value that is not a boolean is a [`Decode`](crate::ErrorKind::Decode)
    /// error naming the page.
    pub fn more(mut self, pointer: impl Into<String>) -> Self {
        self.more = Some(pointer.into());
        self
    }
    /// Where the total record count is (Salesforce `/totalSize`): read for
    /// the report (`total`, `complete`); pages still follow the cursor.
    pub fn total(mut self, total: Total) -> Self {
        self.total = Some(total);
        self
    }
}

/// Next-URL paging: each page links to the next one, in the body or in a `Link` header.
/// Relative links are resolved against the URL of the page that holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextUrl {
    pub(crate) from: Link,
    pub(crate) limit_param: Option<String>,
    pub(crate) total: Option<Total>,
}

impl NextUrl {
    /// The page-size parameter of the first request (default `limit`); `None` sends no size.
    pub fn limit_param(mut self, name: Option<&str>) -> Self {
        self.limit_param = name.map(str::to_string);
        self
    }
    /// Where the total record count is (Salesforce `/totalSize`): read for
    /// the report (`total`, `complete`); pages still follow the links.
    ///
    /// ```
    /// use pagewise::{Link, Pagination, Total};
    /// let salesforce = Pagination::next_url(Link::pointer("/nextRecordsUrl"))
    ///     .limit_param(None)
    ///     .total(Total::pointer("/totalSize"));
    /// # let _ = salesforce;
    /// ```
    pub fn total(mut self, total: Total) -> Self {
        self.total = Some(total);
        self
    }
}

/// Keyset paging: `?id_gt=<last id seen>&limit=100`, the API ordering by that field.
///
/// ```
/// use pagewise::Pagination;
/// // PostgREST: ?id=gt.42 (and `order=id` in the list's query).
/// let postgrest = Pagination::keyset("id").param("id").value("gt.{value}");
/// // Stripe: ?starting_after=<last id>, until `has_more` is false.
/// let stripe = Pagination::keyset("id").param("starting_after").more("/has_more");
/// # let _ = (postgrest, stripe);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub(crate) field: String,
    pub(crate) param: String,
    pub(crate) value: String,
    pub(crate) limit_param: Option<String>,
    pub(crate) more: Option<String>,
    pub(crate) total: Option<Total>,
}

impl Keyset {
    /// The parameter that carries the last value (default `<field>_gt`).
    pub fn param(mut self, name: impl Into<String>) -> Self {
        self.param = name.into();
        self
    }
    /// The page-size parameter (default `limit`); `None` sends no size.
    pub fn limit_param(mut self, name: Option<&str>) -> Self {
        self.limit_param = name.map(str::to_string);
        self
    }
    /// The parameter's value, a template over `{value}` (default `{value}`):
    /// `gt.{value}` sends PostgREST's `?id=gt.42`. A template without
    /// `{value}` is a [`Config`](crate::ErrorKind::Config) error when the
    /// API is built.
    pub fn value(mut self, template: impl Into<String>) -> Self {
        self.value = template.into();
        self
    }
    /// A JSON pointer to a boolean saying whether another page follows
    /// (Stripe's `/has_more`): `false` ends the sweep even after a full
    /// page. A value that is not a boolean is a
    /// [`Decode`](crate::ErrorKind::Decode) error naming the page.
    pub fn more(mut self, pointer: impl Into<String>) -> Self {
        self.more = Some(pointer.into());
        self
    }
    /// Where the total record count is: read for the report only.
    pub fn total(mut self, total: Total) -> Self {
        self.total = Some(total);
        self
    }
}

/// The pagination dialect of an API. Build one with the constructors:
///
/// ```
/// use pagewise::{Pagination, Total, Link};
/// let offset = Pagination::offset().total(Total::header("X-Total-Count"));
/// let pages = Pagination::page_number().first_page(0).total(Total::pointer("/total"));
/// let cursor = Pagination::cursor(Link::pointer("/next_cursor")).param("cursor");
/// let next = Pagination::next_url(Link::LinkHeader);
/// let keyset = Pagination::keyset("id").param("id_gt");
/// # let _ = (offset, pages, cursor, next, keyset);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pagination {
    /// Offset + limit.
    Offset(Offset),
    /// Page number.
    PageNumber(PageNumber),
    /// Cursor token.
    Cursor(Cursor),
    /// Next URL.
    NextUrl(NextUrl),
    /// Keyset (`field > last`).
    Keyset(Keyset),
}

impl Pagination {
    /// Offset + limit (`offset`, `limit`), no total.
    pub fn offset() -> Offset {
        Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            total: None,
            range: false,
        }
    }
    /// Page numbers (`page`, `per_page`), first page 1, no total.
    pub fn page_number() -> PageNumber {
        PageNumber {
            page_param: "page".into(),
            size_param: Some("per_page".into()),
            first_page: 1,
            total: None,
        }
    }
    /// A cursor read from `from`, sent back as `cursor`, with page size `limit`.
    pub fn cursor(from: Link) -> Cursor {
        Cursor {
            from,
            cursor_param: "cursor".into(),
            limit_param: Some("limit".into()),
            more: None,
            total: None,
        }
    }
    /// A next-page URL read from `from`.
    pub fn next_url(from: Link) -> NextUrl {
        NextUrl {
            from,
            limit_param: Some("limit".into()),
            total: None,
        }
    }
    /// Keyset paging on `field` (a top-level member of each record, or a JSON
    /// pointer such as `/meta/id`), sent as `<field>_gt`.
    pub fn keyset(field: impl Into<String>) -> Keyset {
        let field = field.into();
        let name = field.trim_start_matches('/').replace('/', "_");
        Keyset {
            param: format!("{name}_gt"),
            field,
            value: "{value}".into(),
            limit_param: Some("limit".into()),
            more: None,
            total: None,
        }
    }

    /// The dialect's name: `offset`, `page_number`, `cursor`, `next_url` or `keyset`.
    pub fn name(&self) -> &'static str {
        match self {
            Pagination::Offset(_) => "offset",
            Pagination::PageNumber(_) => "page_number",
            Pagination::Cursor(_) => "cursor",
            Pagination::NextUrl(_) => "next_url",
            Pagination::Keyset(_) => "keyset",
        }
    }

    /// Where the total is read from, if anywhere.
    pub(crate) fn total(&self) -> Option<&Total> {
        match self {
            Pagination::Offset(o) => o.total.as_ref(),
            Pagination::PageNumber(p) => p.total.as_ref(),
            Pagination::Cursor(c) => c.total.as_ref(),
            Pagination::NextUrl(n) => n.total.as_ref(),
            Pagination::Keyset(k) => k.total.as_ref(),
        }
    }

    /// The pointer to a "more pages follow" boolean, if the dialect has one.
    pub(crate) fn more(&self) -> Option<&str> {
        match self {
            Pagination::Cursor(c) => c.more.as_deref(),
            Pagination::Keyset(k) => k.more.as_deref(),
            _ => None,
        }
    }

    /// Whether offset pages are asked for with range headers.
    pub(crate) fn range_header(&self) -> bool {
        matches!(self, Pagination::Offset(o) if o.range)
    }

    /// Checks what a build can check: a keyset value template holds `{value}`.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        if let Pagination::Keyset(k) = self {
            if !k.value.contains("{value}") {
                return Err(crate::Error::config(format!(
                    "the keyset value template {:?} has no {{value}}: every page would \
                     ask for the same records (write it like \"gt.{{value}}\")",
                    k.value
                )));
            }
        }
        Ok(())
    }

    /// Every parameter name the dialect uses, for validation.
    pub(crate) fn param_names(&self) -> Vec<&str> {
        match self {
            Pagination::Offset(o) if o.range => Vec::new(),
            Pagination::Offset(o) => vec![&o.offset_param, &o.limit_param],
            Pagination::PageNumber(p) => {
                let mut v = vec![p.page_param.as_str()];
                v.extend(p.size_param.as_deref());
                v
            }
            Pagination::Cursor(c) => {
                let mut v = vec![c.cursor_param.as_str()];
                v.extend(c.limit_param.as_deref());
                v
            }
            Pagination::NextUrl(n) => n.limit_param.as_deref().into_iter().collect(),
            Pagination::Keyset(k) => {
                let mut v = vec![k.param.as_str(), k.field.as_str()];
                v.extend(k.limit_param.as_deref());
                v
            }
        }
    }

    /// Every JSON pointer the dialect reads, for validation.
    pub(crate) fn pointers(&self) -> Vec<&str> {
        let mut v = Vec::new();
        if let Some(Total::Pointer(p)) = self.total().map(Total::source) {
            v.push(p.as_str());
        }
        v.extend(self.more());
        match self {
            Pagination::Cursor(Cursor {
                from: Link::Pointer(p),
                ..
            })
            | Pagination::NextUrl(NextUrl {
                from: Link::Pointer(p),
                ..
            }) => v.push(p.as_str()),
            _ => {}
        }
        v
    }

    pub(crate) fn header_names(&self) -> Vec<&str> {
        let mut v = Vec::new();
        if let Some(Total::Header(h)) = self.total().map(Total::source) {
            v.push(h.as_str());
        }
        match self {
            Pagination::Cursor(Cursor {
                from: Link::Header(h),
                ..
            })
            | Pagination::NextUrl(NextUrl {
                from: Link::Header(h),
                ..
            }) => v.push(h.as_str()),
            _ => {}
        }
        v
    }
}

impl From<Offset> for Pagination {
    fn from(v: Offset) -> Self {
        Pagination::Offset(v)
    }
}
impl From<PageNumber> for Pagination {
    fn from(v: PageNumber) -> Self {
        Pagination::PageNumber(v)
    }
}
impl From<Cursor> for Pagination {
    fn from(v: Cursor) -> Self {
        Pagination::Cursor(v)
    }
}
impl From<NextUrl> for Pagination {
    fn from(v: NextUrl) -> Self {
        Pagination::NextUrl(v)
    }
}
impl From<Keyset> for Pagination {
    fn from(v: Keyset) -> Self {
        Pagination::Keyset(v)
    }
}
