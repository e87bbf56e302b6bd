//! Sign-in throttling: how many wrong passwords a client address and an
//! account may send before every sign-in from them is refused for a while.
//! One mechanism, used by every password check (`session::check_password`,
//! behind both sign-in forms).
//!
//! The figures are the real server's (django-axes in
//! `posthog/settings/web.py`): at the 30th failure within the window the
//! key is locked, and it stays locked until 10 minutes have passed since
//! its last failure. A refused attempt is not counted, so it does not
//! push the end of the lockout further away (axes does not record an
//! attempt it refused either). The real server keys by the client address
//! alone; we also key by the canonical email, unknown ones included, so
//! one account cannot be guessed at from many addresses and the lockout
//! does not tell which accounts exist. A right password clears the
//! account's count and takes back its own advance on the address's.
//!
//! Every attempt is counted as a failure *before* its password is
//! verified (and taken back if the password was right), so concurrent
//! attempts cannot slip more guesses past the limit than it allows, and a
//! locked key costs no Argon2 work at all.
//!
//! [`Counts`] is the rule over plain data, on the time it is given;
//! [`SignInThrottle`] is the server's one instance, behind a mutex.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use protocol::email::Email;

/// The wrong passwords a key may send before it is locked (the real
/// `AXES_FAILURE_LIMIT`).
pub const FAILURE_LIMIT: u32 = 30;

/// How long a key stays locked after its last failure (the real
/// `AXES_COOLOFF_TIME`, 10 minutes).
pub const COOLOFF_SECONDS: i64 = 600;

/// How many keys are remembered at most, so that failures for random
/// emails cannot grow memory without bound: about 15 MB at worst.
pub const MAX_KEYS: usize = 50_000;

/// What a locked-out sign-in says: the real lockout answer's `detail`.
pub const TOO_MANY_FAILED_ATTEMPTS: &str =
    "Too many failed login attempts. Please try again in 10 minutes.";

/// The figures one throttle keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub failure_limit: u32,
    pub cooloff_seconds: i64,
    pub max_keys: usize,
}

impl Rule {
    /// The real server's figures, and our cap.
    pub const POSTHOG: Rule = Rule {
        failure_limit: FAILURE_LIMIT,
        cooloff_seconds: COOLOFF_SECONDS,
        max_keys: MAX_KEYS,
    };
}

/// What failures are counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client address: an IPv4 address, or the /64 of an IPv6 one (a
    /// single host is usually handed a whole /64).
    Address(IpAddr),
    /// A canonical email, whether or not an account has it.
    Account(String),
}

/// One sign-in attempt: where it came from and which account it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    address: Key,
    account: Option<Key>,
}

impl Attempt {
    /// The attempt of `peer` (the TCP peer) for `email` as typed. An email
    /// with no canonical form names no account: only its address counts.
    pub fn new(peer: IpAddr, email: &str) -> Attempt {
        Attempt {
            address: Key::Address(address_key(peer)),
            account: Email::parse(email)
                .ok()
                .map(|email| Key::Account(email.into_string())),
        }
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.address).chain(self.account.as_ref())
    }
}

/// The address a peer is counted under: IPv4 (an IPv4-mapped IPv6 address
/// is its IPv4 one), or the first 64 bits of an IPv6 address.
pub fn address_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// A refusal: every sign-in of the attempt's address or account is refused
/// for this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Whole seconds until the lockout ends (at least 1): `Retry-After`.
    pub retry_after_seconds: i64,
}

/// The failures of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Count {
    failures: u32,
    last_failure_at: i64,
}

/// The rule over plain data: every key's recent failures.
#[derive(Debug)]
pub struct Counts {
    rule: Rule,
    counts: HashMap<Key, Count>,
}

impl Counts {
    pub fn new(rule: Rule) -> Counts {
        Counts {
            rule,
            counts: HashMap::new(),
        }
    }

    /// Lets an attempt verify its password at `now`, counting it as a
    /// failure in advance, or refuses it (counting nothing) when its
    /// address or its account is locked.
    pub fn admit(&mut self, attempt: &Attempt, now: i64) -> Result<(), Locked> {
        if let Some(locked) = self.locked(attempt, now) {
            return Err(locked);
        }
        for key in attempt.keys() {
            self.count_failure(key, now);
        }
        Ok(())
    }

    /// After [`Counts::admit`]: the password was wrong. The advance stands;
    /// the attempt is locked out if it reached the limit (the real server
    /// answers the attempt that reaches it with the lockout).
    pub fn failed(&self, attempt: &Attempt, now: i64) -> Option<Locked> {
        self.locked(attempt, now)
    }

    /// After [`Counts::admit`]: the password was right. The account's
    /// failures are forgotten; the address's keep counting, less this
    /// attempt's advance.
    pub fn succeeded(&mut self, attempt: &Attempt) {
        self.take_back(&attempt.address);
        if let Some(account) = &attempt.account {
            self.counts.remove(account);
        }
    }

    /// After [`Counts::admit`]: the password could not be checked (the
    /// server failed). The advance is taken back from every key.
    pub fn withdrawn(&mut self, attempt: &Attempt) {
        for key in attempt.keys() {
            self.take_back(key);
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The longest lockout among the attempt's keys, if any is locked.
    fn locked(&self, attempt: &Attempt, now: i64) -> Option<Locked> {
        attempt
            .keys()
            .filter_map(|key| self.live(key, now))
            .filter(|count| count.failures >= self.rule.failure_limit)
            .map(|count| count.last_failure_at + self.rule.cooloff_seconds - now)
            .max()
            .map(|seconds| Locked {
                retry_after_seconds: seconds.max(1),
            })
    }

    /// A key's count, unless its window has passed.
    fn live(&self, key: &Key, now: i64) -> Option<Count> {
        self.counts
            .get(key)
            .copied()
            .filter(|count| now < count.last_failure_at + self.rule.cooloff_seconds)
    }

    fn count_failure(&mut self, key: &Key, now: i64) {
        let failures = self.live(key, now).map_or(0, |count| count.failures);
        if !self.counts.contains_key(key) {
            self.make_room(now);
        }
        self.counts.insert(
            key.clone(),
            Count {
                failures: failures.saturating_add(1),
                last_failure_at: now,
            },
        );
    }

    fn take_back(&mut self, key: &Key) {
        if let Some(count) = self.counts.get_mut(key) {
            count.failures = count.failures.saturating_sub(1);
            if count.failures == 0 {
                self.counts.remove(key);
            }
        }
    }

    /// Before a new key: below the cap, or the expired keys go, or else
    /// the key whose last failure is oldest (the nearest to expiring).
    fn make_room(&mut self, now: i64) {
        if self.counts.len() < self.rule.max_keys {
            return;
        }
        let cooloff = self.rule.cooloff_seconds;
        self.counts
            .retain(|_, count| now < count.last_failure_at + cooloff);
        while self.counts.len() >= self.rule.max_keys.max(1) {
            let oldest = self
                .counts
                .iter()
                .min_by_key(|(_, count)| count.last_failure_at)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.counts.remove(&key),
                None => break,
            };
        }
    }
}

/// The server's throttle: one [`Counts`] for every sign-in form. The
/// lock is held for a map operation only, never across an `await`.
#[derive(Debug)]
pub struct SignInThrottle {
    counts: Mutex<Counts>,
}

impl SignInThrottle {
    pub fn new(rule: Rule) -> SignInThrottle {
        SignInThrottle {
            counts: Mutex::new(Counts::new(rule)),
        }
    }

    /// See [`Counts::admit`].
    pub fn admit(&self, attempt: &Attempt, now: i64) -> Result<(), Locked> {
        self.counts().admit(attempt, now)
    }

    /// See [`Counts::failed`].
    pub fn failed(&self, attempt: &Attempt, now: i64) -> Option<Locked> {
        self.counts().failed(attempt, now)
    }

    /// See [`Counts::succeeded`].
    pub fn succeeded(&self, attempt: &Attempt) {
        self.counts().succeeded(attempt);
    }

    /// See [`Counts::withdrawn`].
    pub fn withdrawn(&self, attempt: &Attempt) {
        self.counts().withdrawn(attempt);
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for SignInThrottle {
    fn default() -> SignInThrottle {
        SignInThrottle::new(Rule::POSTHOG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_775_000_000;

    fn peer(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn attempt(address: &str, email: &str) -> Attempt {
        Attempt::new(peer(address), email)
    }

    /// One wrong password through the whole rule: admitted, then failed.
    fn wrong(counts: &mut Counts, attempt: &Attempt, now: i64) -> Result<(), Locked> {
        counts.admit(attempt, now)?;
        counts.failed(attempt, now).map_or(Ok(()), Err)
    }

    fn right(counts: &mut Counts, attempt: &Attempt, now: i64) -> Result<(), Locked> {
        counts.admit(attempt, now)?;
        counts.succeeded(attempt);
        Ok(())
    }

    /// If this fails, a guesser gets more than 30 tries in 10 minutes, or
    /// the lockout does not end when the real server's does.
    #[test]
    fn thirty_failures_lock_for_ten_minutes_after_the_last() {
        let mut counts = Counts::new(Rule::POSTHOG);
        let guess = attempt("203.0.113.7", "kim@example.test");
        for n in 1..FAILURE_LIMIT {
            assert_eq!(
                wrong(&mut counts, &guess, NOW + i64::from(n)),
                Ok(()),
                "{n}"
            );
        }
        let last = NOW + i64::from(FAILURE_LIMIT);
        let locked = Err(Locked {
            retry_after_seconds: COOLOFF_SECONDS,
        });
        assert_eq!(wrong(&mut counts, &guess, last), locked, "the 30th");
        // Even the right password is refused, and nothing is counted.
        assert_eq!(
            right(&mut counts, &guess, last + 100),
            Err(Locked {
                retry_after_seconds: COOLOFF_SECONDS - 100
            })
        );
        assert_eq!(
            counts.admit(&guess, last + COOLOFF_SECONDS - 1),
            Err(Locked {
                retry_after_seconds: 1
            })
        );
        assert_eq!(right(&mut counts, &guess, last + COOLOFF_SECONDS), Ok(()));
    }

    /// If this fails, failures spread over more than 10 minutes each never
    /// add up, or old failures never expire.
    #[test]
    fn the_window_restarts_at_each_failure_and_expires_after_it() {
        let mut counts = Counts::new(Rule::POSTHOG);
        let guess = attempt("203.0.113.7", "kim@example.test");
        // 29 failures, each 9 minutes after the one before: still counted.
        for n in 0..i64::from(FAILURE_LIMIT - 1) {
            assert_eq!(wrong(&mut counts, &guess, NOW + n * 540), Ok(()));
        }
        let last = NOW + i64::from(FAILURE_LIMIT - 2) * 540;
        // Ten quiet minutes later the count starts again from nothing.
        for n in 0..i64::from(FAILURE_LIMIT - 1) {
            assert_eq!(
                wrong(&mut counts, &guess, last + COOLOFF_SECONDS + n),
                Ok(())
            );
        }
        assert!(wrong(&mut counts, &guess, last + COOLOFF_SECONDS + 100).is_err());
    }

    /// If this fails, the person who finally types the right password
    /// keeps the failures against their account, or an attacker with an
    /// account of their own can wipe their address's count by signing in.
    #[test]
    fn a_success_clears_the_account_and_only_its_advance_on_the_address() {
        let mut counts = Counts::new(Rule::POSTHOG);
        let own = attempt("203.0.113.7", "mallory@example.test");
        for _ in 0..FAILURE_LIMIT - 2 {
            assert_eq!(wrong(&mut counts, &own, NOW), Ok(()));
        }
        assert_eq!(right(&mut counts, &own, NOW), Ok(()));
        // The account starts afresh from another address...
        let elsewhere = attempt("198.51.100.1", "mallory@example.test");
        for _ in 0..FAILURE_LIMIT - 1 {
            assert_eq!(wrong(&mut counts, &elsewhere, NOW), Ok(()));
        }
        // ...but the first address still has its 28 failures: two more lock it.
        let spray = attempt("203.0.113.7", "someone@example.test");
        assert_eq!(wrong(&mut counts, &spray, NOW), Ok(()));
        assert!(wrong(&mut counts, &spray, NOW).is_err());
    }

    /// If this fails, one account is guessed at from many addresses, or one
    /// address's failures lock people at other addresses out.
    #[test]
    fn addresses_and_accounts_are_counted_apart() {
        let mut counts = Counts::new(Rule::POSTHOG);
        for n in 0..FAILURE_LIMIT {
            let from = format!("198.51.100.{n}");
            let outcome = wrong(&mut counts, &attempt(&from, "kim@example.test"), NOW);
            assert_eq!(outcome.is_err(), n == FAILURE_LIMIT - 1, "{n}");
        }
        // The account is locked whoever asks; another account is not.
        assert!(counts
            .admit(&attempt("192.0.2.1", "KIM@example.test"), NOW)
            .is_err());
        assert_eq!(
            counts.admit(&attempt("192.0.2.1", "lee@example.test"), NOW),
            Ok(())
        );
        // An unknown email counts the same way; one with no canonical form
        // counts only against its address.
        let mut counts = Counts::new(Rule::POSTHOG);
        for _ in 0..FAILURE_LIMIT {
            let _ = wrong(
                &mut counts,
                &attempt("192.0.2.9", "\u{212A}im@example.test"),
                NOW,
            );
        }
        assert_eq!(counts.len(), 1);
        assert_eq!(
            counts.admit(&attempt("192.0.2.10", "kim@example.test"), NOW),
            Ok(())
        );
    }

    #[test]
    fn address_keys() {
        let cases = [
            ("203.0.113.7", "203.0.113.7"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::"),
            ("::1", "::"),
        ];
        for (peer_text, expected) in cases {
            assert_eq!(address_key(peer(peer_text)), peer(expected), "{peer_text}");
        }
    }

    /// If this fails, failures for random emails grow memory without
    /// bound, or the cap throws away live counts before expired ones.
    #[test]
    fn the_cap_drops_expired_keys_first_then_the_oldest() {
        let rule = Rule {
            max_keys: 4,
            ..Rule::POSTHOG
        };
        let mut counts = Counts::new(rule);
        // One address, accounts at 0 s, 1 s, 2 s: four keys.
        for n in 0..3 {
            let _ = wrong(
                &mut counts,
                &attempt("192.0.2.1", &format!("p{n}@example.test")),
                NOW + n,
            );
        }
        assert_eq!(counts.len(), 4);
        // A fifth key drops the oldest (p0's, at 0 s).
        let _ = wrong(
            &mut counts,
            &attempt("192.0.2.1", "p3@example.test"),
            NOW + 3,
        );
        assert_eq!(counts.len(), 4);
        assert!(!counts
            .counts
            .contains_key(&Key::Account("p0@example.test".into())));
        // Once the window has passed, the expired keys go first.
        let later = NOW + COOLOFF_SECONDS + 10;
        let _ = wrong(&mut counts, &attempt("192.0.2.2", "p9@example.test"), later);
        assert_eq!(counts.len(), 2);
        for n in 0..10_000u32 {
            let from = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            let random = Attempt::new(from, &format!("r{n}@example.test"));
            let _ = wrong(&mut counts, &random, later);
            assert!(counts.len() <= 4);
        }
    }

    /// If this fails, a server failure while checking a password counts
    /// against the person.
    #[test]
    fn a_withdrawn_attempt_counts_nothing() {
        let mut counts = Counts::new(Rule::POSTHOG);
        let guess = attempt("192.0.2.1", "kim@example.test");
        counts.admit(&guess, NOW).unwrap();
        counts.withdrawn(&guess);
        assert!(counts.is_empty());
    }
}
