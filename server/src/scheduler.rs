//! Scheduled work, run by one node at a time: sending the reminders that are due
//! (meetings and scheduled calls, each person's lead before the start) and pruning the
//! change log. Each pass runs on the node holding the `scheduled-work` lease in the
//! database; a node renews it every pass, and when it dies the lease expires and another
//! node's next pass takes it over, so the work never runs on two nodes at once and never
//! stops while one node is up. Nothing is held only in memory: a reminder that fell due
//! while every node was down is sent at the next start, and the store's claim would make
//! each go out once even if two nodes ever ran a pass together.

use std::sync::Arc;
use std::time::Duration;

use app::model::now_ms;
use app::ssr::store::Store;

/// The lease's name.
pub const LEASE: &str = "scheduled-work";

/// What the scheduler does and how often.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// How often a pass runs (15 s): a reminder is sent at most this late, and a dead
    /// holder's lease (three passes long) passes on within four.
    pub every: Duration,
    /// Keep each room's last N change log events (`--log-keep-events`); `None`: no bound
    /// by count.
    pub keep_events: Option<i64>,
    /// Keep change log events younger than this (`--log-keep-days`); `None`: no bound by
    /// age. With both `None` the log is never pruned.
    pub keep_for: Option<Duration>,
    /// How often the log is pruned (1 hour), by the lease's holder.
    pub prune_every: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            every: Duration::from_secs(15),
            keep_events: None,
            keep_for: None,
            prune_every: Duration::from_secs(3600),
        }
    }
}

/// This node's scheduler: its lease holder name and when it last pruned.
pub struct Scheduler {
    store: Arc<dyn Store>,
    schedule: Schedule,
    holder: String,
    last_prune: Option<tokio::time::Instant>,
}

impl Scheduler {
    /// A scheduler for this node, named in the lease by process id and a random suffix.
    pub fn new(store: Arc<dyn Store>, schedule: Schedule) -> Self {
        let holder = format!("pid{}-{:08x}", std::process::id(), rand::random::<u32>());
        Scheduler {
            store,
            schedule,
            holder,
            last_prune: None,
        }
    }

    /// Takes or renews the lease; whether this node holds it now.
    async fn hold(&self) -> bool {
        let ttl = i64::try_from((self.schedule.every * 3).as_millis()).unwrap_or(i64::MAX);
        match self
            .store
            .take_lease(LEASE, &self.holder, now_ms(), ttl)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "taking the scheduled-work lease failed");
                false
            }
        }
    }

    /// One pass: takes or renews the lease and, when held, sends the due reminders and,
    /// with `prune` and when it is time, prunes the log (in batches of 5,000, renewing
    /// the lease between them and stopping if it was lost, so no other node works while
    /// this one does). Returns whether this node held the lease. Errors are logged (the
    /// next pass retries: an unsent reminder stays unclaimed).
    pub async fn run_once(&mut self, prune: bool) -> bool {
        if !self.hold().await {
            return false;
        }
        match self.store.send_due_reminders(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "reminders sent"),
            Err(e) => tracing::warn!(error = %e, "sending reminders failed"),
        }
        let due = self
            .last_prune
            .is_none_or(|at| at.elapsed() >= self.schedule.prune_every);
        let bounded = self.schedule.keep_events.is_some() || self.schedule.keep_for.is_some();
        if prune && due && bounded {
            self.last_prune = Some(tokio::time::Instant::now());
            let since = self
                .schedule
                .keep_for
                .map(|d| now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
            const BATCH: i64 = 5_000;
            let mut pruned = 0;
            loop {
                match self
                    .store
                    .prune_log(self.schedule.keep_events, since, BATCH)
                    .await
                {
                    Ok(n) => {
                        pruned += n;
                        if n < BATCH as u64 || !self.hold().await {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "pruning the change log failed");
                        break;
                    }
                }
            }
            if pruned > 0 {
                tracing::info!(events = pruned, "change log pruned");
            }
        }
        true
    }

    /// Runs a pass every [`Schedule::every`] (the first after one period:
    /// [`crate::serve`] runs one, without pruning, before it accepts connections) until
    /// the task is aborted.
    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.schedule.every);
            tick.tick().await;
            loop {
                tick.tick().await;
                self.run_once(true).await;
            }
        })
    }
}
