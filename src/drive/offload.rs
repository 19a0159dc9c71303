//! A core state machine driven on the event loop's own thread.
//!
//! With the event-loop transport, an answer arrives on the loop's thread. A
//! driver on the caller's thread must be woken to read it and to hand the
//! next request back to the loop: two thread wake-ups per request, each
//! tens to hundreds of microseconds on a busy machine, on the path from one
//! answer to the next request. Here the async driver runs as a task on the
//! loop: the answer wakes it there (a flag, no system call), the machine
//! takes it and the next request starts in the same turn of the loop. Only
//! the machine's events (an item fetched, the end) cross to the consumer,
//! in batches (those of one turn of the loop: one wake-up of the consumer's
//! thread for several items) through a bounded channel, off the request path:
//! when the consumer falls behind by [`BUFFER`] batches the task waits for it.
//!
//! The consumer can still look at the machine (a checkpoint, progress): it
//! sits behind a mutex that the task holds only while it polls.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{Thread, ThreadId};

use futures::channel::{mpsc, oneshot};
use futures::{Future, StreamExt};

use crate::drive::asynch::AsyncDriver;
use crate::drive::Machine;
use crate::error::{Error, ErrorKind};
use crate::transport::evloop;

/// Events handed over at once, at most: those of one turn of the loop.
const BATCH: usize = 32;
/// Batches the task may run ahead of its consumer (with `BATCH`, at most
/// about 300 events).
const BUFFER: usize = 8;

/// A machine driven on the event loop's thread; its events come out here.
/// Dropping it stops the task, which drops the requests in flight.
pub(crate) struct Offloaded<M: Machine> {
    driver: Arc<Mutex<AsyncDriver<M>>>,
    /// The items of the events in the channel, oldest first: taken from the
    /// machine, not yet handed to the consumer (so not done in a checkpoint).
    held: Arc<Mutex<VecDeque<usize>>>,
    events: mpsc::Receiver<Vec<M::Event>>,
    /// Events of the last batch not handed out yet.
    pending: VecDeque<M::Event>,
    /// Set by the task when the machine ended (after its last event).
    finished: Arc<AtomicBool>,
    /// Dropped with `self`: tells the task to stop.
    _cancel: oneshot::Sender<()>,
    done: bool,
    parker: Option<(ThreadId, Waker)>,
    /// Why the task could not start.
    failure: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while polling ended the task (the consumer is told); the state
    // is still readable for a checkpoint.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<M> Offloaded<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    /// Starts `driver` on the loop's thread. If the loop cannot run, the
    /// first event says why (as every request over that transport would).
    pub(crate) fn start(driver: AsyncDriver<M>) -> Self {
        let driver = Arc::new(Mutex::new(driver));
        let (tx, events) = mpsc::channel(BUFFER);
        let (cancel, stop) = oneshot::channel();
        let finished = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(VecDeque::new()));
        let task = run(driver.clone(), held.clone(), tx, stop, finished.clone());
        let failure = evloop::spawn(Box::pin(task)).err().map(|e| e.to_string());
        Offloaded {
            driver,
            held,
            events,
            pending: VecDeque::new(),
            finished,
            _cancel: cancel,
            done: false,
            parker: None,
            failure,
        }
    }
}

impl<M: Machine> Offloaded<M> {
    /// The machine's next event; `Ready(None)` once it has ended and its last
    /// event was taken. A task that stopped before the machine ended (the
    /// loop's thread died) ends with a failure event, never silently.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<M::Event>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.pending.is_empty() {
            match self.events.poll_next_unpin(cx) {
                Poll::Ready(Some(batch)) => self.pending.extend(batch),
                Poll::Ready(None) => return Poll::Ready(self.ended()),
                Poll::Pending => return Poll::Pending,
            }
        }
        match self.pending.pop_front() {
            Some(ev) => {
                if M::item_index(&ev).is_some() {
                    lock(&self.held).pop_front();
                }
                Poll::Ready(Some(ev))
            }
            // An empty batch is never sent; look again.
            None => self.poll_event(cx),
        }
    }

    /// The channel closed: the end, or a failure if the machine had not ended.
    fn ended(&mut self) -> Option<M::Event> {
        self.done = true;
        if self.finished.load(Ordering::SeqCst) {
            return None;
        }
        let why = self.failure.take().unwrap_or_else(|| {
            "internal error: the operation's task on the pagewise I/O thread ended before the operation did"
                .into()
        });
        Some(M::failed(Error::new(ErrorKind::Transport, why)))
    }

    /// The next event, blocking the calling thread until it comes.
    pub(crate) fn next_event_blocking(&mut self) -> Option<M::Event> {
        let me = std::thread::current();
        let waker = match &self.parker {
            Some((id, w)) if *id == me.id() => w.clone(),
            _ => {
                let id = me.id();
                let w = Waker::from(Arc::new(Unpark(me)));
                self.parker = Some((id, w.clone()));
                w
            }
        };
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(ev) = self.poll_event(&mut cx) {
                return ev;
            }
            std::thread::park();
        }
    }

    /// Runs `f` on the machine and the items taken from it that the
    /// consumer has not had yet (for a checkpoint or progress).
    pub(crate) fn with_machine_held<R>(&self, f: impl FnOnce(Option<&M>, &[usize]) -> R) -> R {
        // The task takes an event and notes its item under the driver's
        // lock: holding it here too, the two agree.
        let driver = lock(&self.driver);
        let mut held = lock(&self.held);
        f(driver.machine(), held.make_contiguous())
    }
}

/// Wakes a parked consumer thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The task: polls the driver while the channel has room, sends its events,
/// stops when the machine ends or the consumer goes away.
async fn run<M>(
    driver: Arc<Mutex<AsyncDriver<M>>>,
    held: Arc<Mutex<VecDeque<usize>>>,
    mut tx: mpsc::Sender<Vec<M::Event>>,
    mut stop: oneshot::Receiver<()>,
    finished: Arc<AtomicBool>,
) where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    loop {
        // Every event the machine has now (up to a batch), and whether it ended.
        let next = futures::future::poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            match tx.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(())) => {}
            }
            let mut driver = lock(&driver);
            let mut batch = Vec::new();
            let mut ended = false;
            while batch.len() < BATCH {
                match driver.poll_event(cx) {
                    Poll::Ready(Some(ev)) => {
                        if let Some(i) = M::item_index(&ev) {
                            lock(&held).push_back(i);
                        }
                        batch.push(ev);
                    }
                    Poll::Ready(None) => {
                        ended = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if batch.is_empty() && !ended {
                Poll::Pending
            } else {
                Poll::Ready(Some((batch, ended)))
            }
        })
        .await;
        let Some((batch, ended)) = next else {
            // The consumer went away.
            return;
        };
        if !batch.is_empty() && tx.start_send(batch).is_err() {
            return;
        }
        if ended {
            finished.store(true, Ordering::SeqCst);
            return;
        }
    }
}
