//! Running the binary, and what every command owes its user: help, clear errors, exit codes.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `dnmscope` with `args` in `dir`, with no configuration or store from the environment.
pub fn dnmscope(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dnmscope"))
        .args(args)
        .current_dir(dir)
        .env_remove("DNMSCOPE_DB")
        .env_remove("DNMSCOPE_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("running dnmscope")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Under `CI=true` a test missing a tool it needs fails, naming the tool (a green CI run means
/// every check ran); elsewhere it says what it skipped.
pub fn tool_missing(what: &str) {
    if ci() {
        panic!("{what}; under CI=true every check must run (.ci/run installs it)");
    }
    eprintln!("SKIPPED CHECK: {what}");
    println!("SKIPPED CHECK: {what}");
}

/// Whether this is a CI run (`CI=true` or `CI=1`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Asserts a run failed the way a user should see it: a non-zero exit, an `error:` line, and
/// no panic.
pub fn assert_clean_failure(output: &Output) {
    let err = stderr(output);
    assert!(!output.status.success(), "expected a failure: {err}");
    assert!(err.contains("error"), "no error message: {err}");
    assert!(!err.contains("panicked"), "it panicked: {err}");
}

#[test]
fn help_describes_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let output = dnmscope(dir.path(), &["--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    for needle in [
        "db",
        "--db",
        "--verbose",
        "--quiet",
        "--config",
        "DNMSCOPE_DB",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
    let output = dnmscope(dir.path(), &["db", "--help"]);
    let help = stdout(&output);
    assert!(help.contains("migrate") && help.contains("stats"), "{help}");
}

#[test]
fn unknown_commands_and_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(&dnmscope(dir.path(), &["fly"]));
    assert_clean_failure(&dnmscope(dir.path(), &["db", "stats", "--frobnicate"]));
    assert_clean_failure(&dnmscope(dir.path(), &["-v", "-q", "db", "stats"]));
}

#[test]
fn a_bad_configuration_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[store]\ncompression_level = \"high\"\n",
    )
    .unwrap();
    let output = dnmscope(dir.path(), &["--config", "bad.toml", "db", "migrate"]);
    assert_clean_failure(&output);
    let err = stderr(&output);
    assert!(
        err.contains("bad.toml") && err.contains("compression_level"),
        "{err}"
    );
    assert!(!dir.path().join("dnmscope.sqlite").exists());

    let output = dnmscope(dir.path(), &["--config", "missing.toml", "db", "stats"]);
    assert_clean_failure(&output);
    assert!(stderr(&output).contains("missing.toml"));
}

#[test]
fn the_example_configuration_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/dnmscope.example.toml");
    let output = dnmscope(dir.path(), &["--config", example, "db", "migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("dnmscope.sqlite").exists());
}
