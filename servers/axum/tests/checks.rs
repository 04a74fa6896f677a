//! The axum server as the server checks see it: its demo stream resumes after Last-Event-ID,
//! its topics deliver a published event at once, compressed (tower-http) or not.

use std::collections::BTreeSet;

use sse_axum_server::{Options, serve};
use sse_checks::server_check::{self, Declaration, Server};
use sse_judge::judge::Outcome;
use url::Url;

async fn checked(options: Options, ids: &[&str]) -> Vec<(String, Outcome, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(serve(listener, stop.clone(), options));
    let catalogue = sse_case::Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let checks: Vec<_> = server_check::load_default(&catalogue)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect();
    let url = |p: &str| Url::parse(&format!("http://{addr}{p}")).expect("url");
    let server = Server {
        url: url("/sse/1"),
        declares: BTreeSet::from([Declaration::Resume, Declaration::Publish]),
        max_bytes: 1 << 20,
        // Every read 1 s: ten demo events, and time for a published one.
        seconds: Some(1.0),
        publish: Some(url("/topics/t")),
        live: Some(url("/topics/t")),
    };
    let results = server_check::run_all(&checks, &server).await;
    stop.cancel();
    let _ = serving.await;
    results
        .into_iter()
        .map(|r| (r.check.clone(), r.outcome, r.summary()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_and_delivers_promptly_even_compressed() {
    let options = Options {
        interval: std::time::Duration::from_millis(100),
        ..Options::default()
    };
    for options in [
        options,
        Options {
            compressed: true,
            ..options
        },
    ] {
        for (check, outcome, summary) in checked(
            options,
            &[
                "resume-after-last-event-id",
                "delivery-prompt",
                "delivery-prompt-gzip",
            ],
        )
        .await
        {
            assert_eq!(outcome, Outcome::Pass, "{options:?}: {check}: {summary}");
        }
    }
}
