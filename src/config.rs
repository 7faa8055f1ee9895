//! The configuration file: what it may say, its defaults, and loading it with clear errors.
//!
//! `config/dnmscope.example.toml` lists every option commented out with its default; a test
//! below keeps the two in step.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use dnmscope_store::{Location, StoreOptions, Synchronous};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub politeness: PolitenessConfig,
    pub crawl: CrawlSettings,
    /// Markets by name: their onion hosts and any politeness overrides.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub markets: BTreeMap<String, MarketConfig>,
}

/// Which transport fetches pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Embedded Tor (arti).
    Arti,
    /// An external tor's SOCKS port (`fetch.socks_url`).
    Socks,
    /// Every market host to `fetch.loopback_addr`: the simulator, tests and demos only.
    Loopback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    pub transport: TransportKind,
    pub socks_url: String,
    pub loopback_addr: String,
    pub data_dir: String,
    pub account: String,
    pub bootstrap_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub first_byte_timeout_secs: u64,
    pub total_timeout_secs: u64,
    pub max_body_bytes: u64,
    pub max_redirects: u32,
    pub max_attempts: u32,
    pub backoff_ms: u64,
    /// Idle keep-alive connections (Tor streams) kept per market; 0 opens one per request.
    pub max_idle_connections: u32,
    /// An idle keep-alive connection older than this is closed rather than reused.
    pub idle_timeout_secs: u64,
    /// A custom Tor network for the arti transport instead of the public one: a private test
    /// network. Absent by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tor_network: Option<TorNetworkConfig>,
}

/// `[fetch.tor_network]`: the directory authorities and fallback caches of a custom Tor network
/// (for example a private one on loopback), and what arti needs to use such a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorNetworkConfig {
    pub authorities: Vec<AuthorityConfig>,
    pub fallbacks: Vec<FallbackConfig>,
    /// Relays whose IPv4 addresses share this many leading bits count as one family (arti's
    /// default: 16). 33 when every relay has the same address, as on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_subnet_family_prefix: Option<u8>,
    /// Accept relays on local addresses (127.0.0.0/8, private ranges).
    #[serde(default)]
    pub allow_local_addrs: bool,
    /// Accept a data directory others may write to (temporary directories in tests).
    #[serde(default)]
    pub relax_storage_permissions: bool,
}

/// A directory authority: `{ name, v3ident, address }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityConfig {
    pub name: String,
    /// 40 hex digits: the `fingerprint` line of the authority's `authority_certificate`.
    pub v3ident: String,
    /// IP:PORT of its directory port.
    pub address: String,
}

/// A fallback directory cache (a relay): `{ rsa_identity, ed_identity, orports }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    /// 40 hex digits: the relay's `fingerprint` file.
    pub rsa_identity: String,
    /// Base64 of 32 bytes: the relay's `fingerprint-ed25519` file.
    pub ed_identity: String,
    /// IP:PORT of its OR ports.
    pub orports: Vec<String>,
}

fn is_hex40(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Base64 (padding optional) of exactly 32 bytes: 43 characters, the last one holding only 4
/// bits.
fn is_base64_32(text: &str) -> bool {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.strip_suffix('=').unwrap_or(text);
    text.len() == 43
        && text.bytes().all(|b| ALPHABET.contains(&b))
        && text
            .bytes()
            .last()
            .and_then(|b| ALPHABET.iter().position(|&a| a == b))
            .is_some_and(|value| value & 0b11 == 0)
}

/// An IP:PORT (no host names: nothing may be resolved outside Tor).
fn socket_addr(text: &str, field: &str) -> anyhow::Result<std::net::SocketAddr> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{field} must be IP:PORT, not {text:?}"))
}

impl TorNetworkConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let at = "fetch.tor_network";
        if self.authorities.is_empty() {
            bail!(
                "{at}.authorities is empty: a custom Tor network needs its directory authorities"
            );
        }
        if self.fallbacks.is_empty() {
            bail!("{at}.fallbacks is empty: a custom Tor network needs fallback caches (relays) to bootstrap from");
        }
        for (i, authority) in self.authorities.iter().enumerate() {
            let field = format!("{at}.authorities[{i}]");
            if authority.name.trim().is_empty() {
                bail!("{field}.name is empty");
            }
            if !is_hex40(&authority.v3ident) {
                bail!(
                    "{field}.v3ident must be 40 hex digits (the fingerprint line of the authority's authority_certificate), not {:?}",
                    authority.v3ident
                );
            }
            socket_addr(&authority.address, &format!("{field}.address"))?;
        }
        for (i, fallback) in self.fallbacks.iter().enumerate() {
            let field = format!("{at}.fallbacks[{i}]");
            if !is_hex40(&fallback.rsa_identity) {
                bail!(
                    "{field}.rsa_identity must be 40 hex digits (the relay's fingerprint file), not {:?}",
                    fallback.rsa_identity
                );
            }
            if !is_base64_32(&fallback.ed_identity) {
                bail!(
                    "{field}.ed_identity must be the base64 of 32 bytes (the relay's fingerprint-ed25519 file), not {:?}",
                    fallback.ed_identity
                );
            }
            if fallback.orports.is_empty() {
                bail!("{field}.orports is empty");
            }
            for (j, port) in fallback.orports.iter().enumerate() {
                socket_addr(port, &format!("{field}.orports[{j}]"))?;
            }
        }
        if let Some(prefix) = self.ipv4_subnet_family_prefix {
            if prefix > 33 {
                bail!("{at}.ipv4_subnet_family_prefix is {prefix}; it runs from 0 to 33 (33: no two relays are one family by address)");
            }
        }
        Ok(())
    }
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        let limits = dnmscope_fetch::Limits::default();
        FetchConfig {
            transport: TransportKind::Arti,
            socks_url: "socks5h://127.0.0.1:9050".to_string(),
            loopback_addr: "127.0.0.1:8088".to_string(),
            data_dir: "dnmscope-data".to_string(),
            account: "default".to_string(),
            bootstrap_timeout_secs: 120,
            connect_timeout_secs: limits.connect_timeout.as_secs(),
            first_byte_timeout_secs: limits.first_byte_timeout.as_secs(),
            total_timeout_secs: limits.total_timeout.as_secs(),
            max_body_bytes: limits.max_body_bytes as u64,
            max_redirects: limits.max_redirects,
            max_attempts: limits.max_attempts,
            backoff_ms: limits.backoff.as_millis() as u64,
            max_idle_connections: limits.max_idle_connections as u32,
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            tor_network: None,
        }
    }
}

impl FetchConfig {
    pub fn limits(&self) -> dnmscope_fetch::Limits {
        dnmscope_fetch::Limits {
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            first_byte_timeout: Duration::from_secs(self.first_byte_timeout_secs),
            total_timeout: Duration::from_secs(self.total_timeout_secs),
            max_body_bytes: self.max_body_bytes as usize,
            max_redirects: self.max_redirects,
            max_attempts: self.max_attempts,
            backoff: Duration::from_millis(self.backoff_ms),
            max_idle_connections: self.max_idle_connections as usize,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        }
    }
}

/// Politeness for every market unless the market says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolitenessConfig {
    pub requests_per_minute: u32,
    pub jitter_ms: u64,
    pub max_concurrent: u32,
    pub ban_pause_secs: u64,
    pub max_slowdown_secs: u64,
}

impl Default for PolitenessConfig {
    fn default() -> PolitenessConfig {
        let p = dnmscope_fetch::Politeness::default();
        PolitenessConfig {
            requests_per_minute: p.requests_per_minute,
            jitter_ms: p.jitter.as_millis() as u64,
            max_concurrent: p.max_concurrent,
            ban_pause_secs: p.ban_pause.as_secs(),
            max_slowdown_secs: p.max_slowdown.as_secs(),
        }
    }
}

/// How `dnmscope crawl` behaves (every market unless the market says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlSettings {
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_delay_secs: u64,
    pub ban_pause_secs: u64,
    pub login_pause_secs: u64,
    pub unreachable_after: u32,
    pub max_pages: u64,
    pub max_depth: u32,
    pub status_every_secs: u64,
    pub pseudonym_key_file: String,
    pub definitions_dir: String,
}

impl Default for CrawlSettings {
    fn default() -> CrawlSettings {
        CrawlSettings {
            concurrency: 8,
            max_attempts: 4,
            retry_delay_secs: 30,
            ban_pause_secs: 1800,
            login_pause_secs: 600,
            unreachable_after: 5,
            max_pages: 50_000,
            max_depth: 20,
            status_every_secs: 30,
            pseudonym_key_file: String::new(),
            definitions_dir: String::new(),
        }
    }
}

/// One market.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// Onion host names, the main one first.
    pub hosts: Vec<String>,
    pub requests_per_minute: Option<u32>,
    pub max_concurrent: Option<u32>,
    /// The market definition that parses its pages (built in or in crawl.definitions_dir)
    /// [default: the market's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Where each run starts [default: the main host's front page].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Query parameters that carry a session and are removed from URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_params: Vec<String>,
}

impl Config {
    /// The markets as the fetcher wants them.
    pub fn market_specs(&self) -> anyhow::Result<Vec<dnmscope_fetch::MarketSpec>> {
        let p = &self.politeness;
        self.markets
            .iter()
            .map(|(name, market)| {
                Ok(dnmscope_fetch::MarketSpec {
                    name: dnmscope_model::MarketName::new(name)
                        .with_context(|| format!("market name {name:?}"))?,
                    hosts: market.hosts.clone(),
                    politeness: dnmscope_fetch::Politeness {
                        requests_per_minute: market
                            .requests_per_minute
                            .unwrap_or(p.requests_per_minute),
                        jitter: Duration::from_millis(p.jitter_ms),
                        max_concurrent: market.max_concurrent.unwrap_or(p.max_concurrent),
                        ban_pause: Duration::from_secs(p.ban_pause_secs),
                        max_slowdown: Duration::from_secs(p.max_slowdown_secs),
                    },
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A SQLite file path, sqlite://PATH, or postgres://URL.
    pub location: String,
    pub busy_timeout_ms: u64,
    pub synchronous: Synchronous,
    pub max_connections: u32,
    pub postgres_schema: String,
    pub compression_level: i32,
    /// Compress raw bodies with per-market dictionaries trained on each market's own pages.
    pub raw_dictionaries: bool,
    /// The raw-body key file [default: fetch.data_dir/raw.key].
    pub raw_key_file: String,
    /// Encrypt the raw bodies of new stores (on by default).
    pub encrypt_raw: bool,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            location: "dnmscope.sqlite".to_string(),
            busy_timeout_ms: 5000,
            synchronous: Synchronous::Normal,
            max_connections: 4,
            postgres_schema: "public".to_string(),
            compression_level: 6,
            raw_dictionaries: true,
            raw_key_file: String::new(),
            encrypt_raw: true,
        }
    }
}

impl StoreConfig {
    pub fn options(&self, location: Location) -> StoreOptions {
        let mut options = StoreOptions::new(location);
        options.busy_timeout = Duration::from_millis(self.busy_timeout_ms);
        options.synchronous = self.synchronous;
        options.max_connections = self.max_connections;
        options.postgres_schema = Some(self.postgres_schema.clone());
        options.compression_level = self.compression_level;
        options.raw_dictionaries = self.raw_dictionaries;
        options.encrypt_new_stores = self.encrypt_raw;
        options
    }
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        Config::parse(&text)
            .with_context(|| format!("in the configuration file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Every duration and count has a documented maximum (README, "Configuration"): a value
    /// past it is a typo or an attack on the arithmetic, and is an error naming the key.
    fn check_ranges(&self) -> anyhow::Result<()> {
        const DAY: u64 = 86_400;
        let f = &self.fetch;
        let p = &self.politeness;
        let c = &self.crawl;
        let checks: [(&str, u64, u64); 21] = [
            (
                "fetch.bootstrap_timeout_secs",
                f.bootstrap_timeout_secs,
                3_600,
            ),
            ("fetch.connect_timeout_secs", f.connect_timeout_secs, 3_600),
            (
                "fetch.first_byte_timeout_secs",
                f.first_byte_timeout_secs,
                3_600,
            ),
            ("fetch.total_timeout_secs", f.total_timeout_secs, 3_600),
            ("fetch.max_body_bytes", f.max_body_bytes, 1 << 30),
            ("fetch.max_redirects", u64::from(f.max_redirects), 20),
            ("fetch.max_attempts", u64::from(f.max_attempts), 100),
            ("fetch.backoff_ms", f.backoff_ms, 3_600_000),
            (
                "fetch.max_idle_connections",
                u64::from(f.max_idle_connections),
                256,
            ),
            ("fetch.idle_timeout_secs", f.idle_timeout_secs, 3_600),
            (
                "politeness.requests_per_minute",
                u64::from(p.requests_per_minute),
                6_000,
            ),
            ("politeness.jitter_ms", p.jitter_ms, 3_600_000),
            (
                "politeness.max_concurrent",
                u64::from(p.max_concurrent),
                256,
            ),
            ("politeness.ban_pause_secs", p.ban_pause_secs, 7 * DAY),
            ("politeness.max_slowdown_secs", p.max_slowdown_secs, DAY),
            ("crawl.concurrency", c.concurrency as u64, 1_024),
            ("crawl.max_attempts", u64::from(c.max_attempts), 100),
            ("crawl.retry_delay_secs", c.retry_delay_secs, DAY),
            ("crawl.ban_pause_secs", c.ban_pause_secs, 7 * DAY),
            ("crawl.login_pause_secs", c.login_pause_secs, 7 * DAY),
            ("crawl.status_every_secs", c.status_every_secs, DAY),
        ];
        for (key, value, max) in checks {
            if value > max {
                bail!("{key} is {value}; the most it may be is {max}");
            }
        }
        if u64::from(c.unreachable_after) > 1_000 {
            bail!(
                "crawl.unreachable_after is {}; the most it may be is 1000",
                c.unreachable_after
            );
        }
        if c.max_depth > 1_000 {
            bail!(
                "crawl.max_depth is {}; the most it may be is 1000",
                c.max_depth
            );
        }
        if self.store.busy_timeout_ms > 3_600_000 {
            bail!(
                "store.busy_timeout_ms is {}; the most it may be is 3600000",
                self.store.busy_timeout_ms
            );
        }
        for (name, market) in &self.markets {
            let per_market = [
                (
                    "requests_per_minute",
                    market.requests_per_minute.map(u64::from),
                    6_000,
                ),
                ("max_concurrent", market.max_concurrent.map(u64::from), 256),
                ("max_depth", market.max_depth.map(u64::from), 1_000),
            ];
            for (key, value, max) in per_market {
                if let Some(value) = value.filter(|v| *v > max) {
                    bail!("markets.{name}.{key} is {value}; the most it may be is {max}");
                }
            }
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        let store = &self.store;
        if !(1..=22).contains(&store.compression_level) {
            bail!(
                "store.compression_level is {}; zstd levels run from 1 to 22",
                store.compression_level
            );
        }
        if store.max_connections == 0 {
            bail!("store.max_connections must be at least 1");
        }
        Location::parse(&store.location).context("store.location")?;
        if self.fetch.transport == TransportKind::Socks
            || self.fetch.socks_url != FetchConfig::default().socks_url
        {
            dnmscope_fetch::SocksTransport::new(
                &self.fetch.socks_url,
                std::sync::Arc::new(dnmscope_fetch::LiteralResolver),
            )
            .context("fetch.socks_url")?;
        }
        if let Some(network) = &self.fetch.tor_network {
            network.validate()?;
        }
        if self.politeness.requests_per_minute == 0 {
            bail!("politeness.requests_per_minute must be at least 1");
        }
        self.check_ranges()?;
        let c = &self.crawl;
        if c.concurrency == 0 {
            bail!("crawl.concurrency must be at least 1");
        }
        if c.max_attempts == 0 {
            bail!("crawl.max_attempts must be at least 1");
        }
        if c.unreachable_after == 0 {
            bail!("crawl.unreachable_after must be at least 1");
        }
        if c.status_every_secs == 0 {
            bail!("crawl.status_every_secs must be at least 1");
        }
        for (name, market) in &self.markets {
            if market.hosts.is_empty() {
                bail!("markets.{name}.hosts is empty");
            }
            for seed in &market.seeds {
                let url = url::Url::parse(seed)
                    .with_context(|| format!("markets.{name}.seeds: {seed:?} is not a URL"))?;
                let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
                if !market.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
                    bail!(
                        "markets.{name}.seeds: {seed} is not on one of the market's hosts ({})",
                        market.hosts.join(", ")
                    );
                }
            }
            if market.max_pages == Some(0) {
                bail!("markets.{name}.max_pages must be at least 1");
            }
            if market.requests_per_minute == Some(0) {
                bail!("markets.{name}.requests_per_minute must be at least 1");
            }
        }
        self.market_specs()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../config/dnmscope.example.toml");

    /// The example with every commented-out option (`# key = value`) switched on.
    fn uncommented(example: &str) -> String {
        example
            .lines()
            .map(|line| {
                let Some(rest) = line.strip_prefix("# ") else {
                    return line.to_string();
                };
                let key: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !key.is_empty() && rest[key.len()..].starts_with(" = ") {
                    rest.to_string()
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_example_lists_every_option_with_its_default() {
        let switched_on = uncommented(EXAMPLE);
        let parsed = Config::parse(&switched_on).expect("the example parses with every option on");
        assert_eq!(
            parsed,
            Config::default(),
            "an option's default differs from the code's"
        );
        // Key for key: an option missing from the example would still parse to the default.
        let example: toml::Value = toml::from_str(&switched_on).unwrap();
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        assert_eq!(
            example, defaults,
            "the example and the code list different options"
        );
        // And as shipped, every option is commented out: the example changes nothing.
        assert_eq!(Config::parse(EXAMPLE).unwrap(), Config::default());
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        let err = Config::parse("[store]\nlocaton = \"x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("locaton"), "{err:#}");
        let err = Config::parse("[store]\ncompression_level = 40\n").unwrap_err();
        assert!(format!("{err:#}").contains("compression_level"), "{err:#}");
        let err = Config::parse("[store]\nsynchronous = \"sometimes\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("sometimes"), "{err:#}");
        let err = Config::parse("[fetch]\nsocks_url = \"socks5://127.0.0.1:9050\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("socks5h"), "{err:#}");
        let err = Config::parse("[store]\nlocation = \"mysql://x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("store.location"), "{err:#}");
    }

    #[test]
    fn out_of_range_numbers_are_errors_naming_the_key() {
        for (text, key) in [
            (
                "[fetch]\ntotal_timeout_secs = 9223372036854775807\n",
                "fetch.total_timeout_secs",
            ),
            (
                "[fetch]\nbackoff_ms = 9223372036854775807\n",
                "fetch.backoff_ms",
            ),
            ("[fetch]\nmax_attempts = 4000000000\n", "fetch.max_attempts"),
            (
                "[politeness]\nban_pause_secs = 99999999999\n",
                "politeness.ban_pause_secs",
            ),
            (
                "[crawl]\nretry_delay_secs = 9223372036854775807\n",
                "crawl.retry_delay_secs",
            ),
            ("[crawl]\nconcurrency = 100000\n", "crawl.concurrency"),
            (
                "[store]\nbusy_timeout_ms = 9223372036854775807\n",
                "store.busy_timeout_ms",
            ),
            (
                "[markets.m]\nhosts = [\"m.onion\"]\nmax_concurrent = 100000\n",
                "markets.m.max_concurrent",
            ),
        ] {
            let err = format!("{:#}", Config::parse(text).unwrap_err());
            assert!(
                err.contains(key) && err.contains("the most it may be"),
                "{text}: {err}"
            );
        }
        // The maxima themselves are accepted.
        Config::parse("[fetch]\ntotal_timeout_secs = 3600\n[crawl]\nban_pause_secs = 604800\n")
            .unwrap();
    }

    const AUTHORITY: &str = r#"{ name = "auth0", v3ident = "0123456789ABCDEF0123456789ABCDEF01234567", address = "127.0.0.1:7000" }"#;
    const FALLBACK: &str = r#"{ rsa_identity = "89ABCDEF0123456789ABCDEF0123456789ABCDEF", ed_identity = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", orports = ["127.0.0.1:5000"] }"#;

    fn network(authority: &str, fallback: &str, extra: &str) -> anyhow::Result<Config> {
        Config::parse(&format!(
            "[fetch.tor_network]\nauthorities = [{authority}]\nfallbacks = [{fallback}]\n{extra}"
        ))
    }

    #[test]
    fn a_custom_tor_network_is_read_and_checked_field_by_field() {
        let config = network(
            AUTHORITY,
            FALLBACK,
            "ipv4_subnet_family_prefix = 33\nallow_local_addrs = true\nrelax_storage_permissions = true\n",
        )
        .unwrap();
        let tor = config.fetch.tor_network.expect("the network is read");
        assert_eq!(tor.authorities[0].name, "auth0");
        assert_eq!(tor.fallbacks[0].orports, ["127.0.0.1:5000"]);
        assert_eq!(tor.ipv4_subnet_family_prefix, Some(33));
        assert!(tor.allow_local_addrs && tor.relax_storage_permissions);
        // Without the table, the public Tor network.
        assert_eq!(Config::parse("").unwrap().fetch.tor_network, None);

        let cases = [
            (
                network(
                    &AUTHORITY.replace("0123456789ABCDEF0123", "xyz"),
                    FALLBACK,
                    "",
                ),
                "fetch.tor_network.authorities[0].v3ident",
            ),
            (
                network(
                    &AUTHORITY.replace("127.0.0.1:7000", "auth.example:7000"),
                    FALLBACK,
                    "",
                ),
                "fetch.tor_network.authorities[0].address must be IP:PORT",
            ),
            (
                network(&AUTHORITY.replace("\"auth0\"", "\" \""), FALLBACK, ""),
                "fetch.tor_network.authorities[0].name is empty",
            ),
            (
                network(AUTHORITY, &FALLBACK.replace("89ABCDEF01", "89"), ""),
                "fetch.tor_network.fallbacks[0].rsa_identity",
            ),
            (
                network(AUTHORITY, &FALLBACK.replace("AQEBAQEB", "AQEB"), ""),
                "fetch.tor_network.fallbacks[0].ed_identity",
            ),
            (
                network(
                    AUTHORITY,
                    &FALLBACK.replace("127.0.0.1:5000", "127.0.0.1"),
                    "",
                ),
                "fetch.tor_network.fallbacks[0].orports[0] must be IP:PORT",
            ),
            (
                network(AUTHORITY, &FALLBACK.replace("\"127.0.0.1:5000\"", ""), ""),
                "fetch.tor_network.fallbacks[0].orports is empty",
            ),
            (
                network("", FALLBACK, ""),
                "fetch.tor_network.authorities is empty",
            ),
            (
                network(AUTHORITY, "", ""),
                "fetch.tor_network.fallbacks is empty",
            ),
            (
                network(AUTHORITY, FALLBACK, "ipv4_subnet_family_prefix = 40\n"),
                "fetch.tor_network.ipv4_subnet_family_prefix",
            ),
            (
                network(AUTHORITY, FALLBACK, "allow_local = true\n"),
                "allow_local",
            ),
        ];
        for (outcome, expected) in cases {
            let err = outcome.expect_err(expected);
            assert!(format!("{err:#}").contains(expected), "{expected}: {err:#}");
        }
    }
}
