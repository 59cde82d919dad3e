//! The reminder scheduler: sends the reminders that are due (meetings and scheduled calls,
//! each person's lead before the start) from the bookings in the database, so nothing is
//! held only in memory: a reminder that fell due while the server was down is sent at the
//! next start, and the store's claim makes each go out once however many nodes run this.

use std::sync::Arc;
use std::time::Duration;

use app::model::now_ms;
use app::ssr::store::Store;

/// How often the scheduler looks for due reminders. A reminder is sent at most this late.
pub const TICK: Duration = Duration::from_secs(15);

/// One pass: sends what is due now. Errors are logged (the next pass retries, since an
/// unsent reminder stays unclaimed).
pub async fn run_once(store: &dyn Store) {
    match store.send_due_reminders(now_ms()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sent = n, "reminders sent"),
        Err(e) => tracing::warn!(error = %e, "sending reminders failed"),
    }
}

/// Runs a pass every [`TICK`] (the first after one tick: [`crate::serve`] runs one before
/// it accepts connections) until the task is aborted.
pub fn spawn(store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.tick().await;
        loop {
            tick.tick().await;
            run_once(&*store).await;
        }
    })
}
