//! dnmscope's integration tests: the `dnmscope` binary as a user runs it.
//!
//! One test binary, a module per area; each test works in a fresh temporary directory.

mod cli;
mod crawl;
mod db;
mod fetch;
mod hostile;
mod import;
mod parse;
mod privacy;
mod query;
mod report;
mod sim;
// Embedded Tor end to end: only with the `arti` feature (the default).
#[cfg(feature = "arti")]
mod tor_network;
