//! An external tor through its SOCKS port: `socks5h://` only, names sent to Tor as domain names
//! (address type 0x03), and a distinct SOCKS username per (market, account) so tor's
//! `IsolateSOCKSAuth` keeps their circuits apart.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ErrorKind, FetchError};
use crate::transport::{tcp_connect, BoxStream, Connecting, IsolationKey, Resolver, Transport};

/// The SOCKS transport.
#[derive(Debug, Clone)]
pub struct SocksTransport {
    proxy: SocketAddr,
    url: String,
}

impl SocksTransport {
    /// Parse and check a proxy URL. Only `socks5h://HOST:PORT` is accepted: with `socks5://`
    /// or `socks4://` names would be resolved outside Tor, and a socks4 proxy takes only IP
    /// addresses, which cannot name an onion service.
    pub fn new(url: &str, resolver: Arc<dyn Resolver>) -> Result<SocksTransport, FetchError> {
        let refuse = |reason: String| FetchError::Config {
            reason: format!("SOCKS proxy {url:?}: {reason}"),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| refuse("expected socks5h://HOST:PORT".to_string()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "socks5h" => {}
            "socks5" => {
                return Err(refuse(
                    "socks5:// resolves host names on this machine (a DNS leak that also cannot reach .onion); use socks5h:// so Tor resolves them".to_string(),
                ))
            }
            "socks4" | "socks4a" => {
                return Err(refuse(
                    "SOCKS4 proxies take IP addresses only; names must resolve inside Tor, so use socks5h://".to_string(),
                ))
            }
            other => {
                return Err(refuse(format!(
                    "scheme {other:?} is not supported; use socks5h://"
                )))
            }
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') {
            return Err(refuse(
                "expected socks5h://HOST:PORT with nothing after it".to_string(),
            ));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| refuse("the port is missing (tor listens on 9050)".to_string()))?;
        let port: u16 = port
            .parse()
            .map_err(|_| refuse(format!("{port:?} is not a port")))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ip = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => ip,
            Err(_) => resolver.resolve(host)?,
        };
        Ok(SocksTransport {
            proxy: SocketAddr::new(ip, port),
            url: url.to_string(),
        })
    }

    /// The SOCKS username for an isolation key.
    pub fn username(key: &IsolationKey) -> String {
        format!("dnmscope:{}:{}", key.market, key.account)
    }

    async fn handshake(
        &self,
        host: &str,
        port: u16,
        key: &IsolationKey,
    ) -> Result<BoxStream, FetchError> {
        let mut stream = tcp_connect(
            "socks",
            self.proxy,
            host,
            port,
            key,
            ErrorKind::TorUnhealthy,
        )
        .await?;
        let io = |action: &str| {
            let action = format!(
                "{action} with the SOCKS proxy {} for {host}:{port}",
                self.url
            );
            move |source| FetchError::Io { action, source }
        };
        let fail = |reply: String, kind: ErrorKind| FetchError::Socks {
            proxy: self.url.clone(),
            host: host.to_string(),
            port,
            reply,
            kind,
        };
        if host.len() > 255 {
            return Err(FetchError::BadUrl {
                url: host.to_string(),
                reason: "a host name longer than 255 bytes".to_string(),
            });
        }
        // Greeting: version 5, one method, username/password.
        stream.write_all(&[5, 1, 2]).await.map_err(io("greeting"))?;
        let mut choice = [0u8; 2];
        stream
            .read_exact(&mut choice)
            .await
            .map_err(io("reading the method choice"))?;
        if choice != [5, 2] {
            return Err(fail(
                format!("it does not accept username authentication (answered {choice:?}), so circuits cannot be isolated"),
                ErrorKind::TorUnhealthy,
            ));
        }
        let user = SocksTransport::username(key);
        let user = &user.as_bytes()[..user.len().min(255)];
        let mut auth = vec![1, user.len() as u8];
        auth.extend_from_slice(user);
        auth.extend_from_slice(&[1, b'x']);
        stream
            .write_all(&auth)
            .await
            .map_err(io("authenticating"))?;
        let mut auth_reply = [0u8; 2];
        stream
            .read_exact(&mut auth_reply)
            .await
            .map_err(io("reading the authentication reply"))?;
        if auth_reply[1] != 0 {
            return Err(fail(
                "authentication refused".to_string(),
                ErrorKind::TorUnhealthy,
            ));
        }
        // CONNECT with the host as a domain name: Tor resolves it.
        let mut request = vec![5, 1, 0, 3, host.len() as u8];
        request.extend_from_slice(host.as_bytes());
        request.extend_from_slice(&port.to_be_bytes());
        stream
            .write_all(&request)
            .await
            .map_err(io("sending CONNECT"))?;
        let mut head = [0u8; 4];
        stream
            .read_exact(&mut head)
            .await
            .map_err(io("reading the CONNECT reply"))?;
        if head[1] != 0 {
            let (text, kind) = reply_meaning(head[1]);
            return Err(fail(format!("{text} (reply 0x{:02x})", head[1]), kind));
        }
        let skip = match head[3] {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => {
                let mut len = [0u8; 1];
                stream
                    .read_exact(&mut len)
                    .await
                    .map_err(io("reading the bound address"))?;
                usize::from(len[0]) + 2
            }
            other => {
                return Err(fail(
                    format!("unknown address type {other} in its reply"),
                    ErrorKind::TorUnhealthy,
                ))
            }
        };
        let mut bound = vec![0u8; skip];
        stream
            .read_exact(&mut bound)
            .await
            .map_err(io("reading the bound address"))?;
        Ok(Box::new(stream))
    }
}

/// What a SOCKS5 reply code means, with tor's onion-service extensions (0xF0-0xF7).
fn reply_meaning(code: u8) -> (&'static str, ErrorKind) {
    match code {
        1 => ("general failure", ErrorKind::Transient),
        2 => ("not allowed by the proxy's rules", ErrorKind::TorUnhealthy),
        3 => ("network unreachable", ErrorKind::TorUnhealthy),
        4 => ("host unreachable", ErrorKind::SiteDown),
        5 => ("connection refused by the destination", ErrorKind::SiteDown),
        6 => ("TTL expired (timed out)", ErrorKind::Transient),
        7 => ("command not supported", ErrorKind::TorUnhealthy),
        8 => ("address type not supported", ErrorKind::TorUnhealthy),
        0xF0 => ("onion service descriptor not found", ErrorKind::SiteDown),
        0xF1 => ("onion service descriptor invalid", ErrorKind::SiteDown),
        0xF2 => ("onion service introduction failed", ErrorKind::SiteDown),
        0xF3 => ("onion service rendezvous failed", ErrorKind::Transient),
        0xF4 => (
            "onion service missing client authorisation",
            ErrorKind::Fatal,
        ),
        0xF5 => ("onion service wrong client authorisation", ErrorKind::Fatal),
        0xF6 => ("invalid onion address", ErrorKind::Fatal),
        0xF7 => ("onion service introduction timed out", ErrorKind::SiteDown),
        _ => ("unknown reply", ErrorKind::Transient),
    }
}

impl Transport for SocksTransport {
    fn name(&self) -> &'static str {
        "socks"
    }

    fn connect<'a>(&'a self, host: &'a str, port: u16, key: &'a IsolationKey) -> Connecting<'a> {
        Box::pin(self.handshake(host, port, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::LiteralResolver;

    fn new(url: &str) -> Result<SocksTransport, FetchError> {
        SocksTransport::new(url, Arc::new(LiteralResolver))
    }

    #[test]
    fn only_socks5h_is_accepted() {
        new("socks5h://127.0.0.1:9050").unwrap();
        new("socks5h://localhost:9050").unwrap();
        for (url, why) in [
            ("socks5://127.0.0.1:9050", "DNS leak"),
            ("socks4://127.0.0.1:9050", "IP addresses only"),
            ("socks4a://127.0.0.1:9050", "IP addresses only"),
            ("http://127.0.0.1:8118", "not supported"),
            ("socks5h://127.0.0.1", "port is missing"),
            (
                "socks5h://tor.example:9050",
                "never asks the system resolver",
            ),
        ] {
            let err = new(url).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Fatal);
            assert!(err.to_string().contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn usernames_differ_per_market_and_account() {
        let a = SocksTransport::username(&IsolationKey::new("dream", "crawler1"));
        let b = SocksTransport::username(&IsolationKey::new("empire", "crawler1"));
        let c = SocksTransport::username(&IsolationKey::new("dream", "crawler2"));
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
