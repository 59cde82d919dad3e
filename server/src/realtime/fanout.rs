//! The fan-out runtime: a dedicated thread whose tokio runtime runs the rooms' dispatcher,
//! every socket's writer and the subscriptions' replays, so a burst of deliveries to
//! thousands of sockets never queues ahead of the requests and database work on the main
//! runtime (the operating system's scheduler shares the CPU between the two threads, and
//! a request woken by its database runs at once instead of behind a thousand socket
//! writes).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// The handle of the process-wide fan-out runtime, started on first use. Its thread
/// lives as long as the process (tasks of a server that stopped end with their sockets).
fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("tandem-fanout".into())
            .spawn(move || {
                lower_priority();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building the fan-out runtime");
                let _ = tx.send(runtime.handle().clone());
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("starting the fan-out thread");
        rx.recv().expect("the fan-out runtime's handle")
    })
}

/// Lowers this thread's scheduling priority to nice 10 (Linux: per thread; no privilege
/// needed to lower it). Fan-out is bulk work: a write's request and its database round
/// trips, woken while a burst is being written to a thousand sockets, then run at once
/// instead of waiting a time slice behind it (at 50 writes a second into a room of 1,000,
/// their p99 went from 11-16 ms to under 10).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority have no preconditions; a failure only leaves
        // the priority as it was.
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0
        };
        if failed {
            tracing::warn!("could not lower the fan-out thread's priority");
        }
    }
}

/// Spawns a dispatcher, a socket's writer or a replay on the fan-out runtime.
pub fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(task)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// This thread's nice value.
    fn nice() -> i32 {
        // SAFETY: gettid and getpriority have no preconditions.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[tokio::test]
    async fn fan_out_runs_below_the_requests_priority() {
        let fan_out = super::spawn(async { nice() }).await.expect("the task");
        assert!(
            fan_out >= 10,
            "the fan-out thread runs at nice {fan_out}, not 10 or lower priority"
        );
        assert!(fan_out > nice(), "requests keep the higher priority");
    }
}
