//! The configuration file: what it may say, its defaults, and loading it with clear errors.
//!
//! `config/dnmscope.example.toml` lists every option commented out with its default; a test
//! below keeps the two in step.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use dnmscope_store::{Location, StoreOptions, Synchronous};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
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
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            location: "dnmscope.sqlite".to_string(),
            busy_timeout_ms: 5000,
            synchronous: Synchronous::Normal,
            max_connections: 4,
            postgres_schema: "public".to_string(),
            compression_level: 3,
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
        let err = Config::parse("[store]\nlocation = \"mysql://x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("store.location"), "{err:#}");
    }
}
