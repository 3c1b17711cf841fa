//! Argon2id password hashing with OWASP's parameters (the crate's defaults:
//! 19 MiB, t=2, p=1), off the async threads and bounded, so a login flood
//! cannot starve the runtime or exhaust memory.

use crate::error::{AppError, AppResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Verified against when the username is unknown, so that the answer takes
/// as long as for a known one: a hash with the parameters [`hash_now`] uses
/// (checked by a test). A constant rather than hashed at start-up, which
/// cost every start one full Argon2id run and 19 MiB (performance.md W7).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$2AHDMhFaTTUj2Whwk5zHdg$BAZW8E0zfV8FIXQvPYkxt3s2KLB9GIanrZqbjZ/ZA2k";

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> AppResult<Passwords> {
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    }

    /// `hash` None means "no such user": verify against the dummy anyway.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> AppResult<bool> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let known = hash.is_some();
        let hash = hash.unwrap_or(DUMMY_HASH).to_string();
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(ok && known)
    }
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dummy costs what a real verification costs only while its
    /// parameters are the ones new hashes get.
    #[test]
    fn the_dummy_hash_has_the_parameters_of_a_new_hash() {
        let fresh = hash_now("anything").expect("hashes");
        let fresh = PasswordHash::new(&fresh).expect("parses");
        let dummy = PasswordHash::new(DUMMY_HASH).expect("parses");
        assert_eq!(dummy.algorithm, fresh.algorithm);
        assert_eq!(dummy.version, fresh.version);
        assert_eq!(dummy.params, fresh.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            fresh.hash.map(|h| h.len()),
            "output length"
        );
        assert_eq!(
            dummy.salt.map(|s| s.len()),
            fresh.salt.map(|s| s.len()),
            "salt length"
        );
    }
}
