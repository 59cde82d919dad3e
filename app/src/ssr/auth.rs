//! Password hashing (argon2id) behind a bounded queue, rate limits (governor) with
//! bounded key maps, and the rules for what an e-mail, password and name must look like:
//! everything a visitor can make the server spend memory or CPU on is bounded here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) through the
/// hashing queue. Returns a PHC string. Errors: `RateLimited` when the queue is full,
/// `Internal`.
pub async fn hash_password(queue: &HashQueue, password: String) -> Result<String, AppError> {
    queue
        .run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| super::internal("hashing a password", e))
        })
        .await?
}

/// Checks a password against a stored hash through the hashing queue. With no hash
/// (unknown e-mail, or an account without a password) it checks against a dummy hash and
/// returns false, so the answer takes as long either way and timing reveals nothing.
/// Errors: `RateLimited` when the queue is full, `Internal`.
pub async fn verify_password(
    queue: &HashQueue,
    password: String,
    hash: Option<String>,
) -> Result<bool, AppError> {
    queue
        .run(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
            let ok = PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            known && ok
        })
        .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Bounds password hashing, the one expensive thing a visitor can make the server do:
/// `workers` threads of its own hash (19 MiB each), and at most `queue` hashes wait or
/// run; a request beyond that gets `RateLimited` ("try again") at once instead of memory.
/// Dedicated threads, not tokio's blocking pool: the allocator keeps a freed 19 MiB
/// block cached per thread, so the number of threads that ever hash bounds the memory.
pub struct HashQueue {
    admitted: Arc<Semaphore>,
    jobs: std::sync::mpsc::Sender<Job>,
    peak: Arc<AtomicUsize>,
}

/// A hashing job for a worker thread.
type Job = Box<dyn FnOnce() + Send>;

impl HashQueue {
    /// A queue with `workers` hashing threads and at most `queue` hashes admitted (both
    /// at least 1; `queue` at least `workers`). Starts the threads.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..workers {
            let (rx, running, peak) = (rx.clone(), running.clone(), peak.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else {
                        return; // the queue was dropped
                    };
                    let now = running.fetch_add(1, Ordering::Relaxed) + 1;
                    peak.fetch_max(now, Ordering::Relaxed);
                    job();
                    running.fetch_sub(1, Ordering::Relaxed);
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a hashing thread");
            }
        }
        HashQueue {
            admitted: Arc::new(Semaphore::new(queue.max(workers))),
            jobs,
            peak,
        }
    }

    /// Runs a hashing job on a hashing thread once one is free. The admission permit
    /// moves into the job, so a request that is cancelled still counts until its hash
    /// ends. Errors: `RateLimited` (1 s) when the queue is full; `Internal` if the job
    /// panicked or no hashing thread runs.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let admitted =
            self.admitted
                .clone()
                .try_acquire_owned()
                .map_err(|_| AppError::RateLimited {
                    retry_after_secs: 1,
                })?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                drop(admitted);
                let _ = tx.send(out);
            }))
            .map_err(|e| super::internal("queueing a hash", e))?;
        match rx.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(_)) => Err(super::internal("a hashing job", "it panicked")),
            Err(e) => Err(super::internal("a hashing job", e)),
        }
    }

    /// The most hashes that ever ran at once (for tests and metrics).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// A keyed rate limiter (governor's token buckets) whose map of keys is bounded: it is
/// pruned of keys back at full quota on a timer ([`Limits::prune`]) and when full; if
/// it is still full of keys that are counting, new attempts are refused ("try again")
/// rather than letting the map grow.
struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    fn new(quota: Quota, max_keys: usize) -> Self {
        KeyedLimiter {
            limiter: RateLimiter::keyed(quota),
            max_keys: max_keys.max(1),
        }
    }

    /// Counts one attempt for `key`. Errors: `RateLimited` with the seconds to wait.
    fn check(&self, key: &K) -> Result<(), AppError> {
        if self.limiter.len() >= self.max_keys {
            self.limiter.retain_recent();
            if self.limiter.len() >= self.max_keys {
                return Err(AppError::RateLimited {
                    retry_after_secs: 60,
                });
            }
        }
        // The limiter's own clock: building a clock calibrates it (microseconds a call).
        self.limiter
            .check_key(key)
            .map_err(|n| AppError::RateLimited {
                retry_after_secs: n
                    .wait_time_from(self.limiter.clock().now())
                    .as_secs()
                    .max(1),
            })
    }

    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The server's limits, set by flags of `tandem serve` (tests lower or raise them).
#[derive(Clone, Debug)]
pub struct LimitConfig {
    /// Log-in attempts a minute for one e-mail address (5).
    pub login_per_email_per_minute: u32,
    /// Log-in attempts a minute from one client address (30).
    pub login_per_ip_per_minute: u32,
    /// Sign-ups a minute from one client address (20).
    pub signups_per_ip_per_minute: u32,
    /// Writing server-function calls a second for one user, sustained; bursts of five
    /// times as many pass (20).
    pub writes_per_user_per_second: u32,
    /// Server-function calls a second one signed-in user may make, sustained; bursts of
    /// four times as many pass (50).
    pub calls_per_user_per_second: u32,
    /// Realtime connections (WebSocket or server-sent events) a minute one user may open
    /// (60; a restart brings each tab back once).
    pub connects_per_user_per_minute: u32,
    /// Password hashes running at once (the CPU count).
    pub hash_workers: usize,
    /// Password hashes running or waiting (four times the CPU count).
    pub hash_queue: usize,
    /// Keys each rate limiter keeps at most (50,000: about 3 MB each).
    pub max_limiter_keys: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        LimitConfig {
            login_per_email_per_minute: 5,
            login_per_ip_per_minute: 30,
            signups_per_ip_per_minute: 20,
            writes_per_user_per_second: 20,
            calls_per_user_per_second: 50,
            connects_per_user_per_minute: 60,
            hash_workers: cpus,
            hash_queue: cpus * 4,
            max_limiter_keys: 50_000,
        }
    }
}

/// Every rate limit of the HTTP side and the password hashing queue: log-in attempts
/// per e-mail and per address (so a password cannot be guessed quickly), sign-ups per
/// address, writes per user, and hashing (so a flood gets "try again", not the RAM).
pub struct Limits {
    login_by_email: KeyedLimiter<u64>,
    login_by_ip: KeyedLimiter<IpAddr>,
    signup_by_ip: KeyedLimiter<IpAddr>,
    writes_by_user: KeyedLimiter<i64>,
    calls_by_user: KeyedLimiter<i64>,
    connects_by_user: KeyedLimiter<i64>,
    /// The password hashing queue.
    pub hashing: HashQueue,
    email_keys: RandomState,
}

/// The key of a client address for rate limits: an IPv4 address, or the /64 network of
/// an IPv6 one (a single subscriber usually holds a whole /64).
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    /// Limits as configured.
    pub fn new(c: &LimitConfig) -> Self {
        let writes =
            NonZeroU32::new(c.writes_per_user_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = writes.saturating_mul(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN));
        let calls = NonZeroU32::new(c.calls_per_user_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        Limits {
            login_by_email: KeyedLimiter::new(
                per_minute(c.login_per_email_per_minute),
                c.max_limiter_keys,
            ),
            login_by_ip: KeyedLimiter::new(
                per_minute(c.login_per_ip_per_minute),
                c.max_limiter_keys,
            ),
            signup_by_ip: KeyedLimiter::new(
                per_minute(c.signups_per_ip_per_minute),
                c.max_limiter_keys,
            ),
            writes_by_user: KeyedLimiter::new(
                Quota::per_second(writes).allow_burst(burst),
                c.max_limiter_keys,
            ),
            calls_by_user: KeyedLimiter::new(
                Quota::per_second(calls).allow_burst(
                    calls.saturating_mul(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN)),
                ),
                c.max_limiter_keys,
            ),
            connects_by_user: KeyedLimiter::new(
                per_minute(c.connects_per_user_per_minute),
                c.max_limiter_keys,
            ),
            hashing: HashQueue::new(c.hash_workers, c.hash_queue),
            email_keys: RandomState::new(),
        }
    }

    /// Counts one log-in attempt for a (length-checked) e-mail and the client address.
    /// The e-mail is kept as a keyed 64-bit hash, so every key costs the same; an IPv6
    /// address counts by its /64 network.
    /// Errors: `RateLimited` with the seconds to wait.
    pub fn check_login(&self, email: &str, ip: Option<IpAddr>) -> Result<(), AppError> {
        if let Some(ip) = ip {
            self.login_by_ip.check(&network(ip))?;
        }
        self.login_by_email
            .check(&self.email_keys.hash_one(email.trim().to_lowercase()))
    }

    /// Counts one sign-up from the client address. Errors: `RateLimited`.
    pub fn check_signup(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        match ip {
            Some(ip) => self.signup_by_ip.check(&network(ip)),
            None => Ok(()),
        }
    }

    /// Counts one writing call by `user`. Errors: `RateLimited`.
    pub fn check_write(&self, user: i64) -> Result<(), AppError> {
        self.writes_by_user.check(&user)
    }

    /// Counts one server-function call by `user`. Errors: `RateLimited`.
    pub fn check_call(&self, user: i64) -> Result<(), AppError> {
        self.calls_by_user.check(&user)
    }

    /// Counts one realtime connection opened by `user`. Errors: `RateLimited`.
    pub fn check_connect(&self, user: i64) -> Result<(), AppError> {
        self.connects_by_user.check(&user)
    }

    /// Forgets keys whose quota is full again (the server calls this every minute).
    pub fn prune(&self) {
        self.login_by_email.prune();
        self.login_by_ip.prune();
        self.signup_by_ip.prune();
        self.writes_by_user.prune();
        self.calls_by_user.prune();
        self.connects_by_user.prune();
    }

    /// Keys held by the largest limiter map (for tests and metrics).
    pub fn largest_map(&self) -> usize {
        [
            self.login_by_email.len(),
            self.login_by_ip.len(),
            self.signup_by_ip.len(),
            self.calls_by_user.len(),
            self.connects_by_user.len(),
            self.writes_by_user.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(&LimitConfig::default())
    }
}

/// Longest e-mail address accepted, bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest password accepted, characters.
pub const MAX_PASSWORD_CHARS: usize = 200;
/// Longest display or workspace name accepted, characters.
pub const MAX_NAME_CHARS: usize = 80;

/// Refuses oversized credentials before any other work is done with them (no
/// lower-casing, no rate-limiter key, no hashing): an e-mail over 254 bytes, a password
/// over 200 characters (800 bytes). Errors: `Validation` on `email` or `password`.
pub fn check_sizes(email: &str, password: &str) -> Result<(), AppError> {
    if email.len() > MAX_EMAIL_BYTES + 64 {
        return Err(AppError::invalid(
            "email",
            format!("an e-mail address has at most {MAX_EMAIL_BYTES} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_CHARS * 4 {
        return Err(AppError::invalid(
            "password",
            format!("the password must have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Normalises and checks an e-mail address (trimmed, lower-cased, `local@domain.tld`).
/// Errors: `Validation` on `email`.
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && matches!(e.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
               && !domain.ends_with('.') && !domain.contains('@'));
    if valid {
        Ok(e)
    } else {
        Err(AppError::invalid(
            "email",
            "enter an e-mail address like name@example.com",
        ))
    }
}

/// Checks a new password: 8 to 200 characters. Errors: `Validation` on `password`.
pub fn check_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < 8 {
        Err(AppError::invalid(
            "password",
            "the password must have at least 8 characters",
        ))
    } else if n > 200 {
        Err(AppError::invalid(
            "password",
            "the password must have at most 200 characters",
        ))
    } else {
        Ok(())
    }
}

/// Trims and checks a display name: 1 to 80 characters on one line.
/// Errors: `Validation` on `display_name`.
pub fn normalize_name(field: &str, name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() {
        Err(AppError::invalid(field, "the name is required"))
    } else if n.len() > MAX_NAME_CHARS * 4
        || n.chars().count() > MAX_NAME_CHARS
        || n.contains(['\n', '\r'])
    {
        Err(AppError::invalid(
            field,
            "the name must be one line of at most 80 characters",
        ))
    } else {
        Ok(n.to_string())
    }
}

/// A random URL-safe token of 32 characters (for invite links).
pub fn random_token() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").ok(),
            Some("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a b@x.com",
            "a@x.com.",
        ] {
            assert_eq!(
                normalize_email(bad).unwrap_err().field(),
                Some("email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn limiter_refuses_the_sixth_attempt_for_one_email() {
        let l = Limits::new(&LimitConfig {
            login_per_ip_per_minute: 100,
            ..LimitConfig::default()
        });
        for _ in 0..5 {
            assert!(l.check_login("a@x.com", None).is_ok());
        }
        assert!(matches!(
            l.check_login("A@x.com ", None),
            Err(AppError::RateLimited { .. })
        ));
        assert!(
            l.check_login("b@x.com", None).is_ok(),
            "another e-mail is not limited"
        );
    }

    #[test]
    fn limiter_maps_stay_bounded_after_100000_distinct_keys() {
        let l = Limits::new(&LimitConfig {
            max_limiter_keys: 1_000,
            ..LimitConfig::default()
        });
        let mut refused = 0;
        for i in 0..100_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            if l.check_login(&format!("user{i}@example.com"), Some(ip))
                .is_err()
            {
                refused += 1;
            }
            let _ = l.check_write(i64::from(i));
        }
        assert!(l.largest_map() <= 1_000, "{} keys", l.largest_map());
        assert!(
            refused > 0,
            "a full map refuses new keys instead of growing"
        );
    }

    #[test]
    fn oversized_credentials_are_refused_before_any_work() {
        let huge = "a".repeat(1 << 20);
        assert_eq!(
            check_sizes(&format!("{huge}@x.com"), "password")
                .unwrap_err()
                .field(),
            Some("email")
        );
        assert_eq!(
            check_sizes("a@x.com", &huge).unwrap_err().field(),
            Some("password")
        );
        assert!(check_sizes("a@x.com", "password").is_ok());
    }

    #[tokio::test]
    async fn the_hashing_queue_refuses_what_it_cannot_hold() {
        let q = Arc::new(HashQueue::new(1, 2));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut jobs = Vec::new();
        for _ in 0..2 {
            let (q, rx) = (q.clone(), rx.clone());
            jobs.push(tokio::spawn(async move {
                q.run(move || {
                    let _ = rx.lock().map(|r| r.recv());
                })
                .await
            }));
        }
        // Wait until both are admitted (one running, one waiting for the worker).
        while q.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            q.run(|| ()).await,
            Err(AppError::RateLimited { .. })
        ));
        tx.send(()).expect("release");
        tx.send(()).expect("release");
        for j in jobs {
            assert!(j.await.expect("joined").is_ok());
        }
        assert_eq!(q.peak(), 1, "one worker: one hash at a time");
    }

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_hash() {
        let q = HashQueue::new(2, 8);
        let h = hash_password(&q, "correct horse".into())
            .await
            .expect("hash");
        assert!(verify_password(&q, "correct horse".into(), Some(h.clone()))
            .await
            .expect("verify"));
        assert!(!verify_password(&q, "wrong horse".into(), Some(h))
            .await
            .expect("verify"));
        assert!(!verify_password(&q, "correct horse".into(), None)
            .await
            .expect("verify"));
    }
}
