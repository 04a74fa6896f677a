//! `sse-axum-server ADDR [--interval-ms N] [--compressed]`: the minimal axum `Sse` server on a
//! loopback address, in the foreground, until killed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sse_axum_server::{Options, serve};

fn main() -> ExitCode {
    let usage = "usage: sse-axum-server 127.0.0.1:PORT [--interval-ms N] [--compressed]";
    let mut args = std::env::args().skip(1);
    let mut addr: Option<SocketAddr> = None;
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--compressed" => options.compressed = true,
            "--interval-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(ms) if ms > 0 => options.interval = Duration::from_millis(ms),
                _ => {
                    eprintln!("--interval-ms needs a positive number\n{usage}");
                    return ExitCode::from(2);
                }
            },
            other => match other.parse() {
                Ok(a) if addr.is_none() => addr = Some(a),
                _ => {
                    eprintln!("unexpected argument {other:?}\n{usage}");
                    return ExitCode::from(2);
                }
            },
        }
    }
    let Some(addr) = addr else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    if !addr.ip().is_loopback() {
        eprintln!("{addr} is not a loopback address: this server is for tests on this machine");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stop = tokio_util::sync::CancellationToken::new();
        serve(listener, stop, options).await;
        ExitCode::SUCCESS
    })
}
