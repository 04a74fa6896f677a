//! The page at `/` in a real browser: headless Chromium (Debian's package) driven by
//! playwright-core starts every demo stream, reads the numbers from the DOM, stops and restarts a
//! stream to see it resume, and takes a screenshot (`target/browser-page.png`).
//!
//! `scripts/test` installs Chromium and playwright-core and sets `SSE_REQUIRE_BROWSER=1`, so in
//! CI a missing browser fails the test. Run alone without them, the test says it skipped.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use sse_server::Config;
use sse_server::demo::value;

#[derive(Debug, Deserialize)]
struct Row {
    n: u64,
    id: u64,
    value: String,
    state: String,
}

#[derive(Debug, Deserialize)]
struct Seen {
    rows: Vec<Row>,
    #[serde(rename = "stoppedAt")]
    stopped_at: u64,
    #[serde(rename = "resumedAt")]
    resumed_at: u64,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Chromium and the installed playwright-core, or why they are missing.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("SSE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("no Chromium at {}", chromium.display()));
    }
    let dir = std::env::var_os("SSE_BROWSER_TOOLS")
        .map_or_else(|| workspace().join("target/browser-node"), PathBuf::from);
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!("no playwright-core in {}", dir.display()));
    }
    Ok((chromium, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_numbers_arriving_and_resumes() {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) if std::env::var_os("SSE_REQUIRE_BROWSER").is_none() => {
            eprintln!(
                "SKIPPED page_shows_numbers_arriving_and_resumes: {why} (scripts/test installs it)"
            );
            return;
        }
        Err(why) => panic!("SSE_REQUIRE_BROWSER is set but {why}"),
    };
    // Run the script from the source tree's current version.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/page.mjs");
    std::fs::copy(&script, dir.join("page.mjs")).expect("copy page.mjs next to its node_modules");
    let s = common::start(Config {
        demo_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .await;
    let screenshot = workspace().join("target/browser-page.png");
    let url = format!("http://{}/", s.addr);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&dir)
            .arg("page.mjs")
            .arg(&url)
            .arg(&chromium)
            .arg(&screenshot)
            .output()
    })
    .await
    .expect("browser task")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Seen = serde_json::from_str(stdout.trim()).expect("JSON from page.mjs");
    assert_eq!(seen.rows.len(), 4);
    for row in &seen.rows {
        assert!(row.id >= 3, "{row:?}");
        assert_eq!(
            row.value,
            value(row.n, row.id).to_string(),
            "stream {} shows the wrong number",
            row.n
        );
        assert_eq!(row.state, "open", "{row:?}");
    }
    // The restarted stream continued right after the last id it had shown.
    assert_eq!(seen.resumed_at, seen.stopped_at + 1, "{seen:?}");
    assert!(s.server.stats().streams >= 5);
}
