//! The programs at the other end of a loopback exchange (a browser, a test service, a server
//! or proxy under test): started in a process group of their own with their output in a log,
//! stopped with everything they started, and never waited for past a limit.

use std::future::Future;

/// Runs a command to completion within `limit`, its output in `log`; an error says how it
/// ended and its last words (a set-up script's reason: a missing toolchain).
pub fn run_logged(
    command: &mut std::process::Command,
    log: &std::path::Path,
    limit: std::time::Duration,
) -> Result<(), String> {
    // A process group of its own, so a timeout stops what it started too (pip, cargo).
    let mut child = spawn_logged(command, log)?;
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed ({status}){}", log_tail(log))),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            _ => {
                kill_group(&mut child);
                return Err(format!("did not finish within {limit:?}"));
            }
        }
    }
}

/// Starts a long-running command in a process group of its own (so [`kill_group`] stops it
/// with everything it starts), its output in `log`.
pub fn spawn_logged(
    command: &mut std::process::Command,
    log: &std::path::Path,
) -> Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt as _;
    let file =
        std::fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" | "))
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> Result<u16, NoFreePort> {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(NoFreePort)
}

/// This machine would not give a loopback port.
#[derive(Debug, thiserror::Error)]
#[error("no free port: {0}")]
pub struct NoFreePort(#[source] pub std::io::Error);

/// Kills a child started in a process group of its own, with everything it started (a
/// browser's helpers, an adapter's interpreter), and reaps it.
pub fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own: for calls that must
/// be made where no runtime can be relied on (in `Drop`, from synchronous code).
pub fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Option<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
            .map(|rt| rt.block_on(f))
    })
    .join()
    .ok()
    .flatten()
}
