//! The network edge: a `Transport` connects a byte stream to (host, port) for an isolation key.
//!
//! Three transports: embedded Tor (`arti`), an external tor's SOCKS5h port (`socks`) and the
//! loopback map for the simulator, tests and benchmarks (`loopback`). None resolves a name
//! through the system resolver: Tor resolves names itself, and the loopback transport knows
//! only the names it was given. The few addresses dnmscope itself must turn into sockets (a
//! proxy's address) go through a `Resolver`, which by default accepts only IP literals and
//! `localhost`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{ErrorKind, FetchError};

/// A connected byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;
pub type Connecting<'a> = Pin<Box<dyn Future<Output = Result<BoxStream, FetchError>> + Send + 'a>>;

/// Who a stream is for: streams of different keys never share a circuit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IsolationKey {
    pub market: String,
    pub account: String,
}

impl IsolationKey {
    pub fn new(market: &str, account: &str) -> IsolationKey {
        IsolationKey {
            market: market.to_string(),
            account: account.to_string(),
        }
    }
}

/// Connects streams. Implementations never resolve `host` locally.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    fn name(&self) -> &'static str;
    fn connect<'a>(&'a self, host: &'a str, port: u16, key: &'a IsolationKey) -> Connecting<'a>;
}

/// Turns a host name dnmscope itself must connect to (a proxy) into an address.
pub trait Resolver: Send + Sync + fmt::Debug + 'static {
    fn resolve(&self, host: &str) -> Result<IpAddr, FetchError>;
}

/// Accepts IP literals and `localhost`; refuses every other name rather than asking DNS.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiteralResolver;

impl Resolver for LiteralResolver {
    fn resolve(&self, host: &str) -> Result<IpAddr, FetchError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(ip);
        }
        if bare.eq_ignore_ascii_case("localhost") {
            return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        Err(FetchError::Config {
            reason: format!(
                "{host:?} is a host name; dnmscope never asks the system resolver, so give an IP address"
            ),
        })
    }
}

/// Connect to an address (never a name) with tokio.
pub(crate) async fn tcp_connect(
    transport: &'static str,
    addr: SocketAddr,
    host: &str,
    port: u16,
    key: &IsolationKey,
    kind: ErrorKind,
) -> Result<tokio::net::TcpStream, FetchError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| FetchError::Connect {
            transport,
            market: key.market.clone(),
            host: host.to_string(),
            port,
            kind: if source.kind() == std::io::ErrorKind::ConnectionRefused {
                kind
            } else {
                ErrorKind::Transient
            },
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Maps configured host names to loopback sockets. Only for the simulator, tests, benchmarks
/// and the demo: it must be chosen explicitly, and it refuses any address outside 127.0.0.0/8
/// and ::1 and any host name it was not given.
#[derive(Debug, Clone)]
pub struct LoopbackTransport {
    hosts: BTreeMap<String, SocketAddr>,
}

impl LoopbackTransport {
    pub fn new(
        hosts: impl IntoIterator<Item = (String, SocketAddr)>,
    ) -> Result<LoopbackTransport, FetchError> {
        let mut map = BTreeMap::new();
        for (host, addr) in hosts {
            if !addr.ip().is_loopback() {
                return Err(FetchError::Config {
                    reason: format!(
                        "the loopback transport maps {host} to {addr}, which is not a loopback address (127.0.0.0/8 or ::1)"
                    ),
                });
            }
            map.insert(host.to_ascii_lowercase(), addr);
        }
        Ok(LoopbackTransport { hosts: map })
    }
}

impl Transport for LoopbackTransport {
    fn name(&self) -> &'static str {
        "loopback"
    }

    fn connect<'a>(&'a self, host: &'a str, port: u16, key: &'a IsolationKey) -> Connecting<'a> {
        Box::pin(async move {
            let Some(addr) = self.hosts.get(&host.to_ascii_lowercase()).copied() else {
                return Err(FetchError::Config {
                    reason: format!("the loopback transport has no address for {host}"),
                });
            };
            let stream =
                tcp_connect("loopback", addr, host, port, key, ErrorKind::SiteDown).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

/// A transport shared between tasks.
pub type SharedTransport = Arc<dyn Transport>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_refuses_addresses_outside_loopback() {
        let err = LoopbackTransport::new([("a.onion".to_string(), "10.0.0.1:80".parse().unwrap())])
            .unwrap_err();
        assert!(err.to_string().contains("not a loopback address"), "{err}");
        LoopbackTransport::new([("a.onion".to_string(), "[::1]:80".parse().unwrap())]).unwrap();
    }

    #[tokio::test]
    async fn loopback_refuses_names_it_was_not_given() {
        let transport =
            LoopbackTransport::new([("a.onion".to_string(), "127.0.0.1:9".parse().unwrap())])
                .unwrap();
        let err = transport
            .connect("example.com", 80, &IsolationKey::new("m", "a"))
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind(), ErrorKind::Fatal);
        assert!(
            err.to_string().contains("no address for example.com"),
            "{err}"
        );
    }

    #[test]
    fn the_literal_resolver_never_asks_dns() {
        assert_eq!(
            LiteralResolver.resolve("127.0.0.1").unwrap().to_string(),
            "127.0.0.1"
        );
        assert_eq!(LiteralResolver.resolve("[::1]").unwrap().to_string(), "::1");
        assert!(LiteralResolver.resolve("localhost").unwrap().is_loopback());
        let err = LiteralResolver.resolve("tor.example").unwrap_err();
        assert!(
            err.to_string().contains("never asks the system resolver"),
            "{err}"
        );
    }

    /// No source file of this crate calls a system-resolver API.
    #[test]
    fn no_source_file_calls_the_system_resolver() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let forbidden = [
            "lookup_host",
            "to_socket_addrs",
            "getaddrinfo",
            "ToSocketAddrs",
        ];
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for word in forbidden {
                let hits = text.matches(word).count();
                // This file names them once each, in the list above.
                let allowed = usize::from(path.ends_with("transport.rs"));
                assert!(hits <= allowed, "{} calls {word}", path.display());
            }
            checked += 1;
        }
        assert!(checked >= 5, "read the crate's sources");
    }
}
