//! The event loop: one thread, a `mio` poll over every connection, jobs
//! submitted through a queue and a `mio::Waker`.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll as TaskPoll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::ClientConfig;

use super::conn::{Conn, ConnError, READ_CHUNK};
use super::dns;
use super::http::{Parser, Target};
use crate::core::{Response, TransportError, TransportErrorKind};
use crate::drive::lease::Lease;

/// How long an unused connection is kept (as ureq's default).
const IDLE_MAX: Duration = Duration::from_secs(15);
/// The most idle connections kept, overall.
const MAX_IDLE: usize = 256;
/// How long a name resolution is reused.
const DNS_TTL: Duration = Duration::from_secs(10);
const WAKER: Token = Token(0);
/// How much is read from a connection before parsing it.
const READ_BUDGET: usize = 64 * 1024;
/// Above this, a connection's read buffer is let go once an answer is out.
const KEEP_BUFFER: usize = 256 * 1024;
/// Rounds of commands and woken tasks per turn of the loop before it polls
/// the sockets again.
const TURN_ROUNDS: usize = 4;

pub(crate) type Outcome = Result<Response, TransportError>;

/// One request to run, with where its answer goes.
pub(crate) struct Job {
    pub(crate) target: Target,
    pub(crate) bytes: Vec<u8>,
    pub(crate) head: bool,
    pub(crate) reply: oneshot::Sender<Outcome>,
    pub(crate) lease: Option<Lease>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tls: Arc<ClientConfig>,
    deadline: Option<Instant>,
    retried: bool,
    fresh: bool,
    /// Whether a stale reused connection may be retried with this request.
    pub(crate) resend_if_stale: bool,
}

impl Job {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        target: Target,
        bytes: Vec<u8>,
        head: bool,
        reply: oneshot::Sender<Outcome>,
        lease: Option<Lease>,
        timeout: Option<Duration>,
        tls: Arc<ClientConfig>,
    ) -> Job {
        Job {
            target,
            bytes,
            head,
            reply,
            lease,
            timeout,
            tls,
            deadline: None,
            retried: false,
            fresh: false,
            resend_if_stale: true,
        }
    }

    fn key(&self) -> PoolKey {
        let tls = if self.target.tls {
            Arc::as_ptr(&self.tls) as usize
        } else {
            0
        };
        (self.target.clone(), tls)
    }

    /// Ends the job: gives the slot back (telling the pacer how it went), then answers.
    fn finish(mut self, outcome: Outcome) {
        if let Some(lease) = self.lease.take() {
            lease.complete(&outcome);
        }
        let _ = self.reply.send(outcome);
    }

    fn fail(self, kind: TransportErrorKind, message: String) {
        self.finish(Err(TransportError::new(kind, message)));
    }
}

type PoolKey = (Target, usize);

enum Command {
    Send(Job),
    Resolved((String, u16), Result<Vec<SocketAddr>, String>),
    Spawn(LoopFuture),
}

/// A future run on the loop's thread (see [`Shared::spawn`]).
pub(crate) type LoopFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A future run on the loop, polled when its waker was called.
struct Task {
    future: LoopFuture,
    wake: Arc<TaskWake>,
    waker: Waker,
}

/// A task's waker: marks the task, then wakes the loop (on the loop's own
/// thread, an answer delivered there, that is a flag and no system call).
struct TaskWake {
    woken: AtomicBool,
    wake: Arc<LoopWake>,
}

impl Wake for TaskWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        Wake::wake_by_ref(&self.wake);
    }
}

thread_local! {
    static ON_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// Wakes the loop: from another thread through the `mio::Waker`, on the
/// loop's own thread (a slot given back there) with a flag alone.
struct LoopWake {
    waker: mio::Waker,
    flagged: AtomicBool,
}

impl Wake for LoopWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.flagged.swap(true, Ordering::SeqCst) && !ON_LOOP.with(Cell::get) {
            let _ = self.waker.wake();
        }
    }
}

/// The handle other threads submit through.
pub(crate) struct Shared {
    queue: Mutex<Vec<Command>>,
    wake: Arc<LoopWake>,
    alive: AtomicBool,
}

impl Shared {
    /// Starts the loop thread.
    pub(crate) fn start() -> io::Result<Arc<Shared>> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Vec::new()),
            wake: Arc::new(LoopWake {
                waker,
                flagged: AtomicBool::new(false),
            }),
            alive: AtomicBool::new(true),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("pagewise-evloop".into())
            .spawn(move || {
                ON_LOOP.with(|c| c.set(true));
                struct Dead(Arc<Shared>);
                impl Drop for Dead {
                    fn drop(&mut self) {
                        self.0.alive.store(false, Ordering::SeqCst);
                        // Answer what is still queued: the loop is gone.
                        let left = std::mem::take(
                            &mut *self.0.queue.lock().unwrap_or_else(|e| e.into_inner()),
                        );
                        drop(left);
                    }
                }
                let _dead = Dead(s.clone());
                Reactor::new(poll, s).run();
            })?;
        Ok(shared)
    }

    /// Hands `job` to the loop (or drops it, answering nothing, if the loop died).
    pub(crate) fn submit(&self, job: Job) {
        self.push(Command::Send(job));
    }

    /// Runs `future` on the loop's thread until it completes (or the loop
    /// ends). A request it sends through the loop's transport, and the answer
    /// it gets back, then cross no thread: the answer wakes it on the loop,
    /// and the next request starts in the same turn.
    pub(crate) fn spawn(&self, future: LoopFuture) {
        self.push(Command::Spawn(future));
    }

    pub(crate) fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    fn push(&self, cmd: Command) {
        if !self.alive() {
            return;
        }
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cmd);
        Wake::wake_by_ref(&self.wake);
    }
}

enum State {
    Connecting {
        job: Job,
        rest: Vec<SocketAddr>,
    },
    Busy {
        job: Job,
        parser: Parser,
        reused: bool,
    },
    Idle {
        since: Instant,
    },
}

struct Slot {
    conn: Conn,
    key: PoolKey,
    state: State,
}

type Acquire = Pin<Box<dyn Future<Output = Lease> + Send>>;

struct Reactor {
    poll: Poll,
    shared: Arc<Shared>,
    waker: Waker,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    idle: HashMap<PoolKey, Vec<usize>>,
    idle_count: usize,
    dns_wait: HashMap<(String, u16), Vec<Job>>,
    dns_cache: HashMap<(String, u16), (Vec<SocketAddr>, Instant)>,
    acquiring: VecDeque<(Acquire, Job)>,
    tasks: Vec<Task>,
    /// What connections read into before it is parsed (one for the loop,
    /// zeroed once).
    scratch: Box<[u8]>,
}

fn conn_message(e: &ConnError) -> (TransportErrorKind, String) {
    match e {
        ConnError::Io(e) => (io_kind(e), e.to_string()),
        ConnError::Tls {
            handshake: true,
            error,
        } => (
            TransportErrorKind::Connect,
            format!("the TLS handshake failed: {error}"),
        ),
        ConnError::Tls { error, .. } => (TransportErrorKind::Io, format!("TLS error: {error}")),
    }
}

fn io_kind(e: &io::Error) -> TransportErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::NotFound
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => TransportErrorKind::Connect,
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Io,
    }
}

impl Reactor {
    fn new(poll: Poll, shared: Arc<Shared>) -> Reactor {
        let waker = Waker::from(shared.wake.clone());
        Reactor {
            poll,
            shared,
            waker,
            slots: Vec::new(),
            free: Vec::new(),
            idle: HashMap::new(),
            idle_count: 0,
            dns_wait: HashMap::new(),
            dns_cache: HashMap::new(),
            acquiring: VecDeque::new(),
            tasks: Vec::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = if self.shared.wake.flagged.load(Ordering::SeqCst) {
                Some(Duration::ZERO)
            } else {
                self.next_wake(now)
                    .map(|at| at.saturating_duration_since(now))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The poller itself broke: nothing can make progress any more.
                return;
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                self.ready(ev.token().0 - 1);
            }
            // Tasks woken by the answers just read send their next requests
            // in the same turn: a few rounds of commands and tasks.
            for _ in 0..TURN_ROUNDS {
                if !self.shared.wake.flagged.swap(false, Ordering::SeqCst) {
                    break;
                }
                let cmds = std::mem::take(
                    &mut *self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()),
                );
                for cmd in cmds {
                    match cmd {
                        Command::Send(job) => self.admit(job),
                        Command::Resolved(key, result) => self.resolved(key, result),
                        Command::Spawn(future) => self.spawn(future),
                    }
                }
                self.poll_acquiring();
                self.drop_cancelled();
                self.poll_tasks();
            }
            self.expire(Instant::now());
        }
    }

    fn spawn(&mut self, future: LoopFuture) {
        let wake = Arc::new(TaskWake {
            woken: AtomicBool::new(true),
            wake: self.shared.wake.clone(),
        });
        let waker = Waker::from(wake.clone());
        self.tasks.push(Task {
            future,
            wake,
            waker,
        });
        self.shared.wake.flagged.store(true, Ordering::SeqCst);
    }

    /// Polls the tasks that were woken; drops those that completed. A task
    /// that panics is dropped (its consumer sees it end) and the loop goes on.
    fn poll_tasks(&mut self) {
        let mut i = 0;
        while i < self.tasks.len() {
            let task = &mut self.tasks[i];
            if task.wake.woken.swap(false, Ordering::SeqCst) {
                let mut cx = Context::from_waker(&task.waker);
                let future = &mut task.future;
                let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    future.as_mut().poll(&mut cx)
                }));
                if !matches!(polled, Ok(TaskPoll::Pending)) {
                    drop(self.tasks.swap_remove(i));
                    continue;
                }
            }
            i += 1;
        }
    }

    /// A new job: it waits for its slot of the concurrency limit here, not on a thread.
    fn admit(&mut self, mut job: Job) {
        match job.lease.take() {
            None => self.start(job),
            Some(mut lease) => {
                let mut fut: Acquire = Box::pin(async move {
                    lease.acquire().await;
                    lease
                });
                let mut cx = Context::from_waker(&self.waker);
                match fut.as_mut().poll(&mut cx) {
                    TaskPoll::Ready(lease) => {
                        job.lease = Some(lease);
                        self.start(job);
                    }
                    TaskPoll::Pending => {
                        let _ = job.reply.poll_canceled(&mut cx);
                        self.acquiring.push_back((fut, job));
                    }
                }
            }
        }
    }

    fn poll_acquiring(&mut self) {
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        let mut still = VecDeque::new();
        while let Some((mut fut, mut job)) = self.acquiring.pop_front() {
            if job.reply.is_canceled() {
                continue;
            }
            match fut.as_mut().poll(&mut cx) {
                TaskPoll::Ready(lease) => {
                    job.lease = Some(lease);
                    self.start(job);
                }
                TaskPoll::Pending => still.push_back((fut, job)),
            }
        }
        self.acquiring = still;
    }

    /// Runs a job holding its slot: on an idle connection, else a new one.
    fn start(&mut self, mut job: Job) {
        if job.reply.is_canceled() {
            return;
        }
        let mut cx = Context::from_waker(&self.waker);
        let _ = job.reply.poll_canceled(&mut cx);
        if job.deadline.is_none() {
            job.deadline = job.timeout.map(|t| Instant::now() + t);
        }
        if !job.fresh {
            if let Some(i) = self.take_idle(&job.key()) {
                self.attach(i, job, true);
                return;
            }
        }
        let name = (job.target.host.clone(), job.target.port);
        if let Ok(ip) = job.target.host.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, job.target.port);
            self.connect(job, vec![addr]);
            return;
        }
        if let Some((addrs, at)) = self.dns_cache.get(&name) {
            if at.elapsed() < DNS_TTL {
                let addrs = addrs.clone();
                self.connect(job, addrs);
                return;
            }
        }
        let waiting = self.dns_wait.entry(name.clone()).or_default();
        waiting.push(job);
        if waiting.len() == 1 {
            let shared = self.shared.clone();
            let key = name.clone();
            dns::lookup(name.0, name.1, move |result| {
                shared.push(Command::Resolved(key, result));
            });
        }
    }

    fn resolved(&mut self, name: (String, u16), result: Result<Vec<SocketAddr>, String>) {
        let jobs = self.dns_wait.remove(&name).unwrap_or_default();
        match result {
            Ok(addrs) => {
                self.dns_cache.insert(name, (addrs.clone(), Instant::now()));
                for job in jobs {
                    if !job.reply.is_canceled() {
                        self.connect(job, addrs.clone());
                    }
                }
            }
            Err(e) => {
                for job in jobs {
                    let host = job.target.host.clone();
                    job.fail(
                        TransportErrorKind::Connect,
                        format!("cannot resolve the host {host}: {e}"),
                    );
                }
            }
        }
    }

    fn take_idle(&mut self, key: &PoolKey) -> Option<usize> {
        let now = Instant::now();
        loop {
            let i = self.idle.get_mut(key)?.pop()?;
            self.idle_count -= 1;
            // A listed connection is always idle (closing an idle connection
            // takes it off the list first); anything else is left be.
            if let Some(Slot {
                state: State::Idle { since },
                conn,
                ..
            }) = self.slots.get(i).and_then(Option::as_ref)
            {
                if now.duration_since(*since) < IDLE_MAX && !conn.eof && conn.inbuf.is_empty() {
                    return Some(i);
                }
                self.close(i);
            }
        }
    }

    fn connect(&mut self, job: Job, mut addrs: Vec<SocketAddr>) {
        let mut last = String::from("no address to connect to");
        while !addrs.is_empty() {
            let addr = addrs.remove(0);
            match self.open(&job, addr) {
                Ok(conn) => {
                    let key = job.key();
                    let i = self.insert(Slot {
                        conn,
                        key,
                        state: State::Connecting { job, rest: addrs },
                    });
                    let Some(slot) = self.slots[i].as_mut() else {
                        return;
                    };
                    if let Err(e) = self.poll.registry().register(
                        &mut slot.conn.sock,
                        Token(i + 1),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        if let Some(Slot {
                            state: State::Connecting { job, .. },
                            ..
                        }) = self.remove(i)
                        {
                            job.fail(
                                TransportErrorKind::Other,
                                format!("cannot watch the connection: {e}"),
                            );
                        }
                    }
                    return;
                }
                Err((kind, msg)) => {
                    last = msg;
                    if addrs.is_empty() {
                        job.fail(kind, last);
                        return;
                    }
                }
            }
        }
        job.fail(TransportErrorKind::Connect, last);
    }

    fn open(&self, job: &Job, addr: SocketAddr) -> Result<Conn, (TransportErrorKind, String)> {
        let t = &job.target;
        let sock = TcpStream::connect(addr).map_err(|e| {
            (
                io_kind(&e).max_connect(),
                format!("cannot connect to {}:{}: {e}", t.host, t.port),
            )
        })?;
        let _ = sock.set_nodelay(true);
        let tls = t.tls.then_some((&job.tls, t.host.as_str()));
        Conn::new(sock, tls).map_err(|e| {
            let (kind, msg) = conn_message(&e);
            (
                kind,
                format!("cannot connect to {}:{}: {msg}", t.host, t.port),
            )
        })
    }

    fn insert(&mut self, slot: Slot) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<Slot> {
        let mut slot = self.slots.get_mut(i)?.take()?;
        let _ = self.poll.registry().deregister(&mut slot.conn.sock);
        self.free.push(i);
        Some(slot)
    }

    /// Closes connection `i`, dropping whatever job it carried (its caller is gone).
    fn close(&mut self, i: usize) {
        drop(self.remove(i));
    }

    /// Readiness on connection `i`.
    fn ready(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        match &slot.state {
            State::Connecting { .. } => self.connected(i),
            State::Busy { .. } => self.drive(i),
            State::Idle { .. } => {
                // An idle connection has nothing to say: the server closed it
                // (or sent garbage). Either way it is no longer reusable.
                let gone = slot.conn.fill(READ_BUDGET, &mut self.scratch).is_err()
                    || slot.conn.eof
                    || !slot.conn.inbuf.is_empty();
                if gone {
                    self.unidle(i);
                    self.close(i);
                }
            }
        }
    }

    fn unidle(&mut self, i: usize) {
        let Some(slot) = self.slots.get(i).and_then(Option::as_ref) else {
            return;
        };
        if let Some(list) = self.idle.get_mut(&slot.key) {
            if let Some(p) = list.iter().position(|&j| j == i) {
                list.remove(p);
                self.idle_count -= 1;
            }
        }
    }

    fn connected(&mut self, i: usize) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let failure = match slot.conn.sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match slot.conn.sock.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => Some(e),
            },
        };
        if let Some(e) = failure {
            if let Some(Slot {
                state: State::Connecting { job, rest },
                ..
            }) = self.remove(i)
            {
                if rest.is_empty() {
                    let t = &job.target;
                    let msg = format!("cannot connect to {}:{}: {e}", t.host, t.port);
                    job.fail(io_kind(&e).max_connect(), msg);
                } else {
                    self.connect(job, rest);
                }
            }
            return;
        }
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let State::Connecting { job, .. } = std::mem::replace(
            &mut slot.state,
            State::Idle {
                since: Instant::now(),
            },
        ) else {
            return;
        };
        self.attach(i, job, false);
    }

    /// Puts `job` on connection `i` and starts writing it.
    fn attach(&mut self, i: usize, job: Job, reused: bool) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        if let Err(e) = slot.conn.queue(job.bytes.clone()) {
            slot.state = State::Busy {
                parser: Parser::new(job.head),
                job,
                reused,
            };
            self.failed(i, e);
            return;
        }
        slot.state = State::Busy {
            parser: Parser::new(job.head),
            job,
            reused,
        };
        self.drive(i);
    }

    /// Moves the exchange on connection `i` as far as it goes now.
    fn drive(&mut self, i: usize) {
        // Write, read (even after a failed write: the server may have
        // answered before closing), then write what reading produced (TLS).
        // Read and parse in turns, so a large body is not buffered twice.
        let mut err = None;
        let mut first = true;
        loop {
            let Some(slot) = self.slots[i].as_mut() else {
                return;
            };
            if first {
                err = slot.conn.flush().err();
                first = false;
            }
            // A body of announced length is read into its own room (no
            // copy through `inbuf`); the rest (heads, other framings)
            // through `inbuf`.
            let direct = match &mut slot.state {
                State::Busy { parser, .. } if slot.conn.can_read_into() => {
                    match parser.room() {
                        Some(room) => match slot.conn.read_into(room) {
                            // Blocked, or closed (the parse below sees it).
                            Ok(0) => Some(false),
                            Ok(n) => {
                                parser.advance(n);
                                // Once the body is whole, `fill` below still
                                // reads until the socket would block: bytes
                                // past the announced end make the connection
                                // not reusable, as they always did.
                                (!parser.is_done()).then_some(true)
                            }
                            Err(e) => {
                                err = err.or(Some(e));
                                Some(false)
                            }
                        },
                        None => None,
                    }
                }
                _ => None,
            };
            let more = match direct {
                Some(more) => more,
                None => match slot.conn.fill(READ_BUDGET, &mut self.scratch) {
                    Ok(more) => more,
                    Err(e) => {
                        err = err.or(Some(e));
                        false
                    }
                },
            };
            if err.is_none() {
                err = slot.conn.flush().err();
            }
            let broken = err.is_some();
            if self.parse(i, broken) {
                return;
            }
            if !more || broken {
                break;
            }
        }
        if let Some(e) = err {
            self.failed(i, e);
        }
    }

    /// Parses what arrived; `true` if the exchange ended (answered or failed).
    /// With `broken` (the connection failed), an incomplete answer is left
    /// for the caller to report.
    fn parse(&mut self, i: usize, broken: bool) -> bool {
        let Some(slot) = self.slots[i].as_mut() else {
            return true;
        };
        let State::Busy { parser, .. } = &mut slot.state else {
            return true;
        };
        let done = match parser.feed(&mut slot.conn.inbuf) {
            Ok(false) if broken && !slot.conn.eof => return false,
            Ok(false) if slot.conn.eof => parser.at_eof(),
            other => other,
        };
        match done {
            Ok(false) => false,
            Ok(true) => {
                self.answered(i);
                true
            }
            Err(e) => {
                let started = parser.started();
                let eof = slot.conn.eof;
                self.ended(i, e, started || !eof);
                true
            }
        }
    }

    fn answered(&mut self, i: usize) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let reusable_conn = !slot.conn.eof && slot.conn.inbuf.is_empty();
        if slot.conn.inbuf.capacity() > KEEP_BUFFER {
            slot.conn.inbuf = Vec::new();
        }
        let State::Busy { job, parser, .. } = std::mem::replace(
            &mut slot.state,
            State::Idle {
                since: Instant::now(),
            },
        ) else {
            return;
        };
        let key = slot.key.clone();
        match parser.finish() {
            Ok(answer) => {
                let keep = answer.keep_alive && reusable_conn;
                job.finish(Ok(Response {
                    status: answer.status,
                    headers: answer.headers,
                    body: answer.body,
                    attachment: None,
                }));
                if keep && self.idle_count < MAX_IDLE {
                    self.idle.entry(key).or_default().push(i);
                    self.idle_count += 1;
                } else {
                    self.close(i);
                }
            }
            Err(e) => {
                job.finish(Err(e));
                self.close(i);
            }
        }
    }

    /// The connection failed under its exchange.
    fn failed(&mut self, i: usize, e: ConnError) {
        let (kind, msg) = conn_message(&e);
        let started = match self.slots[i].as_ref() {
            Some(Slot {
                state: State::Busy { parser, .. },
                ..
            }) => parser.started(),
            _ => true,
        };
        self.ended(i, TransportError::new(kind, msg), started);
    }

    /// Ends the exchange on connection `i` with `err`, unless it was the
    /// first try on a reused connection and nothing of the answer came: the
    /// server may have closed it while idle, so it is sent once more on a new
    /// connection (what ureq does too) — for idempotent methods only.
    fn ended(&mut self, i: usize, err: TransportError, started: bool) {
        let Some(slot) = self.remove(i) else {
            return;
        };
        let State::Busy {
            mut job, reused, ..
        } = slot.state
        else {
            return;
        };
        if reused
            && !started
            && !job.retried
            && job.resend_if_stale
            && err.kind == TransportErrorKind::Io
        {
            job.retried = true;
            job.fresh = true;
            self.start(job);
            return;
        }
        job.finish(Err(err));
    }

    fn drop_cancelled(&mut self) {
        for i in 0..self.slots.len() {
            let cancelled = match self.slots[i].as_ref().map(|s| &s.state) {
                Some(State::Busy { job, .. } | State::Connecting { job, .. }) => {
                    job.reply.is_canceled()
                }
                _ => false,
            };
            if cancelled {
                // The caller went away: abort the exchange (its slot is freed
                // as the job drops), the connection cannot be reused.
                self.close(i);
            }
        }
        for jobs in self.dns_wait.values_mut() {
            jobs.retain(|j| !j.reply.is_canceled());
        }
    }

    /// The earliest deadline or idle expiry.
    fn next_wake(&self, now: Instant) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut note = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        for slot in self.slots.iter().flatten() {
            match &slot.state {
                State::Busy { job, .. } | State::Connecting { job, .. } => {
                    if let Some(d) = job.deadline {
                        note(d);
                    }
                }
                State::Idle { since } => note(*since + IDLE_MAX),
            }
        }
        for jobs in self.dns_wait.values() {
            for job in jobs {
                if let Some(d) = job.deadline {
                    note(d);
                }
            }
        }
        at.map(|a| a.max(now))
    }

    /// Fails exchanges past their deadline, closes connections idle too long.
    fn expire(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots[i].as_ref() else {
                continue;
            };
            match &slot.state {
                State::Busy { job, .. } | State::Connecting { job, .. } => {
                    if job.deadline.is_some_and(|d| d <= now) {
                        let timeout = job.timeout.unwrap_or_default();
                        let phase = if matches!(slot.state, State::Connecting { .. }) {
                            "while connecting"
                        } else {
                            "waiting for the answer"
                        };
                        if let Some(Slot {
                            state: State::Busy { job, .. } | State::Connecting { job, .. },
                            ..
                        }) = self.remove(i)
                        {
                            job.fail(
                                TransportErrorKind::Timeout,
                                format!("no answer within {timeout:?} (timed out {phase})"),
                            );
                        }
                    }
                }
                State::Idle { since } => {
                    if now.duration_since(*since) >= IDLE_MAX {
                        self.unidle(i);
                        self.close(i);
                    }
                }
            }
        }
        let mut timed_out = Vec::new();
        for jobs in self.dns_wait.values_mut() {
            let mut k = 0;
            while k < jobs.len() {
                if jobs[k].deadline.is_some_and(|d| d <= now) {
                    timed_out.push(jobs.remove(k));
                } else {
                    k += 1;
                }
            }
        }
        for job in timed_out {
            let timeout = job.timeout.unwrap_or_default();
            job.fail(
                TransportErrorKind::Timeout,
                format!("no answer within {timeout:?} (timed out resolving the host)"),
            );
        }
    }
}

trait ConnectKind {
    fn max_connect(self) -> TransportErrorKind;
}

impl ConnectKind for TransportErrorKind {
    /// A failure to open a connection is a connect failure, unless it timed out.
    fn max_connect(self) -> TransportErrorKind {
        match self {
            TransportErrorKind::Timeout => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Connect,
        }
    }
}
