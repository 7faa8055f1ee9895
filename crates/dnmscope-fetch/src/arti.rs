//! Embedded Tor (arti-client) with the onion-service client: one isolated client per
//! (market, account), state and cache in the data directory, bootstrap with progress and a
//! clear error when Tor cannot bootstrap within its timeout.
//!
//! A custom Tor network (directory authorities and fallback caches) can replace the public one:
//! that is how a private test network on loopback is used, and how the no-network test makes
//! sure nothing reaches the real Tor network.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arti_client::config::dir::FallbackDirBuilder;
use arti_client::config::TorClientConfigBuilder;
use arti_client::{HasKind, TorClient};
use futures_util::StreamExt;
use tor_llcrypto::pk::ed25519::Ed25519Identity;
use tor_llcrypto::pk::rsa::RsaIdentity;
use tor_proto::client::stream::ClientStreamCtrl;
use tor_rtcompat::PreferredRuntime;

use crate::error::{ErrorKind, FetchError};
use crate::transport::{BoxStream, Connecting, IsolationKey, Transport};

/// A directory authority of a custom Tor network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityId {
    pub name: String,
    /// The v3 identity, 40 hex digits.
    pub v3ident: String,
    /// Its directory port: where documents are downloaded (and, for relays, uploaded). Always
    /// given, so a custom network never falls back to the public authorities' addresses.
    pub dir_addr: SocketAddr,
}

/// A fallback directory cache of a custom Tor network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// RSA identity, 40 hex digits (a relay's `fingerprint` file).
    pub rsa_identity: String,
    /// Ed25519 identity, base64 (a relay's `fingerprint-ed25519` file).
    pub ed_identity: String,
    pub orports: Vec<SocketAddr>,
}

/// How to start embedded Tor.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtiConfig {
    /// arti's state and cache live in `data_dir/arti/{state,cache}`.
    pub data_dir: PathBuf,
    pub bootstrap_timeout: Duration,
    /// A custom network; empty for the public Tor network.
    pub authorities: Vec<AuthorityId>,
    pub fallbacks: Vec<Fallback>,
    /// Accept group- or world-writable directories (temporary directories in tests).
    pub relax_permissions: bool,
    /// Relays whose IPv4 addresses share this many leading bits count as one family (arti's
    /// default is 16). A private network whose relays all share one address needs 33: no two
    /// relays are then one family by address.
    pub ipv4_subnet_family_prefix: Option<u8>,
    /// Accept relays and fallback caches on local addresses (a private network on loopback).
    pub allow_local_addrs: bool,
}

/// Bootstrap timings for `doctor`.
#[derive(Debug, Clone)]
pub struct BootstrapReport {
    pub elapsed: Duration,
    /// Progress messages as they came, with the time since start.
    pub progress: Vec<(Duration, String)>,
    /// arti's own summary of its state once bootstrapped (e.g. "done: ready").
    pub status: String,
}

/// The arti transport.
pub struct ArtiTransport {
    base: Arc<TorClient<PreferredRuntime>>,
    isolated: Mutex<HashMap<IsolationKey, Arc<TorClient<PreferredRuntime>>>>,
    /// For each key, the circuit (tunnel) each of its streams ran on, in order.
    circuits: Mutex<BTreeMap<IsolationKey, Vec<String>>>,
    report: BootstrapReport,
}

impl std::fmt::Debug for ArtiTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtiTransport").finish_non_exhaustive()
    }
}

fn bootstrap_error(reason: impl std::fmt::Display) -> FetchError {
    FetchError::Bootstrap {
        reason: reason.to_string(),
    }
}

/// How long past its valid-until a consensus of a custom Tor network is still used (see
/// `client_config`).
const CUSTOM_NETWORK_POST_VALID_TOLERANCE: Duration = Duration::from_secs(60);

fn client_config(config: &ArtiConfig) -> Result<arti_client::TorClientConfig, FetchError> {
    let arti_dir = config.data_dir.join("arti");
    let mut builder =
        TorClientConfigBuilder::from_directories(arti_dir.join("state"), arti_dir.join("cache"));
    if config.relax_permissions {
        builder.storage().permissions().dangerously_trust_everyone();
    }
    if !config.authorities.is_empty() || !config.fallbacks.is_empty() {
        if config.authorities.is_empty() || config.fallbacks.is_empty() {
            return Err(FetchError::Config {
                reason: "a custom Tor network needs both directory authorities and fallback caches"
                    .to_string(),
            });
        }
        let mut v3idents = Vec::new();
        let mut addrs = Vec::new();
        for authority in &config.authorities {
            let id =
                RsaIdentity::from_hex(&authority.v3ident).ok_or_else(|| FetchError::Config {
                    reason: format!("authority {}: v3ident is not 40 hex digits", authority.name),
                })?;
            v3idents.push(id);
            addrs.push(vec![authority.dir_addr]);
        }
        let contacts = builder.tor_network().authorities();
        contacts.set_v3idents(v3idents);
        contacts.set_downloads(addrs.clone());
        contacts.set_uploads(addrs.clone());
        contacts.set_votes(addrs);
        let mut fallbacks = Vec::new();
        for fallback in &config.fallbacks {
            let rsa = RsaIdentity::from_hex(&fallback.rsa_identity).ok_or_else(|| {
                FetchError::Config {
                    reason: format!("fallback {}: not 40 hex digits", fallback.rsa_identity),
                }
            })?;
            let ed = decode_ed25519(&fallback.ed_identity).ok_or_else(|| FetchError::Config {
                reason: format!(
                    "fallback {}: ed25519 identity is not base64 of 32 bytes",
                    fallback.rsa_identity
                ),
            })?;
            let mut b = FallbackDirBuilder::new();
            b.rsa_identity(rsa).ed_identity(ed);
            for port in &fallback.orports {
                b.orports().push(*port);
            }
            fallbacks.push(b);
        }
        builder.tor_network().set_fallback_caches(fallbacks);
        // A consensus more than a minute past its valid-until is not used. arti's default
        // accepts one up to three days past it (clock skew, authorities that fail to agree)
        // and takes it from the cache at start: on the public network, where a consensus lasts
        // hours, that costs little. A private network votes every few seconds and its first
        // consensuses list only the relays that were up by then; a dnmscope run that
        // bootstraps from such a cached consensus fails at once ("Can't find middle relay for
        // onion-service circuit" when it lists only the authorities) and exits before arti's
        // refresh of the consensus lands, so the cache is never refreshed and every later run
        // fails the same way. Seen in the private network test: 31 runs over three minutes,
        // all on the network's first consensus, long expired. Past this tolerance an expired
        // cached consensus is ignored and bootstrap fetches the current one. Not zero: arti
        // restarts a bootstrap whose consensus passes valid-until plus the tolerance before
        // its relay descriptors are in, and with zero a first bootstrap on the private
        // network restarted until its 60 s timeout.
        builder
            .directory_tolerance()
            .post_valid_tolerance(CUSTOM_NETWORK_POST_VALID_TOLERANCE);
        // dnmscope asks only for onion services, never for an exit: on a network that may
        // have no exits at all (a private one), building exit circuits in advance only fails.
        builder.preemptive_circuits().disable_at_threshold(0);
        builder
            .preemptive_circuits()
            .initial_predicted_ports()
            .clear();
    }
    if let Some(prefix) = config.ipv4_subnet_family_prefix {
        builder.path_rules().ipv4_subnet_family_prefix(prefix);
    }
    if config.allow_local_addrs {
        builder.address_filter().allow_local_addrs(true);
    }
    builder.build().map_err(bootstrap_error)
}

/// Base64 (standard, padding optional) of an ed25519 identity.
fn decode_ed25519(text: &str) -> Option<Ed25519Identity> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim().trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    let bytes: [u8; 32] = out.try_into().ok()?;
    Some(Ed25519Identity::new(bytes))
}

impl ArtiTransport {
    /// Start embedded Tor and bootstrap it, or fail with a clear error within the timeout.
    pub async fn bootstrap(config: &ArtiConfig) -> Result<ArtiTransport, FetchError> {
        let started = Instant::now();
        // arti's rustls leaves the choice of crypto provider to the program: ring, once per
        // process (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tor_config = client_config(config)?;
        let client = TorClient::builder()
            .config(tor_config)
            .create_unbootstrapped()
            .map_err(bootstrap_error)?;
        let mut events = client.bootstrap_events();
        let progress = Arc::new(Mutex::new(Vec::new()));
        let watcher = tokio::spawn({
            let progress = progress.clone();
            async move {
                while let Some(status) = events.next().await {
                    let line = status.to_string();
                    tracing::info!("tor: {line}");
                    progress
                        .lock()
                        .expect("progress lock")
                        .push((started.elapsed(), line));
                }
            }
        });
        let outcome = tokio::time::timeout(config.bootstrap_timeout, client.bootstrap()).await;
        watcher.abort();
        let progress = progress.lock().expect("progress lock").clone();
        let last = progress
            .last()
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| "no progress".to_string());
        match outcome {
            Err(_) => Err(bootstrap_error(format!(
                "no usable directory within {:?} (last status: {last}); check the network, or use an external tor: [fetch] transport = \"socks\"",
                config.bootstrap_timeout
            ))),
            Ok(Err(err)) => Err(bootstrap_error(format!("{err} (last status: {last})"))),
            Ok(Ok(())) => Ok(ArtiTransport {
                report: BootstrapReport {
                    elapsed: started.elapsed(),
                    progress,
                    status: client.bootstrap_status().to_string(),
                },
                base: client,
                isolated: Mutex::new(HashMap::new()),
                circuits: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn report(&self) -> &BootstrapReport {
        &self.report
    }

    fn client_for(&self, key: &IsolationKey) -> Arc<TorClient<PreferredRuntime>> {
        self.isolated
            .lock()
            .expect("client lock")
            .entry(key.clone())
            .or_insert_with(|| self.base.isolated_client())
            .clone()
    }

    /// How many isolated clients exist (one per key used).
    pub fn isolated_clients(&self) -> usize {
        self.isolated.lock().expect("client lock").len()
    }

    /// For each key used, the circuits its streams ran on, in the order the streams were
    /// opened. The identifiers are arti's process-unique tunnel ids (only compared, never
    /// parsed): two keys never share one, and a key's later streams reuse its circuit while
    /// the circuit lives.
    pub fn circuits(&self) -> BTreeMap<IsolationKey, Vec<String>> {
        self.circuits.lock().expect("circuit lock").clone()
    }
}

/// An error and every cause under it, `outer: cause: root cause`. arti's top-level messages
/// name only the step that failed ("Failed to obtain hidden service circuit to …"); what went
/// wrong (no descriptor on any HsDir, every introduction point failed, no relay for a hop) is
/// only in the causes.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// What an arti error means for the crawler.
fn classify(kind: arti_client::ErrorKind) -> ErrorKind {
    use arti_client::ErrorKind as K;
    match kind {
        K::OnionServiceNotFound
        | K::OnionServiceNotRunning
        | K::RemoteConnectionRefused
        | K::RemoteHostNotFound => ErrorKind::SiteDown,
        K::OnionServiceConnectionFailed | K::TorNetworkTimeout | K::RemoteNetworkFailed => {
            ErrorKind::Transient
        }
        K::TorAccessFailed | K::BootstrapRequired => ErrorKind::TorUnhealthy,
        K::InvalidStreamTarget | K::ForbiddenStreamTarget => ErrorKind::Fatal,
        _ => ErrorKind::Transient,
    }
}

impl Transport for ArtiTransport {
    fn name(&self) -> &'static str {
        "arti"
    }

    fn connect<'a>(&'a self, host: &'a str, port: u16, key: &'a IsolationKey) -> Connecting<'a> {
        Box::pin(async move {
            let client = self.client_for(key);
            let stream = client
                .connect((host, port))
                .await
                .map_err(|err| FetchError::Tor {
                    market: key.market.clone(),
                    host: host.to_string(),
                    port,
                    kind: classify(err.kind()),
                    detail: error_chain(&err),
                })?;
            if let Some(tunnel) = stream.client_stream_ctrl().and_then(|ctrl| ctrl.tunnel()) {
                self.circuits
                    .lock()
                    .expect("circuit lock")
                    .entry(key.clone())
                    .or_default()
                    .push(tunnel.unique_id().to_string());
            }
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_reported_with_its_causes() {
        #[derive(Debug)]
        struct Step(&'static str, Option<Box<Step>>);
        impl std::fmt::Display for Step {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Step {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|s| s as _)
            }
        }
        let err = Step(
            "Failed to obtain hidden service circuit",
            Some(Box::new(Step(
                "Unable to download hidden service descriptor",
                None,
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "Failed to obtain hidden service circuit: Unable to download hidden service descriptor"
        );
        // A cause its parent already quotes is not repeated.
        let err = Step("tor: not found: gone", Some(Box::new(Step("gone", None))));
        assert_eq!(error_chain(&err), "tor: not found: gone");
    }

    #[test]
    fn ed25519_identities_decode_from_base64() {
        let id = decode_ed25519("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(id, Ed25519Identity::new([0; 32]));
        assert!(decode_ed25519("too short").is_none());
    }

    #[test]
    fn a_custom_network_needs_authorities_and_fallbacks() {
        let config = ArtiConfig {
            data_dir: PathBuf::from("/nonexistent"),
            bootstrap_timeout: Duration::from_secs(1),
            authorities: vec![AuthorityId {
                name: "a".to_string(),
                v3ident: "00".repeat(20),
                dir_addr: "127.0.0.1:1".parse().unwrap(),
            }],
            fallbacks: vec![],
            relax_permissions: true,
            ipv4_subnet_family_prefix: Some(33),
            allow_local_addrs: true,
        };
        let err = client_config(&config).unwrap_err();
        assert!(
            err.to_string()
                .contains("both directory authorities and fallback caches"),
            "{err}"
        );
    }

    /// Without any network arti fails cleanly: its only directory authority and fallback caches
    /// are loopback ports where nothing answers (one refuses connections, one accepts and stays
    /// silent), so nothing ever reaches the real Tor network, and bootstrap must end with a
    /// "cannot bootstrap" error at its own timeout instead of retrying forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_network_bootstrap_fails_cleanly_within_its_timeout() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let config = ArtiConfig {
            data_dir: dir.path().to_path_buf(),
            bootstrap_timeout: Duration::from_secs(3),
            authorities: vec![AuthorityId {
                name: "nowhere".to_string(),
                v3ident: "AB".repeat(20),
                dir_addr: closed,
            }],
            fallbacks: vec![
                Fallback {
                    rsa_identity: "CD".repeat(20),
                    ed_identity: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
                    orports: vec![closed],
                },
                Fallback {
                    rsa_identity: "EF".repeat(20),
                    ed_identity: "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE".to_string(),
                    orports: vec![silent_addr],
                },
            ],
            relax_permissions: true,
            ipv4_subnet_family_prefix: Some(33),
            allow_local_addrs: true,
        };
        // A guard against a hang only, far beyond the bootstrap timeout: not a timing check.
        let outcome =
            tokio::time::timeout(Duration::from_secs(300), ArtiTransport::bootstrap(&config))
                .await
                .expect("bootstrap hung past its own timeout");
        let err = outcome.expect_err("bootstrapped with no network");
        assert!(matches!(err, FetchError::Bootstrap { .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::TorUnhealthy);
        let message = err.to_string();
        assert!(message.contains("cannot bootstrap"), "{message}");
        assert!(message.contains("3s"), "the timeout is named: {message}");
        assert!(
            dir.path().join("arti/state").exists(),
            "state lives in the data directory"
        );
        hold.abort();
    }
}
