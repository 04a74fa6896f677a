//! What a case runs on: the reference server configured as the case says, with its script
//! registered, and in the simulator the world around it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sse_case::Case;
use sse_sim::World;

/// The reference server's configuration for this case: its defaults, except where the case
/// says otherwise, with the case's script registered under its id.
pub fn server_config(case: &Case) -> sse_server::Config {
    // Compression only where the case is about it: a client's own Accept-Encoding (every
    // browser sends one) must not change the bytes a byte-counting fault cuts at.
    let mut config = sse_server::Config {
        compression: case.client.accept_encoding.is_some(),
        ..sse_server::Config::default()
    };
    if let Some(script) = case.server.script() {
        let mut scripts = BTreeMap::new();
        scripts.insert(case.script_id(), script);
        config.scripts = Arc::new(scripts);
    }
    if let Some(r) = &case.server.reference {
        if let Some(ms) = r.retry_ms {
            config.retry = (ms > 0).then_some(ms);
        }
        if let Some(ms) = r.keep_alive_ms {
            config.keep_alive = (ms > 0).then(|| Duration::from_millis(ms));
        }
        config.padding = r.padding.unwrap_or(config.padding);
        config.compression = r.compression.unwrap_or(config.compression);
        config.flush_each_event = r.flush_each_event.unwrap_or(config.flush_each_event);
        config.demo_interval = r
            .demo_interval_ms
            .map_or(config.demo_interval, Duration::from_millis);
        config.topic_log = r.topic_log.unwrap_or(config.topic_log);
        if let Some(origins) = &r.allowed_origins {
            config.allowed_origins.clone_from(origins);
        }
    }
    config
}

/// The simulated world of this case, with a seed.
pub fn world(case: &Case, seed: u64) -> World {
    World {
        name: case.id.clone(),
        config: server_config(case),
        durable_topics: case.durable_topics(),
        faults: case.faults.clone(),
        publisher: case.publisher.clone(),
        duration: case.duration(),
        seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_cases_register_their_script() {
        let mut case: Case = toml::from_str(
            "checks = [\"A-B\"]\nabout = \"a\"\nduration_ms = 100\n[[server.responses]]\nstatus = 204\n",
        )
        .expect("a case");
        case.id = "x".into();
        case.validate().expect("valid");
        let config = server_config(&case);
        assert_eq!(config.scripts.get("x").map(|s| s.responses.len()), Some(1));
        assert_eq!(case.client_path(), "/cases/x");
    }
}
