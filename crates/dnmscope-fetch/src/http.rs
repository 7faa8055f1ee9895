//! One HTTP/1.1 exchange over a connected stream (hyper 1): Tor-Browser-like request headers,
//! first-byte and total deadlines, gzip/deflate decoded with the body cap applied after
//! decompression, and the reason a body is short.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use dnmscope_model::{Header, Truncation};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use crate::error::FetchError;
use crate::pool::Conn;
use crate::transport::BoxStream;

/// The header set of Tor Browser (Firefox ESR 128) on a page load, minus encodings dnmscope
/// cannot decode. A request without a User-Agent is dropped by anti-DDoS fronts.
pub const BROWSER_HEADERS: &[(&str, &str)] = &[
    (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-User", "?1"),
    ("Priority", "u=0, i"),
];

/// A response as read off the wire.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub truncated: Option<Truncation>,
}

/// Accepts bytes up to a cap, then refuses: the decoder stops inflating there.
struct Capped {
    buffer: Vec<u8>,
    cap: usize,
    full: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap - self.buffer.len();
        if room == 0 {
            self.full = true;
            return Err(std::io::Error::other("body cap reached"));
        }
        let take = room.min(buf.len());
        self.buffer.extend_from_slice(&buf[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Capped),
    Gzip(Box<flate2::write::GzDecoder<Capped>>),
    Deflate(Box<flate2::write::ZlibDecoder<Capped>>),
}

impl Decoder {
    fn new(encoding: Option<&str>, cap: usize) -> Decoder {
        let sink = Capped {
            buffer: Vec::new(),
            cap,
            full: false,
        };
        match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            Some("gzip") | Some("x-gzip") => {
                Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(sink)))
            }
            Some("deflate") => Decoder::Deflate(Box::new(flate2::write::ZlibDecoder::new(sink))),
            _ => Decoder::Identity(sink),
        }
    }

    /// Feed wire bytes; `Ok(false)` once the cap is reached.
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, std::io::Error> {
        let result = match self {
            Decoder::Identity(sink) => sink.write_all(bytes),
            Decoder::Gzip(decoder) => decoder.write_all(bytes),
            Decoder::Deflate(decoder) => decoder.write_all(bytes),
        };
        match result {
            Ok(()) => Ok(!self.sink().full),
            Err(_) if self.sink().full => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn sink(&self) -> &Capped {
        match self {
            Decoder::Identity(sink) => sink,
            Decoder::Gzip(decoder) => decoder.get_ref(),
            Decoder::Deflate(decoder) => decoder.get_ref(),
        }
    }

    fn sink_mut(&mut self) -> &mut Capped {
        match self {
            Decoder::Identity(sink) => sink,
            Decoder::Gzip(decoder) => decoder.get_mut(),
            Decoder::Deflate(decoder) => decoder.get_mut(),
        }
    }

    /// The decoded bytes and whether the cap was reached. A complete body is flushed through
    /// the decoder first; a cut one keeps what was decoded so far.
    fn finish(mut self, complete: bool) -> (Vec<u8>, bool) {
        if complete {
            let flushed = match &mut self {
                Decoder::Identity(_) => Ok(()),
                Decoder::Gzip(decoder) => decoder.try_finish(),
                Decoder::Deflate(decoder) => decoder.try_finish(),
            };
            if let Err(err) = flushed {
                tracing::debug!("compressed body ends early: {err}");
            }
        }
        let sink = self.sink_mut();
        (std::mem::take(&mut sink.buffer), sink.full)
    }
}

/// Limits of one exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExchangeLimits {
    pub first_byte: Duration,
    pub deadline: Instant,
    pub max_body: usize,
}

/// Open HTTP/1.1 on a connected stream; the connection is driven by its own task until the
/// returned `Conn` is dropped.
pub(crate) async fn handshake(stream: BoxStream, url: &str) -> Result<Conn, FetchError> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| FetchError::Http {
            url: url.to_string(),
            source,
        })?;
    let driver = tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!("connection ended: {err}");
        }
    });
    Ok(Conn {
        sender,
        driver,
        reused: false,
    })
}

/// How an exchange ended.
#[derive(Debug)]
pub(crate) enum Exchange {
    /// A response; `reusable` when its body was read to the end and the connection may carry
    /// the next request.
    Answered { raw: RawResponse, reusable: bool },
    /// A kept-alive connection turned out closed before any answer came: the request may be
    /// sent again on a new connection.
    Stale(FetchError),
}

/// Send a GET for `target` (path and query) with the given extra headers on `conn`; read the
/// response.
pub(crate) async fn exchange(
    conn: &mut Conn,
    url: &str,
    host_header: &str,
    target: &str,
    extra: &[(&str, String)],
    limits: ExchangeLimits,
) -> Result<Exchange, FetchError> {
    let mut builder = http::Request::get(target).header("Host", host_header);
    for (name, value) in BROWSER_HEADERS {
        builder = builder.header(*name, *value);
    }
    for (name, value) in extra {
        builder = builder.header(*name, value.as_str());
    }
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|err| FetchError::BadUrl {
            url: url.to_string(),
            reason: err.to_string(),
        })?;
    let first_byte_at = (Instant::now() + limits.first_byte).min(limits.deadline);
    let response =
        match tokio::time::timeout_at(first_byte_at, conn.sender.send_request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(source)) => {
                let err = FetchError::Http {
                    url: url.to_string(),
                    source,
                };
                // A server may close an idle connection at any moment; the request was not
                // answered, and a GET may be sent again.
                if conn.reused {
                    return Ok(Exchange::Stale(err));
                }
                return Err(err);
            }
            Err(_) => {
                return Err(FetchError::FirstByteTimeout {
                    url: url.to_string(),
                    after: limits.first_byte,
                });
            }
        };
    let status = response.status().as_u16();
    let headers: Vec<Header> = response
        .headers()
        .iter()
        .map(|(name, value)| Header::new(name.as_str(), &String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let encoding = response
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut decoder = Decoder::new(encoding.as_deref(), limits.max_body);
    let mut body = response.into_body();
    let mut truncated = None;
    loop {
        match tokio::time::timeout_at(limits.deadline, body.frame()).await {
            Err(_) => {
                truncated = Some(Truncation::Time);
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                tracing::debug!("body of {url} ended early: {err}");
                truncated = Some(Truncation::Disconnect);
                break;
            }
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                match decoder.feed(&data) {
                    Ok(true) => {}
                    Ok(false) => {
                        truncated = Some(Truncation::Length);
                        break;
                    }
                    Err(err) => {
                        tracing::debug!("body of {url} does not decode: {err}");
                        truncated = Some(Truncation::Unspecified);
                        break;
                    }
                }
            }
        }
    }
    // Only a body read to its end leaves the connection at a message boundary.
    let read_to_end = truncated.is_none();
    drop(body);
    let (bytes, full) = decoder.finish(truncated.is_none());
    if full && truncated.is_none() {
        truncated = Some(Truncation::Length);
    }
    // The connection's task sees the end of the message before the sender is ready again;
    // wait for that briefly (it is a hand-off between two tasks, not a network round trip).
    let reusable = read_to_end
        && matches!(
            tokio::time::timeout(READY_WAIT, conn.sender.ready()).await,
            Ok(Ok(()))
        );
    Ok(Exchange::Answered {
        raw: RawResponse {
            status,
            headers,
            body: bytes,
            truncated,
        },
        reusable,
    })
}

/// How long a connection whose message ended may take to be ready for the next request before
/// it is closed instead of kept.
const READY_WAIT: Duration = Duration::from_millis(250);
