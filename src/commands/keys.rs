//! The keys dnmscope keeps apart from the data: the pseudonym key (forum and feedback authors
//! who are not vendors) and the raw-body key (raw pages encrypted at rest). Each is a file of 64
//! hexadecimal digits, created (random, readable by the owner only) on first use. Neither key
//! is ever printed or logged; only the raw key's id (a digest) is.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dnmscope_model::PseudonymKey;
use dnmscope_store::RawKey;

use crate::config::Config;

/// Where a key lives: its configured file, or `data_dir/DEFAULT_NAME`.
fn key_path(config: &Config, configured: &str, default_name: &str) -> PathBuf {
    if configured.is_empty() {
        Path::new(&config.fetch.data_dir).join(default_name)
    } else {
        PathBuf::from(configured)
    }
}

/// Reads a key file; with `create`, makes a missing one first. `None`: missing, not created.
fn key_file(path: &Path, what: &str, create: bool) -> anyhow::Result<Option<[u8; 32]>> {
    if !path.exists() {
        if !create {
            return Ok(None);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let key: [u8; 32] = rand::random();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .with_context(|| format!("creating the {what} {}", path.display()))?;
        std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(key)).as_bytes())
            .with_context(|| format!("writing the {what} {}", path.display()))?;
        eprintln!(
            "created the {what} {} (keep it, and keep it apart from the data)",
            path.display()
        );
    }
    // A key file is 64 hex digits and a newline: read no more than a page of it (a path to a
    // device or a huge file is refused, not read to the end).
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path)
                .with_context(|| format!("opening the {what} {}", path.display()))?,
            4096,
        ),
        &mut text,
    )
    .with_context(|| format!("reading the {what} {}", path.display()))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        anyhow::anyhow!(
            "the {what} {} must be 64 hexadecimal digits",
            path.display()
        )
    })?;
    Ok(Some(key))
}

/// The key that pseudonymises forum authors: crawl.pseudonym_key_file, or
/// data_dir/pseudonym.key, created on first use.
pub fn pseudonym_key(config: &Config) -> anyhow::Result<PseudonymKey> {
    let path = key_path(config, &config.crawl.pseudonym_key_file, "pseudonym.key");
    let key = key_file(&path, "pseudonym key", true)?.expect("a created key file");
    Ok(PseudonymKey::from_bytes(key))
}

/// The pseudonym key if its file exists (for exports, which never create one).
pub fn existing_pseudonym_key(config: &Config) -> anyhow::Result<Option<PseudonymKey>> {
    let path = key_path(config, &config.crawl.pseudonym_key_file, "pseudonym.key");
    Ok(key_file(&path, "pseudonym key", false)?.map(PseudonymKey::from_bytes))
}

/// The key raw bodies are encrypted with: store.raw_key_file, or data_dir/raw.key. A command
/// that writes raw pages (`create`) makes it when it is missing and store.encrypt_raw is on;
/// others read it when it is there.
pub fn raw_key(config: &Config, create: bool) -> anyhow::Result<Option<RawKey>> {
    let path = key_path(config, &config.store.raw_key_file, "raw.key");
    let key = key_file(&path, "raw-body key", create && config.store.encrypt_raw)?;
    Ok(key.map(RawKey::from_bytes))
}
