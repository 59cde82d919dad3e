//! Password hashing (argon2id), log-in rate limits (governor) and the rules for what an
//! e-mail, password and name must look like.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) on a blocking
/// thread. Returns a PHC string. Errors: `Internal`.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| super::internal("hashing a password", e))
    })
    .await
    .map_err(|e| super::internal("the hashing task", e))?
}

/// Checks a password against a stored hash on a blocking thread. With no hash (unknown
/// e-mail, or an account without a password) it checks against a dummy hash and returns
/// false, so the answer takes as long either way and timing reveals nothing.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| super::internal("the verifying task", e))
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

/// Limits log-in attempts per e-mail and per client IP address (token buckets from
/// `governor`), so a password cannot be guessed quickly.
pub struct LoginLimiter {
    by_email: DefaultKeyedRateLimiter<String>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    /// At most `per_email` attempts a minute for one e-mail, `per_ip` for one address.
    pub fn new(per_email: u32, per_ip: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimiter {
            by_email: RateLimiter::keyed(quota(per_email)),
            by_ip: RateLimiter::keyed(quota(per_ip)),
        }
    }

    /// Counts one attempt. Errors: `RateLimited` with the seconds to wait.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), AppError> {
        if self.by_email.len() > 10_000 {
            self.by_email.retain_recent();
            self.by_ip.retain_recent();
        }
        let now = DefaultClock::default().now();
        let limited = |wait: std::time::Duration| AppError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        };
        if let Some(ip) = ip {
            self.by_ip
                .check_key(&ip)
                .map_err(|n| limited(n.wait_time_from(now)))?;
        }
        self.by_email
            .check_key(&email.to_string())
            .map_err(|n| limited(n.wait_time_from(now)))
    }
}

impl Default for LoginLimiter {
    /// 5 attempts a minute per e-mail, 30 per IP address.
    fn default() -> Self {
        LoginLimiter::new(5, 30)
    }
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
    } else if n.chars().count() > 80 || n.contains(['\n', '\r']) {
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
        let l = LoginLimiter::new(5, 100);
        for _ in 0..5 {
            assert!(l.check("a@x.com", None).is_ok());
        }
        assert!(matches!(
            l.check("a@x.com", None),
            Err(AppError::RateLimited { .. })
        ));
        assert!(
            l.check("b@x.com", None).is_ok(),
            "another e-mail is not limited"
        );
    }

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse".into()).await.expect("hash");
        assert!(verify_password("correct horse".into(), Some(h.clone()))
            .await
            .expect("verify"));
        assert!(!verify_password("wrong horse".into(), Some(h))
            .await
            .expect("verify"));
        assert!(!verify_password("correct horse".into(), None)
            .await
            .expect("verify"));
    }
}
