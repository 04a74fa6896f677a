//! `ssec serve`: the reference server from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sse_server::{Config, Server};
use tokio_util::sync::CancellationToken;

/// Options of `ssec serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A second address, the server's second origin, which cases redirect to across origins
    /// (`{other-origin}` in their scripts). Default: the first address's IP, any free port.
    #[arg(long)]
    other_addr: Option<SocketAddr>,
    /// Milliseconds between events of the demo streams at /sse/N (1 to 86400000, as the
    /// interval_ms query parameter).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    interval_ms: u64,
    /// Seconds without output before a keep-alive comment; 0 disables them (at most a day).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    keep_alive_secs: u64,
    /// The retry (milliseconds) sent at the start of each stream; 0 sends none (at most a day).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    retry_ms: u64,
    /// Never compress, whatever Accept-Encoding says.
    #[arg(long)]
    no_compression: bool,
    /// Compress without flushing after each event (to see the delay that causes).
    #[arg(long)]
    no_flush: bool,
    /// Bytes of initial padding comment, for middleboxes that buffer the first bytes (0 to
    /// 65536).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=sse_server::encode::MAX_PADDING as u64))]
    padding: u64,
    /// An origin allowed to read streams cross-origin (repeat the flag; `*` for any, without credentials).
    #[arg(long = "allow-origin")]
    allowed_origins: Vec<String>,
    /// Streams served at once before answering 503 (1 to 1000000).
    #[arg(long, default_value_t = Config::default().max_streams as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_streams: u64,
    /// Directory of case files whose scripts are served at /cases/{id} (default: the suite's
    /// own fixtures/cases).
    #[arg(long)]
    cases_dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let scripts = match scripts(args.cases_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ssec serve: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = Config {
        keep_alive: (args.keep_alive_secs > 0).then(|| Duration::from_secs(args.keep_alive_secs)),
        retry: (args.retry_ms > 0).then_some(args.retry_ms),
        padding: usize::try_from(args.padding).unwrap_or(sse_server::encode::MAX_PADDING),
        compression: !args.no_compression,
        flush_each_event: !args.no_flush,
        allowed_origins: args.allowed_origins,
        max_streams: usize::try_from(args.max_streams).unwrap_or(usize::MAX),
        demo_interval: Duration::from_millis(args.interval_ms),
        scripts,
        ..Config::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ssec serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ssec serve: cannot listen on {}: {e}", args.addr);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(args.addr);
        let other_addr = args.other_addr.unwrap_or(SocketAddr::new(addr.ip(), 0));
        let other = match tokio::net::TcpListener::bind(other_addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ssec serve: cannot listen on {other_addr} (the second origin): {e}");
                return ExitCode::FAILURE;
            }
        };
        let other_addr = other.local_addr().unwrap_or(other_addr);
        config.other_origin = Some(format!("http://{other_addr}"));
        tracing::info!(%addr, "serving: open http://{addr}/ (HTTP/1.1 and HTTP/2 prior knowledge)");
        tracing::info!(%other_addr, "second origin for cross-origin cases: http://{other_addr}/");
        let shutdown = CancellationToken::new();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                stop_signal().await;
                shutdown.cancel();
            }
        });
        let server = Server::new(config);
        tokio::join!(
            server.serve(listener, shutdown.clone(), Duration::from_secs(5)),
            server.serve(other, shutdown, Duration::from_secs(5)),
        );
        ExitCode::SUCCESS
    })
}

/// The scripts of every scripted case in `dir` (or the suite's own cases), each case file
/// parsed and checked once, here: a bad file is an error at start, not a 500 later.
fn scripts(dir: Option<&std::path::Path>) -> Result<sse_server::Scripts, sse_harness::LoadError> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => sse_harness::catalogue::default_root()?.join("fixtures/cases"),
    };
    let cases = sse_harness::case::load_dir(&dir)?;
    let scripts: std::collections::BTreeMap<String, sse_server::Script> = cases
        .iter()
        .filter_map(|c| c.server.script().map(|s| (c.id.clone(), s)))
        .collect();
    tracing::info!(
        dir = %dir.display(),
        scripted = scripts.len(),
        "cases at /cases/{{id}} (cases that run on the reference server itself use their own paths)"
    );
    Ok(std::sync::Arc::new(scripts))
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM (what service managers and `kill` send): both end
/// every stream cleanly.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("interrupted");
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = term.recv() => tracing::info!("terminated"),
                }
            }
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}
