//! Time for politeness: a `Clock` that the fetcher reads and sleeps on, so tests can run rate
//! limits in fake time, exactly and instantly.
//!
//! Timeouts (connect, first byte, total) use tokio's time instead, which tests pause.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A monotonic clock with a sleep.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Time since the clock started.
    fn now(&self) -> Duration;
    /// Sleep until `now() >= until`.
    fn sleep_until(&self, until: Duration) -> Sleep;
    /// Keep time still while a request is on the wire (fake clocks only; the wall clock
    /// ignores it). The fetcher holds one from the moment the rate limiter admits a request
    /// until the response is read, so the admitted time is the time the server sees.
    fn hold(&self) -> Hold {
        Hold(None)
    }
}

/// A guard from `Clock::hold`; time may move again once every hold is dropped.
#[derive(Debug)]
pub struct Hold(Option<Arc<FakeState>>);

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            let mut inner = state.inner.lock().expect("clock lock");
            inner.holds -= 1;
            FakeState::advance(&mut inner);
        }
    }
}

/// The wall clock, through tokio (so a paused tokio runtime pauses it too).
#[derive(Debug, Clone)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> TokioClock {
        TokioClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, until: Duration) -> Sleep {
        Box::pin(tokio::time::sleep_until(self.start + until))
    }
}

/// A discrete-event clock for tests: time stands still until every task that wants it to move
/// is asleep and no request holds it; then it jumps to the earliest wake-up.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<FakeState>);

#[derive(Debug, Default)]
pub struct FakeState {
    inner: Mutex<FakeInner>,
}

#[derive(Debug, Default)]
struct FakeInner {
    now: Duration,
    holds: usize,
    next_id: u64,
    sleepers: BTreeMap<(Duration, u64), Option<Waker>>,
}

impl FakeState {
    /// Jump to the earliest wake-up when nothing holds time still, and wake whoever is due.
    fn advance(inner: &mut FakeInner) {
        if inner.holds > 0 {
            return;
        }
        let Some((&(first, _), _)) = inner.sleepers.iter().next() else {
            return;
        };
        if first > inner.now {
            inner.now = first;
        }
        let now = inner.now;
        let due: Vec<(Duration, u64)> = inner
            .sleepers
            .range(..=(now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(Some(waker)) = inner.sleepers.remove(&key) {
                waker.wake();
            }
        }
    }
}

impl FakeClock {
    pub fn new() -> FakeClock {
        FakeClock::default()
    }

    /// Move time forward by hand.
    pub fn advance(&self, by: Duration) {
        let mut inner = self.0.inner.lock().expect("clock lock");
        inner.now += by;
    }
}

struct FakeSleep {
    state: Arc<FakeState>,
    until: Duration,
    key: Option<(Duration, u64)>,
}

impl Future for FakeSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = self.state.clone();
        let mut inner = state.inner.lock().expect("clock lock");
        if inner.now >= self.until {
            if let Some(key) = self.key.take() {
                inner.sleepers.remove(&key);
            }
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                inner.next_id += 1;
                let key = (self.until, inner.next_id);
                self.key = Some(key);
                key
            }
        };
        inner.sleepers.insert(key, Some(cx.waker().clone()));
        FakeState::advance(&mut inner);
        if inner.now >= self.until {
            inner.sleepers.remove(&key);
            self.key = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for FakeSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            if let Ok(mut inner) = self.state.inner.lock() {
                inner.sleepers.remove(&key);
            }
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.0.inner.lock().expect("clock lock").now
    }

    fn sleep_until(&self, until: Duration) -> Sleep {
        Box::pin(FakeSleep {
            state: self.0.clone(),
            until,
            key: None,
        })
    }

    fn hold(&self) -> Hold {
        self.0.inner.lock().expect("clock lock").holds += 1;
        Hold(Some(self.0.clone()))
    }
}

/// governor's view of a `Clock`: instants are durations since the clock started.
#[derive(Debug, Clone)]
pub(crate) struct GovernorClock(pub Arc<dyn Clock>);

impl governor::clock::Clock for GovernorClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_time_jumps_to_the_earliest_sleeper_and_stands_still_while_held() {
        let clock = FakeClock::new();
        clock.sleep_until(Duration::from_secs(5)).await;
        assert_eq!(clock.now(), Duration::from_secs(5));
        let hold = clock.hold();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(Duration::from_secs(9)).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(
            clock.now(),
            Duration::from_secs(5),
            "held time does not move"
        );
        drop(hold);
        sleeper.await.unwrap();
        assert_eq!(clock.now(), Duration::from_secs(9));
    }
}
