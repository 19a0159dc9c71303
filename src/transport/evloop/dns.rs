//! Name resolution off the event loop: a short-lived thread per lookup (the
//! system resolver blocks), results cached briefly by the loop.

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `host:port` on a new thread and hands the result to `done`.
/// If no thread can be started, resolves on the caller's thread.
pub(crate) fn lookup(
    host: String,
    port: u16,
    done: impl FnOnce(Result<Vec<SocketAddr>, String>) + Send + 'static,
) {
    let work = move || {
        let result = (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
            .map_err(|e| e.to_string())
            .and_then(|a| {
                if a.is_empty() {
                    Err("no address found".to_string())
                } else {
                    Ok(a)
                }
            });
        done(result);
    };
    let work = std::sync::Arc::new(std::sync::Mutex::new(Some(work)));
    let w = work.clone();
    let spawned = std::thread::Builder::new()
        .name("pagewise-dns".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let job = w.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(job) = job {
                job();
            }
        });
    if spawned.is_err() {
        let job = work.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(job) = job {
            job();
        }
    }
}
