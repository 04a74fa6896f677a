//! `ssec-hostile`: an adversary for the harness itself, on loopback only. One program, a mode
//! per attack, playing a test service (for `ssec run --impl service=URL`) or a server (for
//! `ssec check-server`, `ssec check-proxy --proxy` and `ssec explain URL`) that is broken on
//! purpose. It prints its base URL on the first line of standard output, then serves until it
//! is killed. `crates/ssec/tests/hostile.rs` runs every attack and bounds the harness's time,
//! memory and output.
//!
//! ```text
//! ssec-hostile service huge-callback   each stream: one callback of a 33 MB event, a name with ESC
//! ssec-hostile service big-callback    each stream: one callback of a 16 MB event, just under the limit
//! ssec-hostile service gap             each stream: callbacks 2..5 of 15 MB; 1 never comes
//! ssec-hostile service no-delete       streams as it should, and never answers DELETE
//! ssec-hostile service not-json        GET / answers 200 with text, not JSON
//! ssec-hostile server flood            every GET: an event stream of endless comment lines
//! ssec-hostile server bomb             every GET: a gzip body that inflates to 1 GiB of zeros
//! ssec-hostile server redirect-loop    every GET: 302 to itself, forever
//! ssec-hostile server silent           accepts connections and never answers
//! ssec-hostile proxy flood             as `server flood`, for `check-proxy --proxy`
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The attacks, by mode and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    HugeCallback,
    BigCallback,
    Gap,
    NoDelete,
    NotJson,
    Flood,
    Bomb,
    RedirectLoop,
    Silent,
}

impl Attack {
    fn parse(mode: &str, name: &str) -> Option<Self> {
        Some(match (mode, name) {
            ("service", "huge-callback") => Attack::HugeCallback,
            ("service", "big-callback") => Attack::BigCallback,
            ("service", "gap") => Attack::Gap,
            ("service", "no-delete") => Attack::NoDelete,
            ("service", "not-json") => Attack::NotJson,
            // A proxy that floods whatever it is asked, upstream or not.
            ("server" | "proxy", "flood") => Attack::Flood,
            ("server", "bomb") => Attack::Bomb,
            ("server", "redirect-loop") => Attack::RedirectLoop,
            ("server", "silent") => Attack::Silent,
            _ => return None,
        })
    }
}

/// Bytes of one huge event: past the harness's 16 MiB callback limit.
const HUGE: usize = 33_000_000;
/// Bytes of one big event: just under that limit.
const BIG: usize = 16_700_000;
/// Bytes of each out-of-order callback.
const GAP: usize = 15_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(attack) = (args.len() == 2)
        .then(|| Attack::parse(&args[0], &args[1]))
        .flatten()
    else {
        eprintln!(
            "usage: ssec-hostile service huge-callback|big-callback|gap|no-delete|not-json\n       ssec-hostile server flood|bomb|redirect-loop|silent\n       ssec-hostile proxy flood"
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ssec-hostile: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ssec-hostile: cannot listen on loopback: {e}");
                return ExitCode::from(2);
            }
        };
        let Ok(addr) = listener.local_addr() else {
            return ExitCode::from(2);
        };
        println!("http://{addr}/");
        let _ = std::io::stdout().flush();
        let bomb = Arc::new(if attack == Attack::Bomb {
            bomb()
        } else {
            Vec::new()
        });
        let mut next = 0u64;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            next += 1;
            let (bomb, n) = (bomb.clone(), next);
            tokio::spawn(async move {
                let _ = serve(tcp, attack, &bomb, n).await;
            });
        }
    })
}

/// A gzip body of 1 GiB of zeros (about 1 MB compressed).
fn bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        let _ = encoder.write_all(&zeros);
    }
    encoder.finish().unwrap_or_default()
}

/// One request: its method, path and body.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn read_request(tcp: &mut TcpStream) -> std::io::Result<Request> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 || head.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await?;
    Ok(Request { method, path, body })
}

async fn serve(mut tcp: TcpStream, attack: Attack, bomb: &[u8], n: u64) -> std::io::Result<()> {
    if attack == Attack::Silent {
        // Holds the connection, says nothing.
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        return Ok(());
    }
    let req = read_request(&mut tcp).await?;
    match attack {
        Attack::HugeCallback
        | Attack::BigCallback
        | Attack::Gap
        | Attack::NoDelete
        | Attack::NotJson => service(tcp, attack, &req, n).await,
        Attack::Flood if req.method == "GET" => {
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
                .await?;
            let line = format!(": {}\n", "x".repeat(4094));
            loop {
                tcp.write_all(line.as_bytes()).await?;
            }
        }
        Attack::Bomb if req.method == "GET" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                bomb.len()
            );
            tcp.write_all(head.as_bytes()).await?;
            tcp.write_all(bomb).await
        }
        Attack::RedirectLoop if req.method == "GET" => {
            let head =
                format!("HTTP/1.1 302 Found\r\nlocation: /loop/{n}\r\ncontent-length: 0\r\n\r\n");
            tcp.write_all(head.as_bytes()).await
        }
        // Publishing (a server attack's POST) is taken and never delivered.
        _ => {
            tcp.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await
        }
    }
}

/// The test-service protocol, broken: status, streams, and callbacks no harness should hold.
async fn service(mut tcp: TcpStream, attack: Attack, req: &Request, n: u64) -> std::io::Result<()> {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") if attack == Attack::NotJson => {
            respond(&mut tcp, "200 OK", "hello, I am a test service", "").await
        }
        ("DELETE", path) if attack == Attack::NoDelete && path != "/" => {
            // Holds the request, never answers: a library whose close() blocks.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            Ok(())
        }
        ("GET", "/") => {
            // A name that would clear a terminal and forge a line if printed raw.
            let body = serde_json::json!({
                "name": "hostile\u{1b}[2J\u{1b}[1;1Hall pass\r\n",
                "version": "1\u{7}",
                "capabilities": [],
            })
            .to_string();
            respond(&mut tcp, "200 OK", &body, "").await
        }
        ("POST", "/") => {
            let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let callback = json["callbackUrl"].as_str().unwrap_or_default().to_owned();
            tokio::spawn(callbacks(callback, attack));
            respond(
                &mut tcp,
                "201 Created",
                "",
                &format!("location: /streams/{n}\r\n"),
            )
            .await
        }
        _ => respond(&mut tcp, "204 No Content", "", "").await,
    }
}

async fn respond(
    tcp: &mut TcpStream,
    status: &str,
    body: &str,
    extra: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await
}

/// Letters without runs (the trace format writes a run of one character once).
fn noise(len: usize) -> String {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + u8::try_from(x % 26).unwrap_or(0))
        })
        .collect()
}

async fn callbacks(base: String, attack: Attack) {
    let (numbers, size): (Vec<u64>, usize) = match attack {
        Attack::HugeCallback => (vec![1], HUGE),
        Attack::BigCallback => (vec![1], BIG),
        Attack::NoDelete => (vec![1, 2, 3], 8),
        _ => (vec![2, 3, 4, 5], GAP),
    };
    let body =
        serde_json::json!({"kind": "event", "event": {"type": "message", "data": noise(size)}})
            .to_string();
    for n in numbers {
        let _ = post(&format!("{base}/{n}"), &body).await;
    }
}

async fn post(url: &str, body: &str) -> std::io::Result<()> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !["127.", "localhost:", "[::1]:"]
        .iter()
        .any(|p| authority.starts_with(p))
    {
        return Err(std::io::Error::other("loopback only"));
    }
    let mut tcp = TcpStream::connect(authority).await?;
    let head = format!(
        "POST /{path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply).await;
    Ok(())
}
