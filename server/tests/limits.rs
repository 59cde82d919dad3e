//! What a flood costs the server, measured in its own test binary (so no other test's
//! memory is counted): concurrent sign-ups against the bounded hashing queue, and idle
//! subscribed rooms against the hub's small rings. Memory is read from the allocator
//! (bytes live) and from the kernel (peak resident set).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use app::realtime::protocol::Room;
use serde_json::json;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The two measurements must not overlap: each takes this lock.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A line of /proc/self/status in bytes (`VmHWM`: the peak resident set, `VmRSS`: now).
fn status_bytes(key: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// 200 sign-ups at once: the hashing queue runs at most one hash per CPU and refuses
/// (429, "try again") what it cannot queue, so the resident set grows by less than
/// 200 MiB; without the queue each of the 200 would hold argon2's 19 MiB at once
/// (about 3.8 GiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_sign_ups_keep_memory_bounded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = server::state::Settings::default();
    settings.limits.signups_per_ip_per_minute = 1_000;
    let (addr, state) =
        server::spawn_local(&format!("sqlite://{}/t.db", dir.path().display()), settings)
            .await
            .expect("app started");
    let (base, limits) = (format!("http://{addr}"), state.ctx.limits.clone());
    // Resets the peak resident set to the current one (Linux's clear_refs, value 5).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS:");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/api/sign_up"))
                .form(&json!({"email": format!("flood{i}@example.com"), "password": "password123", "display_name": "Flood"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("joined"));
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        ok + refused,
        200,
        "each is created or told to try again: {statuses:?}"
    );
    assert!(ok >= 1, "some get through");
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert!(
        limits.hashing.peak() <= cpus,
        "{} hashes at once",
        limits.hashing.peak()
    );
    let grew = status_bytes("VmHWM:").saturating_sub(before);
    eprintln!(
        "200 concurrent sign-ups: {ok} created, {refused} refused, resident set grew {} MiB at its peak",
        grew >> 20
    );
    assert!(grew < 200 << 20, "the resident set grew {} MiB", grew >> 20);
}

/// 10,000 rooms subscribed once (each by a socket's outbox) and then idle cost under
/// 3 KiB each in the hub, under 30 MiB in all: a room holds its subscriptions, and a
/// subscription holds no task or buffer until it has something to send (an old
/// 1,024-slot broadcast ring per room took about 70 KiB).
#[tokio::test]
async fn ten_thousand_idle_subscribed_rooms_cost_little() {
    let _one = ONE_AT_A_TIME.lock().await;
    let hub = server::realtime::Hub::new(
        server::realtime::HubConfig::default(),
        std::sync::Arc::new(server::realtime::bus::InProcessBus),
    );
    let before = LIVE.load(Ordering::Relaxed);
    let receivers: Vec<_> = (1..=10_000)
        .map(|i| {
            use server::realtime::subscription::{Replay, Subscription};
            let replay = Replay {
                store: None,
                page: 500,
                patience: std::time::Duration::from_secs(1),
                held: 256,
            };
            let outbox = server::realtime::outbox::Outbox::new(256);
            let room = Room::Workspace(i);
            let subscription = Subscription::new(room, i as u64, 1, outbox, replay);
            hub.subscribe(room, subscription.clone());
            subscription
        })
        .collect();
    let per_room = LIVE.load(Ordering::Relaxed).saturating_sub(before) / receivers.len();
    eprintln!("10,000 idle subscribed rooms: {per_room} bytes per room");
    assert_eq!(hub.room_count(), 10_000);
    assert!(per_room < 3 * 1024, "{per_room} bytes per room");
}
