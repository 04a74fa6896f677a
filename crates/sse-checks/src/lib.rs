//! Checks of servers and proxies nobody here wrote: each server check of the catalogue run
//! against a server at a loopback URL (one probe per kind of look), the measurements of a proxy
//! in front of the reference server, and the set-ups of `servers/setups.toml` installed,
//! started and checked as report columns. Verdicts are `sse_judge` check results.

pub mod annotate;
pub mod proxy_check;
pub mod server_check;
pub mod setups;
