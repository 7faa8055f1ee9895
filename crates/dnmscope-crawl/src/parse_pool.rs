//! Parsing off the async runtime: a small pool of threads with large stacks.
//!
//! A page takes milliseconds to parse, a hostile one up to the parser's time limit; on the
//! runtime's threads that would stall every market's requests meanwhile. The pool's threads
//! have their own stack size (deep but bounded trees stay far from it), and a parser crash is
//! caught and reported as the page's outcome, never the run's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use dnmscope_parse::{parse_page, Limits, Market, ParsedPage};
use tokio::sync::{oneshot, Semaphore};

/// Stack of each parsing thread.
const STACK_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of page being parsed at once, over all threads. A tree can take ten times its page
/// and more, so a budget in bytes of input bounds the pool's memory: two 8 MiB pages never
/// parse side by side, while ordinary pages (tens of KiB) never wait for one another.
pub(crate) const PARSE_BUDGET_BYTES: usize = 12 << 20;

/// The budget in permits (KiB).
const BUDGET_KIB: u32 = (PARSE_BUDGET_BYTES >> 10) as u32;

type Job = Box<dyn FnOnce() + Send>;

/// Threads that parse pages; dropped with the run (the threads end when the queue closes).
pub(crate) struct ParsePool {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Permits are KiB of page in the parser (see [`PARSE_BUDGET_BYTES`]).
    budget: Arc<Semaphore>,
}

impl ParsePool {
    /// A pool of `threads` parsing threads (at least one).
    pub(crate) fn new(threads: usize) -> std::io::Result<ParsePool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("dnmscope-parse-{i}"))
                .stack_size(STACK_BYTES)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(ParsePool {
            jobs: Mutex::new(tx),
            budget: Arc::new(Semaphore::new(BUDGET_KIB as usize)),
        })
    }

    /// Parses `body` with `market`'s definition on the pool. `Err` says how the parser crashed
    /// (a bug: the page is recorded as refused, the run goes on).
    pub(crate) async fn parse(
        &self,
        body: Arc<str>,
        market: Arc<Market>,
        limits: Limits,
    ) -> Result<ParsedPage, String> {
        // A page larger than the whole budget waits for all of it.
        let kib = (body.len() >> 10).clamp(1, BUDGET_KIB as usize) as u32;
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(kib)
            .await
            .map_err(|_| "the parsing pool is gone".to_owned())?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                parse_page(&body, Some(&market), limits)
            }))
            .map_err(|payload| {
                payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into())
            });
            // The tree is gone with the parse: the page's share of the budget is free before
            // its answer is.
            drop(permit);
            let _ = tx.send(outcome);
        });
        let sent = self
            .jobs
            .lock()
            .map_err(|_| "the parsing pool is gone".to_owned())?
            .send(job);
        if sent.is_err() {
            return Err("the parsing pool is gone".into());
        }
        rx.await
            .map_err(|_| "the parsing thread ended without an answer".to_owned())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_market() -> Arc<Market> {
        Arc::new(
            dnmscope_parse::builtin_markets()
                .unwrap()
                .into_iter()
                .next()
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn pages_are_parsed_on_the_pool_and_deep_ones_do_not_crash_it() {
        let pool = ParsePool::new(2).unwrap();
        let market = a_market();
        let deep: Arc<str> = "<div><span>".repeat(200_000).into();
        let page = pool
            .parse(deep, Arc::clone(&market), Limits::default())
            .await
            .unwrap();
        assert!(page.diagnostics[0].message.contains("nested deeper"));
        let plain: Arc<str> = "<html><title>x</title><body>hi</body></html>".into();
        let page = pool.parse(plain, market, Limits::default()).await.unwrap();
        assert!(page.refused.is_none());
    }

    #[tokio::test]
    async fn pages_larger_than_the_budget_are_parsed_one_at_a_time_and_small_ones_meanwhile() {
        let pool = Arc::new(ParsePool::new(2).unwrap());
        let market = a_market();
        let big: Arc<str> = "<p>x</p>".repeat(PARSE_BUDGET_BYTES / 8 + 1).into();
        let small: Arc<str> = "<html><title>x</title><body>hi</body></html>".into();
        let mut jobs = Vec::new();
        for body in [big.clone(), small.clone(), big, small] {
            let (pool, market) = (Arc::clone(&pool), Arc::clone(&market));
            jobs.push(tokio::spawn(async move {
                pool.parse(body, market, Limits::default()).await
            }));
        }
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(
            pool.budget.available_permits(),
            BUDGET_KIB as usize,
            "every permit is back"
        );
    }
}
