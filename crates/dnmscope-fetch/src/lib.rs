//! dnmscope-fetch: the only crate that opens outbound connections.
//!
//! A [`Fetcher`] fetches one page of a market per call through a [`Transport`] (embedded Tor
//! via arti, an external tor's SOCKS5h port, or the explicit loopback map), politely (a rate
//! limit, a concurrency cap and an adaptive slow-down per market, on a [`Clock`] tests fake),
//! within limits (timeouts, a body cap after decompression, bounded retries), and returns a
//! `Capture`. It fails closed: names are resolved only inside Tor, redirects stay within a
//! market's own hosts, and cookies are never logged. [`warc`] writes captures as WARC 1.1.

#[cfg(feature = "arti")]
pub mod arti;
pub mod clock;
pub mod cookies;
mod error;
mod fetcher;
pub mod http;
pub mod politeness;
mod pool;
pub mod socks;
pub mod transport;
pub mod warc;

pub use clock::{Clock, FakeClock, TokioClock};
pub use cookies::CookieJar;
pub use error::{ErrorKind, FetchError};
pub use fetcher::{Fetched, Fetcher, Limits, MarketSpec, RedirectRefusal, RefusedRedirect};
pub use politeness::{PageSignal, Politeness};
pub use pool::ConnectionStats;
pub use socks::SocksTransport;
pub use transport::{
    BoxStream, Connecting, IsolationKey, LiteralResolver, LoopbackTransport, Resolver,
    SharedTransport, Stream, Transport,
};
