//! What the harness's tests share: the catalogue, the model's run of a case in the simulator,
//! the verdict on a run (every capability declared, the simulator's tolerances), and a small
//! loopback HTTP server for the test services the tests play.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sse_harness::client::{Capabilities, Capability};
use sse_harness::judge::{Context, Timing, Verdict, judge};
use sse_harness::run::{Origins, Run, simulated};
use sse_harness::{Catalogue, Expectation, ModelClient};

pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue::load_default().unwrap_or_else(|e| panic!("{e}")))
}

/// The model's run of a case in the simulator, for its duration.
pub fn model_run(case: &str) -> Run {
    let case = catalogue().case(case).expect("case exists");
    simulated(
        Arc::new(ModelClient::default()),
        case,
        case.seed,
        Duration::ZERO,
    )
    .expect("runs")
}

/// The verdict on a run of a case by a client with these capabilities.
pub fn verdict_with(case: &str, run: &Run, caps: &Capabilities) -> Verdict {
    let case = catalogue().case(case).expect("case exists");
    let expectation = Expectation::of(case).expect("golden trace");
    judge(
        case,
        &expectation,
        run,
        Context {
            catalogue: catalogue(),
            capabilities: caps,
            timing: Timing::SIMULATED,
            origins: &Origins::simulated(),
        },
    )
}

/// The verdict on a run of a case by a client that declares every capability.
pub fn verdict(case: &str, run: &Run) -> Verdict {
    verdict_with(case, run, &Capability::everything())
}

/// Serves HTTP/1.1 with `handle` on a loopback port, from a thread and runtime of its own;
/// returns its URL.
pub fn serve_on_loopback<F, Fut>(handle: F) -> String
where
    F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<http_body_util::Full<bytes::Bytes>>>
        + Send
        + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let handle = handle.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
    });
    format!("http://{addr}/")
}

/// A response with `status` and `body`.
pub fn answer(
    status: http::StatusCode,
    body: String,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *r.status_mut() = status;
    r
}
