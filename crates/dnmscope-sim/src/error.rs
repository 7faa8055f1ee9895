//! Errors of the simulator, each with what was being done.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("pgp key for {user_id:?}: {what}: {message}")]
    Pgp {
        what: &'static str,
        user_id: String,
        message: String,
    },

    #[error("invalid world configuration: {0}")]
    Config(String),

    #[error("the simulator only listens on loopback addresses, not {addr}")]
    NotLoopback { addr: SocketAddr },

    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("serving on {addr}")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
