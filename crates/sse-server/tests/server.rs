//! The reference server on loopback, checked with a hyper client and the model's parser.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{PATIENCE, Reader, body_text, get, post, start};
use http_body_util::BodyExt;
use rstest::rstest;
use sse_server::Config;
use sse_server::demo::value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fast() -> Config {
    Config {
        demo_interval: Duration::from_millis(10),
        ..Config::default()
    }
}

// spec: STREAM-MIME SERVER-NO-CACHE SERVER-NO-BUFFERING
#[tokio::test]
async fn stream_headers_and_preamble() {
    let s = start(Config {
        retry: Some(2500),
        padding: 64,
        ..fast()
    })
    .await;
    let resp = get(s.addr, "/sse/1", &[]).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-encoding").is_none());
    let lint = sse_model::lint::check_headers(&sse_model::Response {
        status: 200,
        headers: h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    });
    assert!(lint.is_empty(), "{lint:?}");
    let mut r = Reader::new(resp);
    r.events(1).await;
    assert!(
        matches!(&r.items[0], sse_model::Item::Comment(c) if c.len() == 62),
        "{:?}",
        r.items[0]
    );
    assert_eq!(r.items[1], sse_model::Item::Retry(2500));
}

// spec: SERVER-KEEPALIVE
#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let s = start(Config {
        keep_alive: Some(Duration::from_millis(50)),
        retry: None,
        ..fast()
    })
    .await;
    let mut r = Reader::new(get(s.addr, "/topics/quiet", &[]).await);
    while r.items.len() < 3 {
        r.next_frame().await;
    }
    assert!(
        r.items
            .iter()
            .all(|i| *i == sse_model::Item::Comment(" keep-alive".into())),
        "{:?}",
        r.items
    );
    // An event restarts the idle clock; comments resume after it.
    post(s.addr, "/topics/quiet", "news").await;
    assert_eq!(r.events(1).await[0].data, "news");
}

// spec: SERVER-RESUME
#[tokio::test]
async fn demo_stream_resumes_with_the_same_numbers() {
    let s = start(fast()).await;
    let first = Reader::new(get(s.addr, "/sse/7", &[]).await)
        .events(5)
        .await;
    let ids: Vec<_> = first.iter().map(|e| e.last_event_id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    for e in &first {
        let id: u64 = e.last_event_id.parse().expect("numeric id");
        assert_eq!(e.data, value(7, id).to_string());
    }
    let resumed = Reader::new(get(s.addr, "/sse/7", &[("last-event-id", "3")]).await)
        .events(2)
        .await;
    assert_eq!(resumed[0].last_event_id, "4");
    assert_eq!(resumed[0].data, first[3].data);
    assert_eq!(resumed[1].data, first[4].data);
}

#[tokio::test]
async fn a_resume_at_the_last_possible_id_ends_instead_of_overflowing() {
    let s = start(fast()).await;
    let max = u64::MAX.to_string();
    // Nothing can come after the last possible id: the stream is over for this client.
    let at_max = get(s.addr, "/sse/1", &[("last-event-id", max.as_str())]).await;
    assert_eq!(at_max.status(), 204);
    let one_before = (u64::MAX - 1).to_string();
    let events =
        Reader::new(get(s.addr, "/sse/1", &[("last-event-id", one_before.as_str())]).await)
            .until_end()
            .await;
    let ids: Vec<_> = events.iter().map(|e| e.last_event_id.as_str()).collect();
    assert_eq!(ids, [max.as_str()]);
}

// spec: SERVER-RESUME
#[tokio::test]
async fn topic_resume_is_exactly_once_in_order() {
    let s = start(fast()).await;
    for i in 1..=5 {
        assert_eq!(
            post(s.addr, "/topics/news", format!("n{i}")).await.status(),
            201
        );
    }
    let mut first = Reader::new(get(s.addr, "/topics/news?since=0", &[]).await);
    let got = first.events(3).await;
    let seen = got[..3].to_vec();
    drop(first);
    for i in 6..=10 {
        post(s.addr, "/topics/news?event=update", format!("n{i}")).await;
    }
    let mut second = Reader::new(
        get(
            s.addr,
            "/topics/news",
            &[("last-event-id", &seen[2].last_event_id)],
        )
        .await,
    );
    let rest = second.events(7).await;
    let all: Vec<String> = seen.iter().chain(&rest).map(|e| e.data.clone()).collect();
    assert_eq!(all, (1..=10).map(|i| format!("n{i}")).collect::<Vec<_>>());
    let ids: Vec<String> = seen
        .iter()
        .chain(&rest)
        .map(|e| e.last_event_id.clone())
        .collect();
    assert_eq!(ids, (1..=10).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(rest[3].event_type, "update");
    // A live event after the replay arrives once.
    post(s.addr, "/topics/news", "n11").await;
    assert_eq!(second.events(8).await[7].data, "n11");
}

// spec: SERVER-204-STOP
#[tokio::test]
async fn finished_streams_answer_204() {
    let s = start(fast()).await;
    let events = Reader::new(get(s.addr, "/sse/2?limit=3", &[]).await)
        .until_end()
        .await;
    assert_eq!(events.len(), 3);
    assert_eq!(
        get(s.addr, "/sse/2?limit=3", &[("last-event-id", "3")])
            .await
            .status(),
        204
    );
    assert_eq!(
        get(s.addr, "/sse/2?limit=3", &[("last-event-id", "2")])
            .await
            .status(),
        200
    );

    post(s.addr, "/topics/t", "only").await;
    let mut sub = Reader::new(get(s.addr, "/topics/t?since=0", &[]).await);
    sub.events(1).await;
    let delete = common::send(
        s.addr,
        http::Request::delete("/topics/t")
            .header("host", s.addr.to_string())
            .body(Default::default())
            .expect("request"),
    )
    .await;
    assert_eq!(delete.status(), 204);
    assert_eq!(
        sub.until_end().await.len(),
        1,
        "the subscriber's stream ends"
    );
    assert_eq!(
        get(s.addr, "/topics/t", &[("last-event-id", "1")])
            .await
            .status(),
        204
    );
    assert_eq!(post(s.addr, "/topics/t", "late").await.status(), 410);
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut decoder = sse_http::decode::Decoder::new(Some(encoding)).expect("a known coding");
    decoder
        .decode(bytes)
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

// spec: SERVER-NO-BUFFERING
#[rstest]
#[case("gzip")]
#[case("deflate")]
#[case("br")]
#[tokio::test]
async fn each_compressed_event_is_decodable_before_the_next(#[case] encoding: &str) {
    let s = start(Config {
        demo_interval: Duration::from_millis(30),
        retry: None,
        ..Config::default()
    })
    .await;
    let resp = get(s.addr, "/sse/3?limit=5", &[("accept-encoding", encoding)]).await;
    assert_eq!(resp.headers()["content-encoding"], encoding);
    let mut body = resp.into_body();
    let mut received = Vec::new();
    let mut decoded_events = Vec::new();
    while let Some(frame) = tokio::time::timeout(PATIENCE, body.frame())
        .await
        .expect("frame in time")
    {
        let Ok(data) = frame.expect("frame").into_data() else {
            continue;
        };
        received.extend_from_slice(&data);
        let plain = decode(encoding, &received);
        let events = sse_model::parse_stream(&plain, sse_model::Limits::default()).expect("parses");
        decoded_events.push(events.len());
    }
    // Every frame that carried an event made that event decodable on arrival: the count of
    // decodable events goes up by one per event frame, never lagging behind.
    let increasing: Vec<usize> = decoded_events.iter().copied().filter(|&n| n > 0).collect();
    assert_eq!(&increasing[..5], [1, 2, 3, 4, 5], "{decoded_events:?}");
}

#[tokio::test]
async fn without_flush_compressed_events_are_held_back() {
    let config = Config {
        demo_interval: Duration::from_millis(5),
        retry: None,
        flush_each_event: false,
        ..Config::default()
    };
    let s = start(config).await;
    let resp = get(s.addr, "/sse/3?limit=20", &[("accept-encoding", "gzip")]).await;
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = tokio::time::timeout(PATIENCE, body.frame())
        .await
        .expect("frame in time")
    {
        if let Ok(data) = frame.expect("frame").into_data() {
            frames.push(data);
        }
    }
    // Nothing decodable arrives until the stream ends: every frame but the last decodes to no
    // event at all (with a flush per event, they would carry 19 of them).
    let parse = |bytes: &[u8]| {
        sse_model::parse_stream(&decode("gzip", bytes), sse_model::Limits::default())
            .expect("parses")
    };
    let (last, before) = frames.split_last().expect("frames");
    assert_eq!(
        parse(&before.concat()).len(),
        0,
        "{} frames before the last",
        before.len()
    );
    assert_eq!(parse(&[before.concat(), last.to_vec()].concat()).len(), 20);
}

// spec: SERVER-CONNECTION-LIMIT
#[tokio::test]
async fn hundred_streams_share_one_http2_connection() {
    let s = start(fast()).await;
    let tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let mut tasks = Vec::new();
    for n in 0..100u64 {
        let mut sender = sender.clone();
        let addr = s.addr;
        tasks.push(tokio::spawn(async move {
            let req = http::Request::get(format!("http://{addr}/sse/{n}?limit=3"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .expect("request");
            let resp = sender.send_request(req).await.expect("h2 response");
            assert_eq!(resp.version(), http::Version::HTTP_2);
            let mut body = resp.into_body();
            let mut items = Vec::new();
            let mut parser = sse_model::Parser::default();
            while let Some(frame) = tokio::time::timeout(PATIENCE, body.frame())
                .await
                .expect("frame in time")
            {
                if let Ok(d) = frame.expect("frame").into_data() {
                    parser.feed(&d, &mut items).expect("parses");
                }
            }
            items
                .into_iter()
                .filter_map(|i| {
                    if let sse_model::Item::Event(e) = i {
                        Some(e.data)
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>()
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        let data = task.await.expect("stream task");
        let expected: Vec<String> = (1..=3).map(|id| value(n as u64, id).to_string()).collect();
        assert_eq!(data, expected, "stream {n}");
    }
    let stats = s.server.stats();
    assert_eq!((stats.connections, stats.streams), (1, 100));
}

#[tokio::test]
async fn a_slow_client_is_cut_while_others_keep_flowing() {
    let config = Config {
        slow_client_timeout: Duration::from_millis(300),
        topic_channel: 64,
        ..fast()
    };
    let s = start(config).await;
    // The slow client asks for the stream and never reads.
    let mut slow = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    slow.write_all(format!("GET /topics/firehose HTTP/1.1\r\nhost: {}\r\n\r\n", s.addr).as_bytes())
        .await
        .expect("send request");
    let mut healthy = Reader::new(get(s.addr, "/topics/firehose", &[]).await);
    let chunk = "x".repeat(60_000);
    let mut delivered = 0;
    for i in 0..400 {
        assert_eq!(
            post(s.addr, "/topics/firehose", format!("{i}:{chunk}"))
                .await
                .status(),
            201
        );
        // The healthy client keeps up, reading as it goes.
        delivered = healthy.events(i + 1).await.len();
        if s.server.stats().slow_disconnects > 0 && i > 50 {
            break;
        }
    }
    assert!(
        s.server.stats().slow_disconnects >= 1,
        "{:?}",
        s.server.stats()
    );
    let events = healthy.event_list();
    assert_eq!(events.len(), delivered);
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.data.starts_with(&format!("{i}:")))
    );
    // The slow connection was closed by the server: reading drains the buffered bytes then ends.
    let mut sink = vec![0u8; 1 << 20];
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match slow.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the slow connection was not closed");
}

// spec: SERVER-RESUME
#[rstest]
#[case::non_numeric(b"abc".as_slice(), "malformed-last-event-id")]
#[case::huge(b"99999999999999999999999".as_slice(), "malformed-last-event-id")]
#[case::negative(b"-1".as_slice(), "malformed-last-event-id")]
#[case::non_utf8(b"\xff\xfe".as_slice(), "malformed-last-event-id")]
#[case::future(b"500".as_slice(), "unknown-id")]
#[tokio::test]
async fn malformed_last_event_id_gets_a_reset(#[case] id: &[u8], #[case] reason: &str) {
    let s = start(fast()).await;
    post(s.addr, "/topics/x", "a").await;
    let value = http::HeaderValue::from_bytes(id).expect("header bytes");
    let req = http::Request::get("/topics/x")
        .header("host", s.addr.to_string())
        .header("last-event-id", value)
        .body(Default::default())
        .expect("request");
    let mut r = Reader::new(common::send(s.addr, req).await);
    let events = r.events(1).await;
    assert_eq!(events[0].event_type, "reset");
    assert_eq!(events[0].last_event_id, "1");
    assert!(events[0].data.contains(reason), "{}", events[0].data);
    // The demo stream restarts instead.
    let req = http::Request::get("/sse/1")
        .header("host", s.addr.to_string())
        .header(
            "last-event-id",
            http::HeaderValue::from_bytes(id).expect("header bytes"),
        )
        .body(Default::default())
        .expect("request");
    let first = Reader::new(common::send(s.addr, req).await).events(1).await;
    let expected = if reason == "unknown-id" { "501" } else { "1" };
    assert_eq!(first[0].last_event_id, expected);
}

#[tokio::test]
async fn malformed_http_gets_400_and_the_server_lives_on() {
    let s = start(fast()).await;
    let mut raw = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    raw.write_all(b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, raw.read_to_end(&mut reply))
        .await
        .expect("server answers and closes");
    assert!(
        String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // A client that connects and says nothing is dropped after the header timeout.
    let s2 = start(Config {
        header_read_timeout: Duration::from_millis(200),
        ..fast()
    })
    .await;
    let mut idle = tokio::net::TcpStream::connect(s2.addr)
        .await
        .expect("connect");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, idle.read_to_end(&mut buf))
        .await
        .expect("idle connection closed");
    assert_eq!(get(s.addr, "/sse/1?limit=1", &[]).await.status(), 200);
}

#[rstest]
#[case::too_large(vec![b'a'; 70_000], "/topics/p", 413)]
#[case::not_utf8(vec![0xff, 0xfe], "/topics/p", 400)]
#[case::bad_name(b"x".to_vec(), "/topics/bad%20name", 400)]
#[case::unknown_path(b"x".to_vec(), "/nothing/here", 404)]
#[case::huge_interval(Vec::new(), "/sse/1?interval_ms=18446744073709551615", 400)]
#[case::zero_interval(Vec::new(), "/sse/1?interval_ms=0", 400)]
#[case::bad_limit(Vec::new(), "/sse/1?limit=-1", 400)]
#[tokio::test]
async fn bad_requests_are_refused(#[case] body: Vec<u8>, #[case] path: &str, #[case] status: u16) {
    let s = start(fast()).await;
    // An empty body stands for a GET, anything else is a publish.
    let response = if body.is_empty() {
        get(s.addr, path, &[]).await
    } else {
        post(s.addr, path, body).await
    };
    assert_eq!(response.status(), status);
}

#[tokio::test]
async fn stream_limit_answers_503_with_retry_after() {
    let s = start(Config {
        max_streams: 2,
        retry_after: Duration::from_secs(7),
        ..fast()
    })
    .await;
    let a = get(s.addr, "/sse/1", &[]).await;
    let b = get(s.addr, "/topics/z", &[]).await;
    let c = get(s.addr, "/sse/2", &[]).await;
    assert_eq!(
        (
            a.status().as_u16(),
            b.status().as_u16(),
            c.status().as_u16()
        ),
        (200, 200, 503)
    );
    assert_eq!(c.headers()["retry-after"], "7");
    assert_eq!(s.server.stats().rejected_busy, 1);
    drop(a);
    // The slot frees when the first stream's connection goes away.
    let again = tokio::time::timeout(PATIENCE, async {
        loop {
            let r = get(s.addr, "/sse/2", &[]).await;
            if r.status() == 200 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(again.is_ok());
    drop(b);
}

#[tokio::test]
async fn connection_limit_answers_503_with_retry_after() {
    let s = start(Config {
        max_connections: 1,
        retry_after: Duration::from_secs(3),
        ..fast()
    })
    .await;
    let held = get(s.addr, "/sse/1", &[]).await;
    assert_eq!(held.status(), 200);
    let refused = get(s.addr, "/sse/2", &[]).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "3");
    assert_eq!(refused.headers()["connection"], "close");
    let stats = s.server.stats();
    assert_eq!((stats.rejected_busy, stats.streams), (1, 1));
}

#[rstest]
#[case::listed("http://app.test", &["http://app.test"], Some(("http://app.test", true)), 200)]
#[case::star("http://any.test", &["*"], Some(("*", false)), 200)]
#[case::refused("http://evil.test", &["http://app.test"], None, 403)]
#[case::same_origin("SAME", &[], None, 200)]
#[tokio::test]
async fn cors_allow_list(
    #[case] origin: &str,
    #[case] allowed: &[&str],
    #[case] expected: Option<(&str, bool)>,
    #[case] status: u16,
) {
    let config = Config {
        allowed_origins: allowed.iter().map(|s| (*s).to_owned()).collect(),
        ..fast()
    };
    let s = start(config).await;
    let origin = if origin == "SAME" {
        format!("http://{}", s.addr)
    } else {
        origin.to_owned()
    };
    let resp = get(s.addr, "/sse/1?limit=1", &[("origin", &origin)]).await;
    assert_eq!(resp.status(), status);
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("")),
        expected.map(|e| e.0)
    );
    assert_eq!(
        h.get("access-control-allow-credentials").is_some(),
        expected.is_some_and(|e| e.1)
    );
}

#[tokio::test]
async fn shutdown_ends_streams_cleanly() {
    let s = start(Config {
        demo_interval: Duration::from_millis(20),
        ..Config::default()
    })
    .await;
    let mut plain = Reader::new(get(s.addr, "/sse/1", &[]).await);
    plain.events(2).await;
    let resp = get(s.addr, "/sse/2", &[("accept-encoding", "gzip")]).await;
    let gz = resp.into_body();
    s.shutdown.cancel();
    // The plain stream ends without an error; the gzip one ends with a complete trailer.
    let events = plain.until_end().await;
    assert!(events.len() >= 2);
    let bytes = tokio::time::timeout(PATIENCE, gz.collect())
        .await
        .expect("in time")
        .expect("clean end")
        .to_bytes();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .expect("complete gzip stream");
    tokio::time::timeout(PATIENCE, s.task)
        .await
        .expect("serve returns")
        .expect("serve task");
}

fn scripts(entries: &[(&str, &str)]) -> sse_server::Scripts {
    let map = entries
        .iter()
        .map(|(id, text)| {
            let script: sse_server::Script = toml::from_str(text).expect("script parses");
            script.validate().expect("script is valid");
            ((*id).to_owned(), script)
        })
        .collect();
    std::sync::Arc::new(map)
}

#[tokio::test]
async fn cases_are_played_in_order_per_run() {
    let s = start(Config {
        scripts: scripts(&[
            (
                "two-step",
                r#"
                [[responses]]
                body = [{ send = "id: 1\ndata: a\n\n" }, { wait_ms = 10 }, { send_hex = "64 61 74 61 3a 20 ff 0a 0a" }]
                [[responses]]
                status = 204
                headers = []
                "#,
            ),
            (
                "cut",
                "[[responses]]\nbody = [{ send = \"data: a\\n\\ndata: par\" }]\nend = \"abort\"\n",
            ),
        ]),
        ..fast()
    })
    .await;
    let first = Reader::new(get(s.addr, "/cases/two-step?run=a", &[]).await)
        .until_end()
        .await;
    assert_eq!(
        first.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["a", "\u{fffd}"]
    );
    assert_eq!(
        get(s.addr, "/cases/two-step?run=a", &[]).await.status(),
        204
    );
    assert_eq!(
        get(s.addr, "/cases/two-step?run=a", &[]).await.status(),
        204
    );
    assert_eq!(
        get(s.addr, "/cases/two-step?run=b", &[]).await.status(),
        200
    );
    let missing = get(s.addr, "/cases/nope", &[]).await;
    assert_eq!(missing.status(), 404);
    assert!(body_text(missing).await.contains("no scripted case nope"));
    assert_eq!(get(s.addr, "/cases/..%2Fetc", &[]).await.status(), 400);
    // A scripted abort delivers what was sent, then cuts without the final chunk.
    let mut raw = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    raw.write_all(format!("GET /cases/cut HTTP/1.1\r\nhost: {}\r\n\r\n", s.addr).as_bytes())
        .await
        .expect("request");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, raw.read_to_end(&mut reply))
        .await
        .expect("cut in time");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.ends_with("data: a\n\ndata: par\r\n"),
        "no final chunk after the cut: {reply:?}"
    );
    let page = body_text(get(s.addr, "/", &[]).await).await;
    assert!(page.contains("new EventSource"));
}

/// A script is served as written to any origin: the allow-list does not answer for it, a
/// preflight does not use up a response, and `{other-origin}` names the server's second origin.
#[tokio::test]
async fn scripts_serve_any_origin_as_written_and_name_the_other_origin() {
    let s = start(Config {
        scripts: scripts(&[(
            "x",
            r#"
            [[responses]]
            status = 307
            headers = [["location", "{other-origin}/cases/x?hop=1"], ["access-control-allow-origin", ""]]
            [[responses]]
            status = 204
            headers = []
            "#,
        )]),
        allowed_origins: vec!["http://listed".to_owned()],
        other_origin: Some("http://127.0.0.1:9".to_owned()),
        ..fast()
    })
    .await;
    let preflight = {
        let req = http::Request::options("/cases/x?run=r")
            .header("host", s.addr.to_string())
            .header("origin", "http://page")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "last-event-id")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        common::send(s.addr, req).await
    };
    assert_eq!(preflight.status(), 204);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "http://page");
    assert_eq!(h["access-control-allow-headers"], "last-event-id");
    let first = get(s.addr, "/cases/x?run=r", &[("origin", "http://page")]).await;
    assert_eq!(first.status(), 307, "the preflight used up no response");
    assert_eq!(
        first.headers()["location"],
        "http://127.0.0.1:9/cases/x?hop=1&run=r"
    );
    assert_eq!(first.headers()["access-control-allow-origin"], "");
    assert!(first.headers().get("vary").is_none());
    assert_eq!(
        get(s.addr, "/cases/x?hop=1&run=r", &[("origin", "null")])
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn scripted_redirects_keep_their_run_and_requests_are_logged() {
    let s = start(Config {
        scripts: scripts(&[(
            "hop",
            r#"
            [[responses]]
            status = 307
            headers = [["location", "/cases/hop?n=1"]]
            [[responses]]
            status = 204
            headers = []
            "#,
        )]),
        ..fast()
    })
    .await;
    let epoch = std::time::Instant::now();
    let log = std::sync::Arc::new(sse_server::RequestLog::new(std::sync::Arc::new(
        move || epoch.elapsed(),
    )));
    assert!(s.server.with_request_log(log.clone()));
    let first = get(s.addr, "/cases/hop?run=r1", &[("last-event-id", "7")]).await;
    assert_eq!(first.status(), 307);
    assert_eq!(
        first.headers()["location"].to_str().expect("ascii"),
        "/cases/hop?n=1&run=r1"
    );
    // The redirected request counts in run r1: it gets the second response.
    assert_eq!(
        get(s.addr, "/cases/hop?n=1&run=r1", &[]).await.status(),
        204
    );
    // Another run starts at the first response.
    assert_eq!(get(s.addr, "/cases/hop?run=r2", &[]).await.status(), 307);
    let logged = log.snapshot();
    let targets: Vec<&str> = logged.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/cases/hop?run=r1",
            "/cases/hop?n=1&run=r1",
            "/cases/hop?run=r2"
        ]
    );
    assert_eq!(logged[0].method, "GET");
    assert_eq!(logged[0].header("last-event-id"), Some("7"));
    assert!(logged.windows(2).all(|w| w[0].at <= w[1].at));
}

#[tokio::test]
async fn a_trickled_request_body_times_out_and_the_server_keeps_serving() {
    let s = start(Config {
        body_read_timeout: Duration::from_millis(200),
        ..fast()
    })
    .await;
    let mut slow = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    slow.write_all(
        format!(
            "POST /topics/slow HTTP/1.1\r\nhost: {}\r\ncontent-length: 100\r\n\r\nab",
            s.addr
        )
        .as_bytes(),
    )
    .await
    .expect("head and two bytes");
    let mut reply = vec![0u8; 256];
    let n = tokio::time::timeout(PATIENCE, slow.read(&mut reply))
        .await
        .expect("answered in time")
        .expect("read");
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(s.server.topics().is_empty(), "nothing was published");
    assert_eq!(get(s.addr, "/sse/1?limit=1", &[]).await.status(), 200);
}

/// A listener that fails one accept with `EMFILE` when told to, as a server at its descriptor
/// limit sees.
struct Starving {
    inner: tokio::net::TcpListener,
    starve: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl sse_server::listener::Listener for Starving {
    type Io = tokio::net::TcpStream;
    async fn accept(&mut self) -> std::io::Result<(Self::Io, std::net::SocketAddr)> {
        if self.starve.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(24));
        }
        self.inner.accept().await
    }
}

/// A server behind a [`Starving`] listener, and what a test needs of it.
struct Starved {
    addr: std::net::SocketAddr,
    server: sse_server::Server,
    /// Set it: the next accept fails for want of descriptors.
    starve: std::sync::Arc<std::sync::atomic::AtomicBool>,
    shutdown: tokio_util::sync::CancellationToken,
}

/// Serves `config` on loopback through a listener whose accepts can be made to fail.
async fn starved(config: Config) -> Starved {
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = inner.local_addr().expect("addr");
    let starve = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = sse_server::Server::new(config);
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let (server, shutdown, starve) = (server.clone(), shutdown.clone(), starve.clone());
        async move {
            server
                .serve(Starving { inner, starve }, shutdown, Duration::from_secs(1))
                .await;
        }
    });
    Starved {
        addr,
        server,
        starve,
        shutdown,
    }
}

/// Opens a POST that sends its head and two body bytes of a hundred, then trickles nothing.
async fn trickle(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(
        format!("POST /topics/slow HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100\r\n\r\nab")
            .as_bytes(),
    )
    .await
    .expect("head and two bytes");
    slow
}

#[tokio::test]
async fn out_of_descriptors_the_longest_trickling_bodies_are_shed_first() {
    let Starved {
        addr,
        server,
        starve,
        shutdown,
    } = starved(Config {
        body_read_timeout: Duration::from_secs(600),
        ..fast()
    })
    .await;
    // Seventeen trickling bodies, one after another, so their order is known.
    let mut slow = Vec::new();
    for n in 1..=17 {
        slow.push(trickle(addr).await);
        tokio::time::timeout(PATIENCE, async {
            while server.stats().reading_bodies < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the body is being read");
    }
    // The next accept fails for want of descriptors; a connection wakes the accept loop.
    starve.store(true, std::sync::atomic::Ordering::SeqCst);
    let probe = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::timeout(PATIENCE, async {
        while server.stats().shed_bodies == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("bodies were shed");
    drop(probe);
    let stats = server.stats();
    // Sixteen are shed at a shortage: first the connections that sent nothing (the connection
    // that woke the accept loop may be one), then the bodies that trickled longest.
    assert_eq!(stats.shed_bodies + stats.shed_silent, 16, "{stats:?}");
    assert!(stats.shed_silent <= 1, "{stats:?}");
    let shed = usize::try_from(stats.shed_bodies).expect("small");
    assert_eq!(stats.reading_bodies, 17 - shed, "{stats:?}");
    // The oldest got 408 and a closed connection; the newest is still being read.
    let mut newest = slow.pop().expect("newest");
    for (i, mut s) in slow.into_iter().take(shed).enumerate() {
        let mut reply = Vec::new();
        tokio::time::timeout(PATIENCE, s.read_to_end(&mut reply))
            .await
            .expect("answered and closed in time")
            .expect("read");
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 408"), "body {i}: {reply}");
    }
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), newest.read(&mut buf))
            .await
            .is_err(),
        "the newest body is still awaited"
    );
    assert_eq!(get(addr, "/sse/1?limit=1", &[]).await.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn out_of_descriptors_the_longest_silent_connections_are_shed_first() {
    let Starved {
        addr,
        server,
        starve,
        shutdown,
    } = starved(Config {
        header_read_timeout: Duration::from_secs(600),
        body_read_timeout: Duration::from_secs(600),
        ..fast()
    })
    .await;
    // A trickling body, then seventeen connections that send nothing, in a known order.
    let _body = trickle(addr).await;
    let mut silent = Vec::new();
    for n in 1..=17 {
        silent.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        tokio::time::timeout(PATIENCE, async {
            while server.stats().open_connections < n + 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the connection is open");
    }
    starve.store(true, std::sync::atomic::Ordering::SeqCst);
    let probe = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::timeout(PATIENCE, async {
        while server.stats().shed_silent == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("silent connections were shed");
    let stats = server.stats();
    assert_eq!((stats.shed_silent, stats.shed_bodies), (16, 0), "{stats:?}");
    // The sixteen oldest are closed at once; the newest and the body are still served.
    let mut newest = silent.pop().expect("newest");
    for (i, mut s) in silent.into_iter().enumerate() {
        let mut rest = Vec::new();
        let n = tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)), "silent {i}: {n:?} {rest:?}");
    }
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), newest.read(&mut buf))
            .await
            .is_err(),
        "the newest silent connection is still open"
    );
    drop(probe);
    assert_eq!(get(addr, "/sse/1?limit=1", &[]).await.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn compressed_streams_are_capped_and_the_rest_go_out_plain() {
    let s = start(Config {
        max_compressed_streams: 1,
        ..fast()
    })
    .await;
    let first = get(s.addr, "/sse/1", &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        first
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let second = get(s.addr, "/sse/2?limit=2", &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(second.status(), 200);
    assert!(second.headers().get("content-encoding").is_none());
    let events = Reader::new(second).until_end().await;
    assert_eq!(events.len(), 2, "the plain stream is whole");
    assert_eq!(s.server.stats().open_compressed, 1);
    drop(first);
    tokio::time::timeout(PATIENCE, async {
        while s.server.stats().open_compressed != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the slot is freed when the stream ends");
}
