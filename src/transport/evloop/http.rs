//! HTTP/1.1 on bytes: the request head and body, an incremental response
//! parser (Content-Length, chunked, until close), and gzip decoding.

use std::io::Read;

use crate::core::{Method, Request, TransportError, TransportErrorKind};

/// The largest response head accepted (status line and headers).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most headers accepted in a response head.
const MAX_HEADERS: usize = 128;
/// The largest chunk-size line or trailer section accepted.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;
/// The most body bytes a connection reads into a body at once.
const ROOM: usize = 256 * 1024;
/// The largest body accepted (after decoding), as the ureq transport.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

const USER_AGENT: &str = concat!("pagewise/", env!("CARGO_PKG_VERSION"));

/// Where a request goes: what the connection pool is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
}

fn io(message: impl Into<String>) -> TransportError {
    TransportError::new(TransportErrorKind::Io, message)
}

fn other(message: impl Into<String>) -> TransportError {
    TransportError::new(TransportErrorKind::Other, message)
}

fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

fn valid_value(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// The target of `req` and its bytes on the wire (head and body).
pub(crate) fn encode(req: &Request) -> Result<(Target, Vec<u8>), TransportError> {
    let url = url::Url::parse(&req.url)
        .map_err(|e| other(format!("cannot send to an invalid URL: {e}")))?;
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        s => return Err(other(format!("cannot send over the scheme {s:?}"))),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(other("cannot send to a URL without a host")),
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let method = match req.method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    };
    let body = req.body.as_deref();
    let mut out = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.path().as_bytes());
    if let Some(q) = url.query() {
        out.push(b'?');
        out.extend_from_slice(q.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    // `host_str` keeps the brackets of an IPv6 literal; the port only when not the default.
    out.extend_from_slice(url.host_str().unwrap_or_default().as_bytes());
    if let Some(p) = url.port() {
        out.extend_from_slice(format!(":{p}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let (mut ua, mut accept, mut enc) = (false, false, false);
    for h in &req.headers {
        if !valid_token(&h.name) || !valid_value(&h.value) {
            return Err(other(format!(
                "the header {:?} has an invalid name or value",
                h.name
            )));
        }
        let name = h.name.as_str();
        if name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            // Framing is this transport's business.
            continue;
        }
        ua |= name.eq_ignore_ascii_case("user-agent");
        accept |= name.eq_ignore_ascii_case("accept");
        enc |= name.eq_ignore_ascii_case("accept-encoding");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The headers ureq adds by default, so servers see the same request.
    if !ua {
        out.extend_from_slice(b"User-Agent: ");
        out.extend_from_slice(USER_AGENT.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !accept {
        out.extend_from_slice(b"Accept: */*\r\n");
    }
    if !enc {
        out.extend_from_slice(b"Accept-Encoding: gzip\r\n");
    }
    if let Some(b) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    Ok((Target { tls, host, port }, out))
}

#[derive(Debug)]
enum Framing {
    /// `n` body bytes still to come.
    Length(usize),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Trailers(usize),
}

#[derive(Debug)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    keep_alive: bool,
    gzip: bool,
}

/// A complete answer, body decoded.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the connection can carry another request.
    pub(crate) keep_alive: bool,
}

/// Reads one response from the bytes a connection receives.
#[derive(Debug)]
pub(crate) struct Parser {
    head_request: bool,
    head: Option<Head>,
    framing: Option<Framing>,
    /// The body received: `body[..filled]`. Past `filled`, zeroed room the
    /// connection reads into directly ([`Parser::room`]).
    body: Vec<u8>,
    filled: usize,
    /// Bytes of this response seen so far (head included).
    seen: usize,
    done: bool,
}

impl Parser {
    pub(crate) fn new(head_request: bool) -> Self {
        Parser {
            head_request,
            head: None,
            framing: None,
            body: Vec::new(),
            filled: 0,
            seen: 0,
            done: false,
        }
    }

    /// Whether any byte of the response arrived.
    pub(crate) fn started(&self) -> bool {
        self.seen > 0
    }

    /// Where the connection may read the next body bytes itself, with no
    /// copy: zeroed room in the body for at most [`ROOM`] of the bytes still
    /// announced, by `Content-Length` or by the size of the chunk being read
    /// (so never past this response's end, or into a chunk's trailing CRLF).
    /// `None` before the head, once done, between chunks and for a body
    /// delimited by the connection's close, whose bytes go through
    /// [`Parser::feed`].
    pub(crate) fn room(&mut self) -> Option<&mut [u8]> {
        let left = match self.framing {
            Some(Framing::Length(left) | Framing::Chunked(Chunk::Data(left))) => left,
            _ => return None,
        };
        if self.done || left == 0 {
            return None;
        }
        let end = self.filled + left.min(ROOM);
        if self.body.len() < end {
            self.body.resize(end, 0);
        }
        Some(&mut self.body[self.filled..end])
    }

    /// Whether the response is complete.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// `n` bytes were read into [`Parser::room`].
    pub(crate) fn advance(&mut self, n: usize) {
        let n = match &mut self.framing {
            Some(Framing::Length(left)) => {
                let n = n.min(*left);
                *left -= n;
                if *left == 0 {
                    self.done = true;
                }
                n
            }
            Some(Framing::Chunked(state)) => match *state {
                Chunk::Data(left) => {
                    let n = n.min(left);
                    *state = if n == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n)
                    };
                    n
                }
                _ => 0,
            },
            _ => 0,
        };
        self.filled += n;
        self.seen += n;
    }

    /// Consumes what it can of `buf`; `Ok(true)` once the response is complete.
    pub(crate) fn feed(&mut self, buf: &mut Vec<u8>) -> Result<bool, TransportError> {
        let mut pos = 0;
        let r = self.feed_at(buf, &mut pos);
        self.seen += pos;
        buf.drain(..pos);
        r
    }

    fn feed_at(&mut self, buf: &[u8], pos: &mut usize) -> Result<bool, TransportError> {
        while self.head.is_none() {
            if buf.len() == *pos {
                return Ok(false);
            }
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            let n = match resp.parse(&buf[*pos..]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => {
                    if buf.len() - *pos > MAX_HEAD {
                        return Err(io(format!(
                            "the response head is larger than {} KiB",
                            MAX_HEAD / 1024
                        )));
                    }
                    return Ok(false);
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(io(format!(
                        "the response has more than {MAX_HEADERS} headers"
                    )))
                }
                Err(e) => return Err(io(format!("the response is not HTTP/1.x: {e}"))),
            };
            if n > MAX_HEAD {
                return Err(io(format!(
                    "the response head is larger than {} KiB",
                    MAX_HEAD / 1024
                )));
            }
            *pos += n;
            let status = resp.code.unwrap_or(0);
            if (100..200).contains(&status) && status != 101 {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                continue;
            }
            self.start(&resp, status)?;
        }
        if self.done {
            return Ok(true);
        }
        let framing = self.framing.as_mut().expect("framing set with the head");
        match framing {
            Framing::Length(left) => {
                let take = (*left).min(buf.len() - *pos);
                *left -= take;
                if *left == 0 {
                    self.done = true;
                }
                push(&mut self.body, &mut self.filled, &buf[*pos..*pos + take]);
                *pos += take;
            }
            Framing::UntilClose => {
                push(&mut self.body, &mut self.filled, &buf[*pos..]);
                *pos = buf.len();
                if self.filled > MAX_BODY {
                    return Err(too_large());
                }
            }
            Framing::Chunked(state) => loop {
                let rest = &buf[*pos..];
                match *state {
                    Chunk::Size => match httparse::parse_chunk_size(rest) {
                        Ok(httparse::Status::Complete((n, size))) => {
                            *pos += n;
                            let size = usize::try_from(size).unwrap_or(usize::MAX);
                            if size > MAX_BODY || self.filled + size > MAX_BODY {
                                return Err(too_large());
                            }
                            *state = if size == 0 {
                                Chunk::Trailers(0)
                            } else {
                                Chunk::Data(size)
                            };
                        }
                        Ok(httparse::Status::Partial) => {
                            if rest.len() > MAX_CHUNK_LINE {
                                return Err(io("a chunk size line of the body is too long"));
                            }
                            break;
                        }
                        Err(_) => return Err(io("the chunked body has an invalid chunk size")),
                    },
                    Chunk::Data(left) => {
                        if rest.is_empty() {
                            break;
                        }
                        let take = left.min(rest.len());
                        push(&mut self.body, &mut self.filled, &rest[..take]);
                        *pos += take;
                        *state = if take == left {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left - take)
                        };
                    }
                    Chunk::DataEnd => {
                        if rest.starts_with(b"\r\n") {
                            *pos += 2;
                        } else if rest.starts_with(b"\n") {
                            *pos += 1;
                        } else if rest.len() >= 2 || (rest.len() == 1 && rest[0] != b'\r') {
                            return Err(io("a chunk of the body is longer than announced"));
                        } else {
                            break;
                        }
                        *state = Chunk::Size;
                    }
                    Chunk::Trailers(seen) => {
                        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                            if seen + rest.len() > MAX_TRAILERS {
                                return Err(io("the chunked body's trailers are too large"));
                            }
                            break;
                        };
                        let line = &rest[..nl];
                        *pos += nl + 1;
                        if line.is_empty() || line == b"\r" {
                            self.done = true;
                            break;
                        }
                        *state = Chunk::Trailers(seen + nl + 1);
                    }
                }
            },
        }
        Ok(self.done)
    }

    fn start(
        &mut self,
        resp: &httparse::Response<'_, '_>,
        status: u16,
    ) -> Result<(), TransportError> {
        let mut headers = Vec::with_capacity(resp.headers.len());
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        let mut keep_alive_header = false;
        let mut gzip = false;
        for h in resp.headers.iter() {
            let value = String::from_utf8_lossy(h.value).into_owned();
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let n: usize = value.trim().parse().map_err(|_| {
                    io(format!(
                        "the response has an invalid Content-Length {value:?}"
                    ))
                })?;
                if length.is_some_and(|l| l != n) {
                    return Err(io("the response has conflicting Content-Length headers"));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked |= value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for t in value.split(',') {
                    close |= t.trim().eq_ignore_ascii_case("close");
                    keep_alive_header |= t.trim().eq_ignore_ascii_case("keep-alive");
                }
            } else if name.eq_ignore_ascii_case("content-encoding") {
                let v = value.trim();
                gzip = v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip");
            }
            headers.push((name.to_string(), value));
        }
        let http11 = resp.version == Some(1);
        let mut keep_alive = !close && (http11 || keep_alive_header);
        let no_body = self.head_request || status == 204 || status == 304 || status == 101;
        let framing = if no_body {
            self.done = true;
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked(Chunk::Size)
        } else if let Some(n) = length {
            if n > MAX_BODY {
                return Err(too_large());
            }
            // Announced is not arrived: reserve at most 16 MiB ahead.
            self.body
                .reserve_exact(body_capacity(n.min(16 * 1024 * 1024)));
            if n == 0 {
                self.done = true;
            }
            Framing::Length(n)
        } else {
            keep_alive = false;
            Framing::UntilClose
        };
        self.framing = Some(framing);
        self.head = Some(Head {
            status,
            headers,
            keep_alive,
            gzip,
        });
        Ok(())
    }

    /// The connection closed: the answer if it was complete (or delimited by
    /// the close), else what was cut short.
    pub(crate) fn at_eof(&mut self) -> Result<bool, TransportError> {
        if self.done {
            return Ok(true);
        }
        match (&self.head, &self.framing) {
            (None, _) => Err(io(if self.seen == 0 {
                "the connection closed before an answer".to_string()
            } else {
                "the connection closed in the middle of the response head".to_string()
            })),
            (Some(_), Some(Framing::UntilClose)) => {
                self.done = true;
                Ok(true)
            }
            (Some(_), Some(Framing::Length(left))) => Err(io(format!(
                "the body was cut short: the connection closed {left} bytes before its announced end ({} bytes read)",
                self.filled
            ))),
            (Some(_), _) => Err(io(format!(
                "the chunked body was cut short: the connection closed after {} bytes",
                self.filled
            ))),
        }
    }

    /// The complete answer, body decoded. Call once `feed` or `at_eof` said done.
    pub(crate) fn finish(self) -> Result<Answer, TransportError> {
        let head = self.head.expect("finish after the head");
        let mut headers = head.headers;
        let mut body = self.body;
        body.truncate(self.filled);
        if head.gzip && !body.is_empty() {
            body = gunzip(&body)?;
            headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("content-encoding")
                    && !n.eq_ignore_ascii_case("content-length")
            });
        }
        Ok(Answer {
            status: head.status,
            headers,
            body,
            keep_alive: head.keep_alive,
        })
    }
}

/// Appends `bytes` to `body[..*filled]`, over the zeroed room past it if any.
fn push(body: &mut Vec<u8>, filled: &mut usize, bytes: &[u8]) {
    let end = *filled + bytes.len();
    if end <= body.len() {
        body[*filled..end].copy_from_slice(bytes);
    } else {
        body.truncate(*filled);
        body.extend_from_slice(bytes);
    }
    *filled = end;
}

/// The capacity to reserve for a body of `n` bytes: one of 64 KiB or more
/// rounded up to an eighth of its power of two (at most 12.5% more). Bodies
/// of one collection differ by a few bytes; in such size classes a freed
/// body's memory fits the next one, and the allocator reuses it instead of
/// growing the heap around holes a little too small (glibc serves these
/// sizes from the heap once the first one is freed: a long sweep's peak
/// memory crept up by a fifth).
fn body_capacity(n: usize) -> usize {
    if n < 64 * 1024 {
        return n;
    }
    let step = n.next_power_of_two() / 8;
    n.div_ceil(step) * step
}

fn too_large() -> TransportError {
    other(format!(
        "the response body is larger than {} MiB",
        MAX_BODY / (1024 * 1024)
    ))
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    flate2::read::MultiGzDecoder::new(data)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| io(format!("the gzip-encoded body cannot be decoded: {e}")))?;
    if out.len() > MAX_BODY {
        return Err(too_large());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8], head: bool) -> Result<Answer, TransportError> {
        // Byte by byte: every split point must work.
        let mut p = Parser::new(head);
        let mut buf = Vec::new();
        for b in bytes {
            buf.push(*b);
            if p.feed(&mut buf)? {
                return p.finish();
            }
        }
        if p.at_eof()? {
            return p.finish();
        }
        unreachable!()
    }

    #[test]
    fn large_bodies_are_read_into_size_classes() {
        assert_eq!(body_capacity(0), 0);
        assert_eq!(body_capacity(65_535), 65_535);
        assert_eq!(body_capacity(65_536), 65_536);
        assert_eq!(body_capacity(65_537), 81_920);
        assert_eq!(body_capacity(131_072), 131_072);
        // Two pages of one collection, a few bytes apart: one class.
        assert_eq!(body_capacity(249_871), 262_144);
        assert_eq!(body_capacity(250_113), 262_144);
    }

    #[test]
    fn content_length_body() {
        let a = parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.body, b"hello");
        assert!(a.keep_alive);
    }

    #[test]
    fn a_body_comes_in_order_read_into_its_room_and_fed_in_turns() {
        let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let mut p = Parser::new(false);
        assert!(p.room().is_none(), "no room before the head");
        let mut buf =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        buf.extend_from_slice(&body[..1000]);
        assert!(!p.feed(&mut buf).unwrap());
        assert!(buf.is_empty());
        let mut at = 1000;
        let mut turn = 0;
        while at < body.len() {
            turn += 1;
            let n = (turn * 7919) % 70_000 + 1;
            if turn % 3 == 0 {
                let end = (at + n).min(body.len());
                buf.extend_from_slice(&body[at..end]);
                at = end;
                assert_eq!(p.feed(&mut buf).unwrap(), at == body.len());
            } else {
                let room = p.room().unwrap();
                assert!(room.len() <= ROOM && room.len() <= body.len() - at);
                assert!(room.iter().all(|&b| b == 0));
                let n = n.min(room.len());
                room[..n].copy_from_slice(&body[at..at + n]);
                p.advance(n);
                at += n;
                assert_eq!(p.is_done(), at == body.len());
            }
        }
        assert!(p.room().is_none(), "no room once done");
        assert!(p.finish().unwrap().body == body);

        // Never room past the announced end, and a body cut short says
        // how much arrived.
        let mut p = Parser::new(false);
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
        assert!(!p.feed(&mut buf).unwrap());
        let room = p.room().unwrap();
        assert_eq!(room.len(), 10);
        room[..3].copy_from_slice(b"abc");
        p.advance(3);
        assert_eq!(p.room().unwrap().len(), 7);
        let err = p.at_eof().unwrap_err();
        assert!(
            err.message.contains("7 bytes before") && err.message.contains("(3 bytes read)"),
            "{err}"
        );

        // A chunked body: each chunk's data has room of its own (never
        // past the chunk); sizes, CRLFs and trailers go through `feed`.
        let body: Vec<u8> = (0..700_000u32).map(|i| (i % 241) as u8).collect();
        let mut p = Parser::new(false);
        let mut buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        assert!(!p.feed(&mut buf).unwrap());
        for chunk in body.chunks(300_001) {
            buf.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            buf.extend_from_slice(&chunk[..5]);
            assert!(!p.feed(&mut buf).unwrap());
            let mut at = 5;
            while at < chunk.len() {
                let room = p.room().unwrap();
                assert_eq!(room.len(), (chunk.len() - at).min(ROOM));
                let n = room.len().min(70_001);
                room[..n].copy_from_slice(&chunk[at..at + n]);
                p.advance(n);
                at += n;
            }
            assert!(p.room().is_none(), "no room between chunks");
            buf.extend_from_slice(b"\r\n");
            assert!(!p.feed(&mut buf).unwrap());
        }
        buf.extend_from_slice(b"0\r\n\r\n");
        assert!(p.feed(&mut buf).unwrap());
        assert!(p.finish().unwrap().body == body);

        // Until close goes through `feed`.
        let mut p = Parser::new(false);
        let mut buf = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        assert!(!p.feed(&mut buf).unwrap());
        assert!(p.room().is_none());
        let mut p = Parser::new(true);
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
        assert!(p.feed(&mut buf).unwrap());
        assert!(p.room().is_none(), "a HEAD answer has no body");
    }

    #[test]
    fn chunked_body_with_trailers_and_extensions() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n";
        let a = parse_all(raw, false).unwrap();
        assert_eq!(a.body, b"hello!");
        assert!(a.keep_alive);
    }

    #[test]
    fn until_close_and_http10() {
        let a = parse_all(b"HTTP/1.0 200 OK\r\n\r\nabc", false).unwrap();
        assert_eq!(a.body, b"abc");
        assert!(!a.keep_alive);
    }

    #[test]
    fn head_204_304_have_no_body() {
        let a = parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true).unwrap();
        assert!(a.body.is_empty());
        let a = parse_all(b"HTTP/1.1 204 No Content\r\n\r\n", false).unwrap();
        assert!(a.body.is_empty() && a.keep_alive);
        let a = parse_all(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(a.body.is_empty());
    }

    #[test]
    fn interim_answers_are_skipped() {
        let a = parse_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            false,
        )
        .unwrap();
        assert_eq!((a.status, &a.body[..]), (201, &b"ok"[..]));
    }

    #[test]
    fn hostile_answers_are_errors() {
        assert!(parse_all(b"garbage\r\n\r\n", false).is_err());
        assert!(
            parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false)
                .unwrap_err()
                .message
                .contains("cut short")
        );
        assert!(parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
        assert!(parse_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            false
        )
        .is_err());
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..5000 {
            huge.extend_from_slice(format!("X-{i}: {}\r\n", "a".repeat(20)).as_bytes());
        }
        let mut p = Parser::new(false);
        let err = p.feed(&mut huge).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Io);
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(Parser::new(false).feed(&mut long).is_err());
        assert!(parse_all(b"", false).is_err());
    }

    #[test]
    fn gzip_is_decoded() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"[1,2,3]").unwrap();
        let gz = enc.finish().unwrap();
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gz.len()
        )
        .into_bytes();
        raw.extend_from_slice(&gz);
        let a = parse_all(&raw, false).unwrap();
        assert_eq!(a.body, b"[1,2,3]");
        assert!(a.headers.iter().all(|(n, _)| n != "Content-Encoding"));
        let bad = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc";
        assert!(parse_all(bad, false).is_err());
    }
}
