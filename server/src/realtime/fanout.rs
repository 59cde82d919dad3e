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

/// Spawns a dispatcher, a socket's writer or a replay on the fan-out runtime.
pub fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(task)
}
