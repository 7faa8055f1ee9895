//! `dnmscope export` and `dnmscope report` on a store the demo crawled: the exports opened by
//! pandas and pyarrow, the report opened by headless Chromium.
//!
//! Python comes from `DNMSCOPE_PYTHON` (set by `.ci/run` once pandas and pyarrow are installed in
//! `.ci/venv`), else `.ci/venv/bin/python`; Chromium from `DNMSCOPE_CHROMIUM`, else `chromium` on
//! the PATH. Without them the checks they make are skipped with a message saying so; a tool
//! that is named but does not work fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cli::{assert_clean_failure, dnmscope, stderr, stdout};

/// A store the demo crawled (two snapshots, the first market seized in the second), shared by
/// the tests of this module.
fn demo_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let output = dnmscope(
                dir.path(),
                &[
                    "demo",
                    "--db",
                    "demo.sqlite",
                    "--days",
                    "2",
                    "--every",
                    "40",
                    "--vendors",
                    "12",
                ],
            );
            assert!(output.status.success(), "{}", stderr(&output));
            dir
        })
        .path()
}

fn db() -> String {
    demo_store().join("demo.sqlite").display().to_string()
}

/// A tool given by `variable`, else the first of `fallbacks` that exists or runs.
fn tool(variable: &str, fallbacks: &[&str], probe: &[&str]) -> Option<(PathBuf, bool)> {
    if let Ok(path) = std::env::var(variable) {
        if !path.trim().is_empty() {
            return Some((PathBuf::from(path), true));
        }
    }
    fallbacks.iter().find_map(|candidate| {
        let ok = Command::new(candidate)
            .args(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| (PathBuf::from(candidate), false))
    })
}

pub(crate) fn python() -> Option<PathBuf> {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    match tool(
        "DNMSCOPE_PYTHON",
        &[venv],
        &["-c", "import pandas, pyarrow"],
    ) {
        Some((path, named)) => {
            if named {
                let check = Command::new(&path)
                    .args(["-c", "import pandas, pyarrow"])
                    .output()
                    .unwrap_or_else(|e| panic!("DNMSCOPE_PYTHON={}: {e}", path.display()));
                assert!(
                    check.status.success(),
                    "DNMSCOPE_PYTHON={} cannot import pandas and pyarrow: {}",
                    path.display(),
                    stderr(&check)
                );
            }
            Some(path)
        }
        None => {
            crate::cli::tool_missing(
                "no Python with pandas and pyarrow (set DNMSCOPE_PYTHON or run .ci/run, \
                 which installs them into .ci/venv): the exports were not opened in pandas",
            );
            None
        }
    }
}

fn chromium() -> Option<PathBuf> {
    match tool(
        "DNMSCOPE_CHROMIUM",
        &["chromium", "chromium-browser"],
        &["--version"],
    ) {
        Some((path, _)) => Some(path),
        None => {
            crate::cli::tool_missing(
                "chromium is not installed (apt-get install chromium, as .ci/run does; \
                 or set DNMSCOPE_CHROMIUM): the report was not opened in a browser",
            );
            None
        }
    }
}

#[test]
fn exports_open_in_pandas_and_pyarrow_with_the_documented_columns_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let db = db();
    let python = python();
    for format in ["csv", "jsonl", "parquet"] {
        let out = dir.path().join(format);
        let out_text = out.display().to_string();
        let output = dnmscope(
            dir.path(),
            &[
                "export", "--db", &db, "--format", format, "--out", &out_text,
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("SHA256SUMS"),
            "{}",
            stdout(&output)
        );
        for file in [
            "data_dictionary.json",
            "data_dictionary.md",
            "datasheet.md",
            "SHA256SUMS",
        ] {
            assert!(out.join(file).is_file(), "{format}: {file} missing");
        }
        for table in [
            "tables/listing_observations_view",
            "tables/crawl_accounting_view",
            "tables/markets",
            "indicators/crawl_completeness",
        ] {
            let path = out.join(format!("{table}.{format}"));
            assert!(path.is_file(), "{} missing", path.display());
        }
        let datasheet = std::fs::read_to_string(out.join("datasheet.md")).unwrap();
        for heading in [
            "## 1. Motivation",
            "## 2. Composition",
            "## 3. Collection process",
            "## 4. Preprocessing, cleaning, labeling",
            "## 5. Uses",
            "## 6. Distribution",
            "## 7. Maintenance",
            "| nightshade |",
            "seizure_banner",
            "nightshade@",
            "HMAC",
        ] {
            assert!(datasheet.contains(heading), "datasheet lacks {heading}");
        }
        let Some(python) = &python else { continue };
        let check = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/report/check_export.py"
            ))
            .arg(&out)
            .arg(format)
            .output()
            .expect("running the Python check");
        assert!(
            check.status.success(),
            "{format}: pandas/pyarrow check failed:\n{}{}",
            stdout(&check),
            stderr(&check)
        );
        assert!(
            stdout(&check).starts_with("ok: 58 tables"),
            "{}",
            stdout(&check)
        );
    }
}

#[test]
fn export_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = db();
    let missing = dnmscope(
        dir.path(),
        &[
            "export",
            "--db",
            "nope.sqlite",
            "--format",
            "csv",
            "--out",
            "x",
        ],
    );
    assert_clean_failure(&missing);
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );

    let unknown = dnmscope(
        dir.path(),
        &["export", "--db", &db, "--format", "xlsx", "--out", "x"],
    );
    assert_clean_failure(&unknown);
    assert!(
        stderr(&unknown).contains("unknown export format \"xlsx\""),
        "{}",
        stderr(&unknown)
    );

    std::fs::write(dir.path().join("a-file"), b"").unwrap();
    let unwritable = dnmscope(
        dir.path(),
        &[
            "export",
            "--db",
            &db,
            "--format",
            "csv",
            "--out",
            "a-file/out",
        ],
    );
    assert_clean_failure(&unwritable);
    assert!(
        stderr(&unwritable).contains("a-file/out"),
        "{}",
        stderr(&unwritable)
    );

    std::fs::create_dir(dir.path().join("full")).unwrap();
    std::fs::write(dir.path().join("full/old.csv"), b"").unwrap();
    let full = dnmscope(
        dir.path(),
        &["export", "--db", &db, "--format", "csv", "--out", "full"],
    );
    assert_clean_failure(&full);
    assert!(
        stderr(&full).contains("already holds files"),
        "{}",
        stderr(&full)
    );

    assert_clean_failure(&dnmscope(
        dir.path(),
        &["export", "--db", &db, "--out", "y"],
    ));
    assert_clean_failure(&dnmscope(
        dir.path(),
        &["report", "--db", "nope.sqlite", "--out", "r"],
    ));
    let report_unwritable = dnmscope(
        dir.path(),
        &["report", "--db", &db, "--out", "a-file/report"],
    );
    assert_clean_failure(&report_unwritable);
}

/// Runs a command, killing it after `limit`. Its output is read as it comes (a full pipe would
/// stall it).
fn run_with_limit(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in {limit:?}: {}",
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Headless Chromium that reaches nothing: no background services, every host name
/// unresolvable and a dead loopback proxy, a profile of its own.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut command = Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--no-pings",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Pixels of the image within 6 of the colour in every channel.
fn pixels_near(image: &screenshot::DecodedImage, hex: &str) -> usize {
    let value = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    let target = [(value >> 16) as u8, (value >> 8) as u8, value as u8];
    image
        .pixels
        .chunks(image.channels)
        .filter(|p| (0..3).all(|i| p[i].abs_diff(target[i]) <= 6))
        .count()
}

mod screenshot {
    //! Just enough PNG decoding for the screenshot check.
    pub struct DecodedImage {
        pub pixels: Vec<u8>,
        pub channels: usize,
        pub width: u32,
        pub height: u32,
    }

    pub fn decode(bytes: &[u8]) -> DecodedImage {
        let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG screenshot");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG size")];
        let info = reader.next_frame(&mut pixels).expect("a PNG frame");
        pixels.truncate(info.buffer_size());
        let channels = match info.color_type {
            ::png::ColorType::Rgba => 4,
            ::png::ColorType::Rgb => 3,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        DecodedImage {
            pixels,
            channels,
            width: info.width,
            height: info.height,
        }
    }
}

#[test]
fn the_report_renders_its_charts_in_headless_chromium_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let output = dnmscope(
        dir.path(),
        &["report", "--db", &db(), "--out", &out.display().to_string()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("report: "), "{}", stdout(&output));
    let index = out.join("index.html");
    let page = std::fs::read_to_string(&index).unwrap();
    let charts = page.matches("<svg").count();
    assert_eq!(
        charts, 14,
        "fourteen charts inline (the store's seven and the indicators' seven)"
    );
    assert!(!page.contains("<script"));
    for name in [
        "listings_per_crawl",
        "vendors_per_crawl",
        "availability_per_crawl",
        "usd_per_gram",
        "origin_shares",
        "activity_listings",
        "sales_per_week",
        "concentration_top5",
        "harm_reduction_topics",
    ] {
        for ext in ["svg", "png", "csv"] {
            let path = out.join(format!("charts/{name}.{ext}"));
            assert!(path.is_file(), "{} missing", path.display());
        }
    }
    assert!(page.contains("Crawl completeness") && page.contains("seizure_banner"));
    for section in [
        "Listings and vendors over time",
        "Estimated sales and revenue",
        "Vendor links across markets",
        "Review credibility",
        "Harm-reduction discussion",
    ] {
        assert!(page.contains(section), "the report lacks {section}");
    }
    let Some(chromium) = chromium() else { return };

    let url = format!("file://{}", index.display());
    let profile = dir.path().join("profile");
    let dom = run_with_limit(
        headless(&chromium, &profile).args(["--dump-dom", &url]),
        Duration::from_secs(180),
    );
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        stderr(&dom)
    );
    let dom_text = stdout(&dom);
    assert_eq!(
        dom_text.matches("<svg").count(),
        charts,
        "the browser's DOM has every chart"
    );
    assert!(dom_text.contains("class=\"dnm-series\""), "series rendered");
    assert!(dom_text.contains("class=\"dnm-table\""), "tables rendered");
    let log = stderr(&dom);
    for error in ["Uncaught", "Refused to", "ERR_", "CONSOLE"] {
        assert!(
            !log.lines()
                .any(|l| l.contains(error) && !l.contains("dbus")),
            "chromium reported {error}: {log}"
        );
    }

    let screenshot = dir.path().join("screenshot.png");
    let shot = run_with_limit(
        headless(&chromium, &profile).args([
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2400",
            &url,
        ]),
        Duration::from_secs(180),
    );
    assert!(
        screenshot.is_file(),
        "no screenshot: {}{}",
        stdout(&shot),
        stderr(&shot)
    );
    let image = screenshot::decode(&std::fs::read(&screenshot).unwrap());
    assert_eq!((image.width, image.height), (1280, 2400));
    // The first three series colours of the palette (one per simulated market) are drawn.
    for hex in ["#0072b2", "#e69f00", "#009e73"] {
        let count = pixels_near(&image, hex);
        assert!(
            count > 200,
            "only {count} pixels of {hex}: the charts did not render"
        );
    }
}

#[test]
fn an_empty_store_gives_a_report_of_empty_charts_and_an_export_of_empty_tables() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = dnmscope(dir.path(), &["--db", "empty.sqlite", "db", "migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let report = dnmscope(
        dir.path(),
        &["report", "--db", "empty.sqlite", "--out", "report"],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(!stderr(&report).contains("WARN"), "{}", stderr(&report));
    let page = std::fs::read_to_string(dir.path().join("report/index.html")).unwrap();
    assert_eq!(page.matches("<svg").count(), 14);
    assert_eq!(
        page.matches(">no data</text>").count(),
        14,
        "every chart says no data"
    );
    assert!(page.contains("no rows"));
    for format in ["csv", "jsonl", "parquet"] {
        let output = dnmscope(
            dir.path(),
            &[
                "export",
                "--db",
                "empty.sqlite",
                "--format",
                format,
                "--out",
                format,
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        // Two rows: the watermarks of the weekly roll-ups (`listing_weeks` and
        // `attribute_weeks`), set when the indicators were computed.
        assert!(stdout(&output).contains("(2 rows)"), "{}", stdout(&output));
        let Some(python) = python() else { continue };
        let check = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/report/check_export.py"
            ))
            .arg(dir.path().join(format))
            .arg(format)
            .output()
            .expect("running the Python check");
        assert!(
            check.status.success(),
            "{format}: {}{}",
            stdout(&check),
            stderr(&check)
        );
    }
}
