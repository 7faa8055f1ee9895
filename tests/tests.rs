//! dnmscope's integration tests: the `dnmscope` binary as a user runs it.
//!
//! One test binary, a module per area; each test works in a fresh temporary directory.

mod cli;
mod crawl;
mod db;
mod fetch;
mod parse;
mod query;
mod report;
mod sim;
mod tor_network;
