//! Keep-alive: idle HTTP/1.1 connections kept per (isolation key, host, port) and reused.
//!
//! Through Tor every new stream to an onion service costs a round trip over a six-hop circuit;
//! a reused connection costs nothing. A connection is only ever reused for the isolation key it
//! was opened for, so two markets (or two accounts) never share one, exactly as they never share
//! a circuit. The pool is bounded (at most `max_idle` idle connections per key) and an idle
//! connection older than `idle_timeout` is closed instead of reused. A connection goes back only
//! after a complete exchange (a body cut by the cap, a deadline or an error is never reused).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::transport::IsolationKey;

/// One HTTP/1.1 connection: the request half and the task driving the socket. Dropping it
/// closes the connection.
pub(crate) struct Conn {
    pub sender: SendRequest<Empty<Bytes>>,
    pub driver: JoinHandle<()>,
    /// Taken from the pool rather than opened for this exchange.
    pub reused: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Which connections may be reused for which requests: never across isolation keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub isolation: IsolationKey,
    pub host: String,
    pub port: u16,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// Connections opened and reused since the fetcher was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// New connections (TCP, SOCKS or Tor streams) opened.
    pub opened: u64,
    /// Exchanges that ran on a kept-alive connection.
    pub reused: u64,
    /// Kept-alive connections found closed by the server when reused (the request was then sent
    /// again on a new connection, not counted as an attempt).
    pub stale: u64,
}

pub(crate) struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Idle>>>,
    max_idle: usize,
    idle_timeout: Duration,
    opened: AtomicU64,
    reused: AtomicU64,
    stale: AtomicU64,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_timeout,
            opened: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            stale: AtomicU64::new(0),
        }
    }

    /// An idle connection for `key` that is still open and not too old, newest first.
    pub fn take(&self, key: &PoolKey) -> Option<Conn> {
        if self.max_idle == 0 {
            return None;
        }
        let mut idle = self.idle.lock().expect("pool lock");
        let entries = idle.get_mut(key)?;
        let now = Instant::now();
        // Drop the ones past their idle time first (they are the oldest, at the front).
        entries.retain(|e| {
            now.saturating_duration_since(e.since) < self.idle_timeout && !e.conn.sender.is_closed()
        });
        let found = loop {
            let Some(mut entry) = entries.pop() else {
                break None;
            };
            if entry.conn.sender.is_ready() {
                entry.conn.reused = true;
                break Some(entry.conn);
            }
        };
        if entries.is_empty() {
            idle.remove(key);
        }
        if found.is_some() {
            self.reused.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keep a connection whose exchange completed. Beyond `max_idle` for its key the oldest
    /// idle one is closed.
    pub fn put(&self, key: PoolKey, mut conn: Conn) {
        if self.max_idle == 0 || conn.sender.is_closed() {
            return;
        }
        conn.reused = false;
        let mut idle = self.idle.lock().expect("pool lock");
        let entries = idle.entry(key).or_default();
        entries.push(Idle {
            conn,
            since: Instant::now(),
        });
        if entries.len() > self.max_idle {
            entries.remove(0);
        }
    }

    pub fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stale(&self) {
        self.stale.fetch_add(1, Ordering::Relaxed);
    }

    /// Idle connections held now, over all keys.
    pub fn idle(&self) -> usize {
        self.idle
            .lock()
            .expect("pool lock")
            .values()
            .map(Vec::len)
            .sum()
    }

    /// Close every idle connection of a market (after a ban page, a pause, a new session).
    pub fn close_market(&self, market: &str) {
        self.idle
            .lock()
            .expect("pool lock")
            .retain(|key, _| key.isolation.market != market);
    }

    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            opened: self.opened.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
        }
    }
}
