//! A short-lived cache of who a session is, what a slug names and which role a member
//! holds, so a write does not spend three database round trips re-reading them. Access
//! that ends is forgotten at once by the revocation path (the hub's `recheck_user` and
//! `end_session`, on every node through the bus); anything else is re-read after the
//! time to live.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::{Role, User, Workspace};

/// Entries one map keeps at most; past it, stale entries go, and if none were stale the
/// map is emptied (a cache miss costs one query, never a wrong answer).
const MAX_ENTRIES: usize = 20_000;

/// A map whose entries expire `ttl` after they were stored.
struct Expiring<K, V> {
    map: HashMap<K, (Instant, V)>,
}

impl<K: Hash + Eq, V: Clone> Expiring<K, V> {
    fn new() -> Self {
        Expiring {
            map: HashMap::new(),
        }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        self.map
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn put(&mut self, key: K, value: V, ttl: Duration) {
        if self.map.len() >= MAX_ENTRIES {
            self.map.retain(|_, (at, _)| at.elapsed() < ttl);
            if self.map.len() >= MAX_ENTRIES {
                self.map.clear();
            }
        }
        self.map.insert(key, (Instant::now(), value));
    }
}

struct Maps {
    /// Session id → the signed-in user.
    sessions: Expiring<String, User>,
    /// Workspace slug → the workspace.
    workspaces: Expiring<String, Workspace>,
    /// (workspace id, user id) → the member's role. Only memberships are kept: a
    /// non-member is asked again, so a new member is never refused by the cache.
    roles: Expiring<(i64, i64), Role>,
}

/// The access cache shared by the server functions, the upload route and the socket.
/// Cheap to share (`Arc<AccessCache>`); its locks are never held across an `.await`.
///
/// A lookup that raced a revocation must not cache what it read before it: callers take
/// [`AccessCache::generation`] before reading the database and hand it to `put_*`, which
/// stores nothing if anything was forgotten in between.
pub struct AccessCache {
    ttl: Duration,
    maps: Mutex<Maps>,
    /// Bumped by every `forget_*`.
    generation: AtomicU64,
}

impl AccessCache {
    /// A cache whose entries live `ttl` (a zero `ttl` caches nothing).
    pub fn new(ttl: Duration) -> Self {
        AccessCache {
            ttl,
            maps: Mutex::new(Maps {
                sessions: Expiring::new(),
                workspaces: Expiring::new(),
                roles: Expiring::new(),
            }),
            generation: AtomicU64::new(0),
        }
    }

    /// The count of revocations so far: take it before a database read whose answer
    /// will be cached.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The maps, locked, if nothing was forgotten since `read_at` (and caching is on).
    fn maps_since(&self, read_at: u64) -> Option<std::sync::MutexGuard<'_, Maps>> {
        if self.ttl.is_zero() {
            return None;
        }
        let maps = self.maps();
        (self.generation() == read_at).then_some(maps)
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user signed in on session `id`, if cached.
    pub fn session_user(&self, id: &str) -> Option<User> {
        self.maps().sessions.get(&id.to_string(), self.ttl)
    }

    /// Caches the user signed in on session `id`, read at generation `read_at`.
    pub fn put_session_user(&self, id: String, user: User, read_at: u64) {
        if let Some(mut maps) = self.maps_since(read_at) {
            maps.sessions.put(id, user, self.ttl);
        }
    }

    /// The workspace named `slug`, if cached.
    pub fn workspace(&self, slug: &str) -> Option<Workspace> {
        self.maps().workspaces.get(&slug.to_string(), self.ttl)
    }

    /// Caches the workspace named by its slug, read at generation `read_at`.
    pub fn put_workspace(&self, workspace: Workspace, read_at: u64) {
        if let Some(mut maps) = self.maps_since(read_at) {
            maps.workspaces
                .put(workspace.slug.clone(), workspace, self.ttl);
        }
    }

    /// The role of `user` in `workspace`, if cached.
    pub fn role(&self, workspace: i64, user: i64) -> Option<Role> {
        self.maps().roles.get(&(workspace, user), self.ttl)
    }

    /// Caches the role of a member, read at generation `read_at`.
    pub fn put_role(&self, workspace: i64, user: i64, role: Role, read_at: u64) {
        if let Some(mut maps) = self.maps_since(read_at) {
            maps.roles.put((workspace, user), role, self.ttl);
        }
    }

    /// Forgets everything cached about `user`: their roles and their sessions' user (a
    /// membership or role changed, the account changed).
    pub fn forget_user(&self, user: i64) {
        let mut maps = self.maps();
        self.generation.fetch_add(1, Ordering::AcqRel);
        maps.roles.map.retain(|(_, u), _| *u != user);
        maps.sessions.map.retain(|_, (_, u)| u.id != user);
    }

    /// Forgets a session (signed out, or its id was cycled).
    pub fn forget_session(&self, id: &str) {
        let mut maps = self.maps();
        self.generation.fetch_add(1, Ordering::AcqRel);
        maps.sessions.map.remove(id);
    }

    /// Forgets a workspace's slug (renamed or gone).
    pub fn forget_workspace(&self, workspace: i64) {
        let mut maps = self.maps();
        self.generation.fetch_add(1, Ordering::AcqRel);
        maps.workspaces.map.retain(|_, (_, w)| w.id != workspace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            email: Some(format!("u{id}@example.com")),
            display_name: format!("U{id}"),
            color: "#000000".into(),
            last_workspace_id: None,
        }
    }

    #[test]
    fn revocation_forgets_at_once_and_a_racing_read_is_not_cached() {
        let cache = AccessCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.put_session_user("s1".into(), user(1), g);
        cache.put_session_user("s2".into(), user(2), g);
        cache.put_role(10, 1, Role::Admin, g);
        cache.put_role(10, 2, Role::Member, g);
        assert_eq!(cache.role(10, 1), Some(Role::Admin));

        cache.forget_user(1);
        assert_eq!(cache.role(10, 1), None, "a revoked role is asked again");
        assert!(cache.session_user("s1").is_none());
        assert_eq!(cache.role(10, 2), Some(Role::Member), "others keep theirs");

        cache.forget_session("s2");
        assert!(cache.session_user("s2").is_none());

        // A read that began before a revocation is not cached after it.
        let before = cache.generation();
        cache.forget_user(3);
        cache.put_role(10, 3, Role::Owner, before);
        assert_eq!(cache.role(10, 3), None, "a read older than the revocation");

        let off = AccessCache::new(Duration::ZERO);
        off.put_role(10, 1, Role::Owner, off.generation());
        assert_eq!(off.role(10, 1), None, "a zero time to live caches nothing");
    }
}
