//! `dnmscope fetch`, `session import` and `export warc` as a user runs them, against
//! `dnmscope sim serve --open` over the loopback transport (nothing leaves 127.0.0.1), and the
//! configurations and arguments they must refuse.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

/// A running `dnmscope sim serve --open`, killed when dropped.
pub(crate) struct Sim {
    child: Child,
    pub(crate) addr: String,
    /// Each market's name (lower-case) and its first host, as the simulator printed them.
    pub(crate) markets: Vec<(String, String)>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dnmscope sim serve --open` on `addr` with `extra` arguments.
pub(crate) fn serve_sim_at(dir: &Path, addr: &str, extra: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args([
            "-q",
            "sim",
            "serve",
            "--vendors",
            "20",
            "--open",
            "--day",
            "3",
            "--addr",
            addr,
        ])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the simulator");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .next()
        .expect("the simulator printed nothing (see its arguments)")
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    let mut markets = Vec::new();
    let mut current: Option<String> = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("reach a market") {
            break;
        }
        let trimmed = line.trim();
        if let Some(host) = trimmed.strip_prefix("http://") {
            if let Some(name) = current.take() {
                markets.push((name, host.trim_end_matches('/').to_owned()));
            }
        } else if trimmed.ends_with("skin):") {
            // The configuration wants lower-case market names; the simulator routes by host.
            current = trimmed
                .split_whitespace()
                .next()
                .map(str::to_ascii_lowercase);
        }
    }
    assert!(!markets.is_empty(), "the simulator printed no market");
    // Keep reading: a closed pipe would kill the simulator at its next line of output.
    std::thread::spawn(move || lines.for_each(drop));
    Sim {
        child,
        addr,
        markets,
    }
}

fn serve_sim(dir: &Path) -> Sim {
    serve_sim_at(dir, "127.0.0.1:0", &[])
}

/// A configuration with the loopback transport sending every market's host to `addr`.
fn loopback_config(dir: &Path, addr: &str, markets: &[(String, String)]) -> String {
    let mut text = format!(
        "[fetch]\ntransport = \"loopback\"\nloopback_addr = \"{addr}\"\ndata_dir = \"{}\"\n\
         max_attempts = 1\n\n[politeness]\nrequests_per_minute = 6000\njitter_ms = 0\n",
        dir.join("data").display()
    );
    for (name, host) in markets {
        text.push_str(&format!("\n[markets.{name}]\nhosts = [\"{host}\"]\n"));
    }
    let path = dir.join("dnmscope.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Where `warcio` is: `DNMSCOPE_WARCIO` (set by `.ci/run`), else the CI venv, else `PATH`.
pub(crate) fn warcio() -> Option<String> {
    if let Ok(path) = std::env::var("DNMSCOPE_WARCIO") {
        return Some(path);
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/warcio");
    if Path::new(venv).exists() {
        return Some(venv.to_owned());
    }
    Command::new("warcio")
        .arg("--help")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "warcio".to_owned())
}

#[test]
fn fetch_stores_a_simulator_page_and_export_writes_it_as_warc() {
    let dir = tempfile::tempdir().unwrap();
    let sim = serve_sim(dir.path());
    let config = loopback_config(dir.path(), &sim.addr, &sim.markets);
    let (market, host) = &sim.markets[0];
    let migrate = dnmscope(dir.path(), &["--db", "s.sqlite", "db", "migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));

    let url = format!("http://{host}/categories");
    let output = dnmscope(
        dir.path(),
        &[
            "--config", &config, "--db", "s.sqlite", "fetch", &url, "--market", market, "--store",
        ],
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains("status: 200"), "{out}");
    assert!(out.contains("content-type: text/html"), "{out}");
    assert!(out.contains("title: "), "{out}");
    assert!(out.contains("stored: capture 1 (new)"), "{out}");
    let bytes: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("bytes: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {out}"));
    assert!(bytes > 0, "{out}");
    assert!(!out.contains("truncated"), "{out}");

    // Without --store nothing more is stored; the page is still fetched and summarised.
    let again = dnmscope(
        dir.path(),
        &["--config", &config, "fetch", &url, "--market", market],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("status: 200"));
    assert!(!stdout(&again).contains("stored:"));

    let export = dnmscope(
        dir.path(),
        &["--db", "s.sqlite", "export", "warc", "--out", "out.warc"],
    );
    // The raw-body key is in the configuration's data directory: without it, a clear error.
    assert!(!export.status.success());
    assert!(
        stderr(&export).contains("needs the raw-body key"),
        "{}",
        stderr(&export)
    );
    let export = dnmscope(
        dir.path(),
        &[
            "--config", &config, "--db", "s.sqlite", "export", "warc", "--out", "out.warc",
        ],
    );
    assert!(export.status.success(), "{}", stderr(&export));
    assert!(stdout(&export).contains("out.warc"), "{}", stdout(&export));
    let warc = std::fs::read(dir.path().join("out.warc")).unwrap();
    let text = String::from_utf8_lossy(&warc);
    assert!(text.starts_with("WARC/1.1\r\n"), "{text}");
    assert!(text.contains("WARC-Type: warcinfo"));
    assert!(text.contains("WARC-Type: response"));
    assert!(
        text.contains(&format!("WARC-Target-URI: {url}")),
        "the capture's URL is in the file"
    );
    match warcio() {
        Some(warcio) => {
            let check = Command::new(&warcio)
                .args(["check", "-v"])
                .arg(dir.path().join("out.warc"))
                .output()
                .expect("running warcio");
            assert!(
                check.status.success(),
                "warcio check failed: {}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        None => crate::cli::tool_missing(
            "warcio is not installed (.ci/run installs it into .ci/venv): the WARC file was not checked by warcio",
        ),
    }

    // Only one crawl's captures: the stored fetch was crawl 1; there is no crawl 2.
    let none = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "--db",
            "s.sqlite",
            "export",
            "warc",
            "--out",
            "none.warc",
            "--crawl",
            "2",
        ],
    );
    assert!(none.status.success(), "{}", stderr(&none));
    assert!(
        stdout(&none).contains("wrote 1 records"),
        "{}",
        stdout(&none)
    );
}

#[test]
fn session_import_keeps_cookies_private_and_never_prints_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let markets = vec![
        ("alpha".to_owned(), "alphaaaa.onion".to_owned()),
        ("beta".to_owned(), "betaaaaa.onion".to_owned()),
    ];
    let config = loopback_config(dir.path(), "127.0.0.1:9", &markets);
    std::fs::write(
        dir.path().join("cookies.txt"),
        "# Netscape HTTP Cookie File\n\
         alphaaaa.onion\tFALSE\t/\tFALSE\t0\tsession\tVERYSECRETVALUE1\n\
         #HttpOnly_.alphaaaa.onion\tTRUE\t/\tFALSE\t4102444800\tcsrf\tVERYSECRETVALUE2\n\
         other.onion\tFALSE\t/\tFALSE\t0\tforeign\tVERYSECRETVALUE3\n",
    )
    .unwrap();
    let output = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "-vv",
            "session",
            "import",
            "--market",
            "alpha",
            "cookies.txt",
        ],
    );
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.contains("imported 2 of 3 cookies"), "{out}");
    assert!(out.contains("session") && out.contains("csrf"), "{out}");
    assert!(
        !out.contains("VERYSECRET") && !err.contains("VERYSECRET"),
        "a cookie value was printed: {out}\n{err}"
    );

    let saved = dir.path().join("data/sessions/alpha.default.cookies.txt");
    let kept = std::fs::read_to_string(&saved).unwrap();
    assert!(kept.contains("VERYSECRETVALUE1") && kept.contains("VERYSECRETVALUE2"));
    assert!(
        !kept.contains("VERYSECRETVALUE3"),
        "another host's cookie kept"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the session file is readable by others");
    }

    // A file with no cookie for the market's hosts is refused, and nothing is written.
    let refused = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "session",
            "import",
            "--market",
            "beta",
            "cookies.txt",
        ],
    );
    assert_clean_failure(&refused);
    let err = stderr(&refused);
    assert!(err.contains("betaaaaa.onion"), "{err}");
    assert!(!err.contains("VERYSECRET"), "{err}");
    assert!(!dir
        .path()
        .join("data/sessions/beta.default.cookies.txt")
        .exists());

    let unknown = dnmscope(
        dir.path(),
        &[
            "--config",
            &config,
            "session",
            "import",
            "--market",
            "gamma",
            "cookies.txt",
        ],
    );
    assert_clean_failure(&unknown);
    assert!(stderr(&unknown).contains("gamma"), "{}", stderr(&unknown));
}

#[test]
fn a_socks_proxy_that_resolves_names_outside_tor_is_refused_with_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        ("socks5://127.0.0.1:9050", "socks5h"),
        ("socks4://127.0.0.1:9050", "socks5h"),
        ("socks5h://proxy.example:9050", "IP address"),
    ] {
        std::fs::write(
            dir.path().join("socks.toml"),
            format!(
                "[fetch]\ntransport = \"socks\"\nsocks_url = \"{url}\"\n\n\
                 [markets.alpha]\nhosts = [\"alphaaaa.onion\"]\n"
            ),
        )
        .unwrap();
        for args in [
            &["fetch", "http://alphaaaa.onion/", "--market", "alpha"][..],
            &["doctor"][..],
        ] {
            let mut all = vec!["--config", "socks.toml"];
            all.extend_from_slice(args);
            let output = dnmscope(dir.path(), &all);
            assert_clean_failure(&output);
            let err = stderr(&output);
            assert!(err.contains("fetch.socks_url"), "{url}: {err}");
            assert!(err.contains(why), "{url} should explain {why}: {err}");
        }
    }
}

#[test]
fn a_bad_url_or_an_unknown_market_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let markets = vec![("alpha".to_owned(), "alphaaaa.onion".to_owned())];
    // Nothing listens on port 9 of loopback: every refusal below must come before connecting.
    let config = loopback_config(dir.path(), "127.0.0.1:9", &markets);
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str(), "fetch"];
        all.extend_from_slice(args);
        let output = dnmscope(dir.path(), &all);
        assert_clean_failure(&output);
        stderr(&output)
    };
    let err = run(&["http://alphaaaa.onion/", "--market", "gamma"]);
    assert!(
        err.contains("gamma") && err.contains("[markets.gamma]"),
        "{err}"
    );
    let err = run(&["not a url", "--market", "alpha"]);
    assert!(err.contains("not a url"), "{err}");
    let err = run(&["http://elsewhere.onion/", "--market", "alpha"]);
    assert!(err.contains("elsewhere.onion"), "{err}");
    let err = run(&["ftp://alphaaaa.onion/", "--market", "alpha"]);
    assert!(err.contains("ftp"), "{err}");
    // The crawler only reads, and so does `fetch`: actions are refused before any connection,
    // however their path is spelled.
    for action in [
        "http://alphaaaa.onion/listing/7/buy",
        "http://alphaaaa.onion/log%6Fut",
        "http://alphaaaa.onion/%62uy/1",
        "http://alphaaaa.onion/account/logoff",
        "http://alphaaaa.onion/index.php?p=logout&t=x",
    ] {
        let err = run(&[action, "--market", "alpha"]);
        assert!(
            err.contains("refusing to fetch") && err.contains("state-changing"),
            "{action}: {err}"
        );
    }
}
