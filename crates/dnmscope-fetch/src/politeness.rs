//! Politeness per market: a rate limit (governor's GCRA with a burst of one, so requests are
//! at least `60 / requests_per_minute` seconds apart, plus random jitter before each), a cap on
//! requests in flight, and an adaptive slow-down on 429/503, `Retry-After`, and queue or ban
//! pages the caller reports.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::clock::{Clock, GovernorClock, Hold};

/// How gently a market is fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Politeness {
    /// At most this many requests in any 60 s window (and so at most
    /// `ceil(requests_per_minute / 60)` in any 1 s window): requests are spaced evenly.
    pub requests_per_minute: u32,
    /// Up to this much random extra delay before each request.
    pub jitter: Duration,
    /// Requests in flight at once.
    pub max_concurrent: u32,
    /// How long to stay away after a ban page, when the market does not say.
    pub ban_pause: Duration,
    /// The slow-down never grows beyond this.
    pub max_slowdown: Duration,
}

impl Default for Politeness {
    fn default() -> Politeness {
        Politeness {
            requests_per_minute: 30,
            jitter: Duration::from_millis(500),
            max_concurrent: 2,
            ban_pause: Duration::from_secs(600),
            max_slowdown: Duration::from_secs(300),
        }
    }
}

/// What the caller learnt from a page's content (anti-DDoS fronts answer HTTP 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSignal {
    /// An anti-DDoS queue page asking to come back after `wait`.
    Queue { wait: Duration },
    /// A ban or "slow down" page.
    Ban,
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, GovernorClock, NoOpMiddleware<Duration>>;

#[derive(Debug, Default)]
struct Adaptive {
    /// No request before this time.
    not_before: Duration,
    /// Extra spacing added after every request while the market pushes back.
    slowdown: Duration,
}

/// One market's gate.
pub(crate) struct Gate {
    politeness: Politeness,
    interval: Duration,
    limiter: Limiter,
    in_flight: Semaphore,
    adaptive: Mutex<Adaptive>,
    rng: Mutex<rand::rngs::StdRng>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("politeness", &self.politeness)
            .field("adaptive", &self.adaptive)
            .finish_non_exhaustive()
    }
}

impl Gate {
    pub(crate) fn new(politeness: &Politeness, clock: Arc<dyn Clock>) -> Gate {
        let per_minute =
            NonZeroU32::new(politeness.requests_per_minute.max(1)).expect("at least one");
        let quota = Quota::per_minute(per_minute).allow_burst(NonZeroU32::MIN);
        let interval = quota.replenish_interval();
        Gate {
            politeness: politeness.clone(),
            interval,
            limiter: RateLimiter::direct_with_clock(quota, GovernorClock(clock.clone())),
            in_flight: Semaphore::new(politeness.max_concurrent.max(1) as usize),
            adaptive: Mutex::new(Adaptive::default()),
            rng: Mutex::new(rand::rngs::StdRng::from_entropy()),
            clock,
        }
    }

    /// Wait for a free slot among the market's requests in flight.
    pub(crate) async fn slot(&self) -> SemaphorePermit<'_> {
        self.in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Wait until a request may go: jitter, then any slow-down, then the rate limit. The hold
    /// returned keeps fake time still until the request is done.
    pub(crate) async fn admit(&self) -> Hold {
        let jitter = if self.politeness.jitter.is_zero() {
            Duration::ZERO
        } else {
            let max = self.politeness.jitter.as_nanos() as u64;
            Duration::from_nanos(self.rng.lock().expect("rng lock").gen_range(0..=max))
        };
        if !jitter.is_zero() {
            self.clock.sleep_until(self.clock.now() + jitter).await;
        }
        loop {
            let not_before = self.adaptive.lock().expect("gate lock").not_before;
            if self.clock.now() < not_before {
                self.clock.sleep_until(not_before).await;
                continue;
            }
            let hold = self.clock.hold();
            match self.limiter.check() {
                Ok(()) => {
                    let now = self.clock.now();
                    let mut adaptive = self.adaptive.lock().expect("gate lock");
                    if !adaptive.slowdown.is_zero() {
                        adaptive.not_before = adaptive.not_before.max(now + adaptive.slowdown);
                    }
                    return hold;
                }
                Err(not_until) => {
                    drop(hold);
                    self.clock.sleep_until(not_until.earliest_possible()).await;
                }
            }
        }
    }

    /// The market answered 429 or 503: slow down, and stay away as long as it asked.
    pub(crate) fn pushed_back(&self, retry_after: Option<Duration>) {
        let now = self.clock.now();
        let mut adaptive = self.adaptive.lock().expect("gate lock");
        adaptive.slowdown = (adaptive.slowdown * 2)
            .max(self.interval)
            .min(self.politeness.max_slowdown);
        let wait = retry_after
            .unwrap_or(adaptive.slowdown)
            .min(MAX_RETRY_AFTER);
        adaptive.not_before = adaptive.not_before.max(now + wait);
        tracing::info!(
            "market pushed back; next request in {:?}, slow-down {:?}",
            wait,
            adaptive.slowdown
        );
    }

    /// The caller saw a queue or ban page.
    pub(crate) fn signal(&self, signal: PageSignal) {
        match signal {
            PageSignal::Queue { wait } => self.pushed_back(Some(wait)),
            PageSignal::Ban => self.pushed_back(Some(self.politeness.ban_pause)),
        }
    }

    /// A normal answer: the slow-down halves.
    pub(crate) fn answered(&self) {
        let mut adaptive = self.adaptive.lock().expect("gate lock");
        adaptive.slowdown /= 2;
        if adaptive.slowdown < self.interval / 2 {
            adaptive.slowdown = Duration::ZERO;
        }
    }

    /// The slow-down now in force (for reports).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn slowdown(&self) -> Duration {
        self.adaptive.lock().expect("gate lock").slowdown
    }
}

/// The longest a `Retry-After` is obeyed: a market that asks for longer is waited out this long
/// (and asked again), never for years.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// Parse a `Retry-After` value in seconds (an HTTP date is treated as absent: markets send
/// seconds, and a date would need the wall clock), at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let asked = digits
        .parse::<u64>()
        .map(Duration::from_secs)
        .unwrap_or(Duration::MAX);
    if asked > MAX_RETRY_AFTER {
        tracing::info!(
            asked = %digits,
            "Retry-After is longer than {} s; waiting that long instead",
            MAX_RETRY_AFTER.as_secs()
        );
    }
    Some(asked.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    #[tokio::test]
    async fn requests_are_spaced_by_the_rate_and_pushed_back_by_retry_after() {
        let clock = FakeClock::new();
        let politeness = Politeness {
            requests_per_minute: 6,
            jitter: Duration::ZERO,
            ..Politeness::default()
        };
        let gate = Gate::new(&politeness, Arc::new(clock.clone()));
        let mut times = Vec::new();
        for _ in 0..3 {
            drop(gate.admit().await);
            times.push(clock.now());
        }
        assert_eq!(times, [0, 10, 20].map(Duration::from_secs));
        gate.pushed_back(Some(Duration::from_secs(100)));
        drop(gate.admit().await);
        assert_eq!(clock.now(), Duration::from_secs(120));
        assert_eq!(gate.slowdown(), Duration::from_secs(10));
        gate.answered();
        assert_eq!(
            gate.slowdown(),
            Duration::from_secs(5),
            "normal answers halve it"
        );
        gate.answered();
        assert_eq!(
            gate.slowdown(),
            Duration::ZERO,
            "and drop it below half the interval"
        );
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("-5"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    }
}
