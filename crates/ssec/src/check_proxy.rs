//! `ssec check-proxy`: the reference server runs as the upstream at `--upstream`, the proxy under
//! test forwards to it, and every byte is read back through the proxy and measured.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sse_checks::proxy_check::{ProxyUnderTest, run as check};
use sse_harness::escape::terminal;
use sse_harness::judge::Outcome;

/// Arguments of `ssec check-proxy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The proxy's base URL (http:// on loopback); it must forward to --upstream.
    #[arg(long)]
    proxy: String,
    /// Where the proxy forwards to: the reference server is run there for the check.
    #[arg(long)]
    upstream: SocketAddr,
    /// How long to read a silent stream through the proxy, to see an idle cut.
    #[arg(long, default_value_t = 10.0)]
    idle_seconds: f64,
    /// One JSON array instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let fail = |e: String| crate::misuse("check-proxy", e);
    let mut proxy = match url::Url::parse(&args.proxy) {
        Ok(u) => u,
        Err(e) => return fail(format!("bad --proxy URL: {e}")),
    };
    if !proxy.path().ends_with('/') {
        let path = format!("{}/", proxy.path());
        proxy.set_path(&path);
    }
    let Ok(idle) = Duration::try_from_secs_f64(args.idle_seconds) else {
        return fail("--idle-seconds must be a positive number".into());
    };
    let rt = match crate::two_threads() {
        Ok(rt) => rt,
        Err(e) => return fail(e.to_string()),
    };
    let p = ProxyUnderTest {
        proxy,
        upstream: args.upstream,
        idle,
    };
    let results = match rt.block_on(check(&p)) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.json {
        match serde_json::to_string_pretty(&results) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(e.to_string()),
        }
    } else {
        for m in &results {
            println!(
                "{:<13} {}  [{}]\n              {}",
                m.outcome.name(),
                m.check,
                m.requirements.join(" "),
                terminal(m.measured.as_deref().unwrap_or_default())
            );
        }
    }
    if results.iter().any(|m| m.outcome == Outcome::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
