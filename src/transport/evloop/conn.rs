//! One connection: a non-blocking socket, plain or under rustls, with what
//! is still to be written and what was read but not yet parsed.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

/// How much is read from the socket at a time (into the loop's scratch
/// buffer, [`Conn::fill`]).
pub(crate) const READ_CHUNK: usize = 32 * 1024;

pub(crate) struct Conn {
    pub(crate) sock: TcpStream,
    tls: Option<Box<ClientConnection>>,
    out: Vec<u8>,
    out_pos: usize,
    /// Received plaintext not yet consumed by a parser.
    pub(crate) inbuf: Vec<u8>,
    /// The peer closed its side.
    pub(crate) eof: bool,
}

/// A failure of the connection, and whether the TLS handshake was still on.
pub(crate) enum ConnError {
    Io(io::Error),
    Tls {
        handshake: bool,
        error: rustls::Error,
    },
}

impl Conn {
    pub(crate) fn new(
        sock: TcpStream,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> Result<Conn, ConnError> {
        let tls = match tls {
            None => None,
            Some((config, host)) => {
                let name = ServerName::try_from(host.to_string()).map_err(|_| ConnError::Tls {
                    handshake: true,
                    error: rustls::Error::General(format!("{host:?} is not a valid server name")),
                })?;
                let mut c = ClientConnection::new(config.clone(), name).map_err(|error| {
                    ConnError::Tls {
                        handshake: true,
                        error,
                    }
                })?;
                // The whole request is queued at once (before the handshake
                // ends, too): no limit, or a large body would not fit.
                c.set_buffer_limit(None);
                Some(Box::new(c))
            }
        };
        Ok(Conn {
            sock,
            tls,
            out: Vec::new(),
            out_pos: 0,
            inbuf: Vec::new(),
            eof: false,
        })
    }

    /// Queues `bytes` to be sent (encrypted first under TLS).
    pub(crate) fn queue(&mut self, bytes: Vec<u8>) -> Result<(), ConnError> {
        match &mut self.tls {
            None => {
                if self.out_pos == self.out.len() {
                    self.out = bytes;
                    self.out_pos = 0;
                } else {
                    self.out.extend_from_slice(&bytes);
                }
            }
            Some(t) => t.writer().write_all(&bytes).map_err(ConnError::Io)?,
        }
        Ok(())
    }

    /// Writes what it can; `Ok(true)` when nothing is left to write.
    pub(crate) fn flush(&mut self) -> Result<bool, ConnError> {
        match &mut self.tls {
            None => {
                while self.out_pos < self.out.len() {
                    match self.sock.write(&self.out[self.out_pos..]) {
                        Ok(0) => {
                            return Err(ConnError::Io(io::ErrorKind::WriteZero.into()));
                        }
                        Ok(n) => self.out_pos += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(ConnError::Io(e)),
                    }
                }
                self.out.clear();
                self.out_pos = 0;
                Ok(true)
            }
            Some(t) => {
                while t.wants_write() {
                    match t.write_tls(&mut self.sock) {
                        Ok(0) => return Err(ConnError::Io(io::ErrorKind::WriteZero.into())),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(ConnError::Io(e)),
                    }
                }
                Ok(true)
            }
        }
    }

    /// Whether [`Conn::read_into`] may read now: the connection is open and
    /// nothing read is waiting to be parsed.
    pub(crate) fn can_read_into(&self) -> bool {
        !self.eof && self.inbuf.is_empty()
    }

    /// Reads once into `dst` (a body's room, read into with no copy through
    /// `inbuf`, or the scratch buffer of [`Conn::fill`]); under TLS, what
    /// rustls decrypted, reading more from the socket when it has nothing.
    /// `Ok(n)` for `n` bytes read; `Ok(0)` when the socket would block, or
    /// when the peer closed (then `eof` is set).
    pub(crate) fn read_into(&mut self, dst: &mut [u8]) -> Result<usize, ConnError> {
        let Some(t) = &mut self.tls else {
            loop {
                return match self.sock.read(dst) {
                    Ok(0) => {
                        self.eof = true;
                        Ok(0)
                    }
                    Ok(n) => Ok(n),
                    Err(e) => match e.kind() {
                        io::ErrorKind::WouldBlock => Ok(0),
                        io::ErrorKind::Interrupted => continue,
                        _ => Err(ConnError::Io(e)),
                    },
                };
            }
        };
        let mut closed = false;
        loop {
            match t.reader().read(dst) {
                Ok(n) if n > 0 => return Ok(n),
                // Nothing decrypted yet, the connection open.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !closed => {}
                // The peer closed (with close_notify: `Ok(0)`; without: an
                // error), or the socket did and nothing is left.
                _ => {
                    self.eof = true;
                    return Ok(0);
                }
            }
            match t.read_tls(&mut self.sock) {
                Ok(0) => closed = true,
                Ok(_) => {}
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(0),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(ConnError::Io(e)),
                },
            }
            let handshake = t.is_handshaking();
            t.process_new_packets()
                .map_err(|error| ConnError::Tls { handshake, error })?;
        }
    }

    /// Reads what is available into `inbuf` (through `scratch`, the loop's
    /// one buffer of [`READ_CHUNK`] bytes, by [`Conn::read_into`]), until
    /// the socket would block (edge-triggered readiness: then a new event
    /// comes) or the peer closed: `Ok(false)`; or until `budget` bytes were
    /// read: `Ok(true)`, more may be waiting.
    pub(crate) fn fill(&mut self, budget: usize, scratch: &mut [u8]) -> Result<bool, ConnError> {
        if self.eof {
            return Ok(false);
        }
        let start = self.inbuf.len();
        while self.inbuf.len() - start < budget {
            let n = self.read_into(scratch)?;
            if n == 0 {
                return Ok(false);
            }
            self.inbuf.extend_from_slice(&scratch[..n]);
        }
        Ok(true)
    }
}
