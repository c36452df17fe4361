//! The argon2id verification pool: a fixed number of threads, each reusing one block buffer,
//! behind a bounded queue.
//!
//! Owns the only place API secrets are checked against their PHC hashes at request time.
//! argon2id with the default cost needs 19 MiB of working memory per verification; run on
//! tokio's blocking pool, every concurrent wrong secret allocated its own (a flood of 384
//! took the process from 46 MB to 6.8 GB). Here at most `slots` verifications run at once,
//! each in the buffer its thread keeps (grown to the largest `m` it has met, at most
//! [`MAX_M_KIB`]), so the memory is `slots` × 19 MiB however many requests arrive. At most
//! `queue` more wait; a request beyond that is refused at once with
//! [`AuthError::VerifierBusy`] instead of waiting without bound. A queued job whose request
//! has gone away (client disconnected) is skipped.
//!
//! It does not decide what a result means (that is `api_key`) and never logs a secret.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::oneshot;

use super::{AuthError, Redacted};

/// Largest argon2 memory cost (`m`, KiB) a stored hash may ask for: 256 MiB. Bounds a slot's
/// buffer even if the key file holds a hash made with an extreme cost; such a hash never
/// verifies (and `api_key` skips it when loading).
pub(crate) const MAX_M_KIB: u32 = 256 * 1024;

/// One verification to run.
struct Job {
    hash: String,
    secret: Redacted,
    reply: oneshot::Sender<bool>,
}

/// Handle to the pool; dropping it ends the threads once their current job is done.
pub(crate) struct VerifyPool {
    jobs: SyncSender<Job>,
    slots: usize,
    queue: usize,
    /// Verifications run so far (skipped jobs not counted).
    done: Arc<AtomicU64>,
}

impl std::fmt::Debug for VerifyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyPool")
            .field("slots", &self.slots)
            .field("queue", &self.queue)
            .field("verifications", &self.done.load(Ordering::Relaxed))
            .finish()
    }
}

impl VerifyPool {
    /// Starts `slots` threads (at least one) with room for `queue` waiting jobs.
    pub(crate) fn start(slots: usize, queue: usize) -> Result<Self, AuthError> {
        let slots = slots.max(1);
        let (jobs, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let done = Arc::new(AtomicU64::new(0));
        for i in 0..slots {
            let (rx, done) = (rx.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("sqlgate-argon2-{i}"))
                .spawn(move || work(&rx, &done))
                .map_err(|e| AuthError::Internal(format!("cannot start an argon2 thread: {e}")))?;
        }
        Ok(Self {
            jobs,
            slots,
            queue,
            done,
        })
    }

    /// How many verifications the pool has run.
    #[cfg(test)]
    pub(crate) fn verifications(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Whether `secret` matches the PHC string `hash`; `Err(VerifierBusy)` at once when every
    /// slot is busy and the queue is full.
    pub(crate) async fn verify(&self, hash: String, secret: &str) -> Result<bool, AuthError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            hash,
            secret: Redacted(secret.to_owned()),
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(AuthError::VerifierBusy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(AuthError::Internal(
                    "the argon2 threads have stopped".into(),
                ));
            }
        }
        answer
            .await
            .map_err(|_| AuthError::Internal("an argon2 thread dropped a job".into()))
    }
}

/// A pool thread: takes jobs until the pool is dropped.
fn work(rx: &Mutex<Receiver<Job>>, done: &AtomicU64) {
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        // Only one idle thread waits in `recv`; the others wait for the lock.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        if job.reply.is_closed() {
            continue;
        }
        let ok = std::panic::catch_unwind(AssertUnwindSafe(|| {
            verify_phc(&job.hash, job.secret.0.as_bytes(), &mut blocks)
        }))
        .unwrap_or_else(|_| {
            // Never expected; the buffer may be in any state, so start a fresh one.
            blocks = Vec::new();
            false
        });
        done.fetch_add(1, Ordering::Relaxed);
        let _ = job.reply.send(ok);
    }
}

/// argon2 verification of `secret` against the PHC string `hash` in `blocks`, which is grown
/// as needed and kept for the next call. Any unusable hash is `false`. The comparison is
/// constant-time.
pub(crate) fn verify_phc(hash: &str, secret: &[u8], blocks: &mut Vec<Block>) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Ok(params), Some(expected), Some(salt)) = (Params::try_from(&phc), phc.hash, phc.salt)
    else {
        return false;
    };
    if params.m_cost() > MAX_M_KIB {
        return false;
    }
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let needed = params.block_count();
    if blocks.len() < needed {
        blocks.resize(needed, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        secret,
        salt,
        &mut out,
        &mut blocks[..needed],
    );
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    fn hash(secret: &str, m: u32, t: u32) -> String {
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = Params::new(m, t, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn agrees_with_argon2s_own_verification_and_reuses_its_buffer() {
        let mut blocks = Vec::new();
        let small = hash("s3cret", 64, 1);
        let big = hash("s3cret", 256, 2);
        for h in [&small, &big] {
            let phc = PasswordHash::new(h).unwrap();
            for secret in ["s3cret", "s3creT", "", "s3cret\0"] {
                let theirs = Argon2::default()
                    .verify_password(secret.as_bytes(), &phc)
                    .is_ok();
                assert_eq!(
                    verify_phc(h, secret.as_bytes(), &mut blocks),
                    theirs,
                    "{secret:?}"
                );
            }
        }
        // The buffer grew to the largest cost and is reused, not reallocated, for smaller ones.
        assert_eq!(blocks.len(), 256);
        let at = blocks.as_ptr();
        assert!(verify_phc(&small, b"s3cret", &mut blocks));
        assert!(verify_phc(&big, b"s3cret", &mut blocks));
        assert_eq!(blocks.as_ptr(), at);
    }

    #[test]
    fn unusable_hashes_never_verify() {
        let mut blocks = Vec::new();
        let good = hash("x", 64, 1);
        let huge = good.replace("m=64", &format!("m={}", MAX_M_KIB + 1));
        for h in [
            "",
            "plain",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=4,r=8,p=1$c2FsdA$AAAA",
            huge.as_str(),
        ] {
            assert!(!verify_phc(h, b"x", &mut blocks), "{h}");
        }
        assert!(blocks.len() <= 64, "nothing allocated for refused hashes");
    }

    #[tokio::test]
    async fn the_pool_answers_and_refuses_beyond_its_queue() {
        let pool = VerifyPool::start(1, 1).unwrap();
        let h = hash("right", 64, 1);
        assert!(pool.verify(h.clone(), "right").await.unwrap());
        assert!(!pool.verify(h.clone(), "wrong").await.unwrap());

        // One slot and one queue place: at most two jobs are admitted at a time, so of three
        // slow jobs submitted together (in one poll, microseconds apart) at least one is
        // refused without waiting, and the admitted ones are answered.
        let slow = hash("right", 32 * 1024, 2);
        let (a, b, c) = tokio::join!(
            pool.verify(slow.clone(), "right"),
            pool.verify(slow.clone(), "right"),
            pool.verify(slow.clone(), "right"),
        );
        let results = [a, b, c];
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(AuthError::VerifierBusy)))
            .count();
        let ok = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert!(busy >= 1 && ok >= 1 && busy + ok == 3, "{results:?}");
    }
}
