//! Browsers' own `EventSource` as implementations under test: Chromium and Firefox, headless, as
//! child processes (no WebDriver). For each case a browser loads a page from the case server (on
//! the stream's origin, or on `{page-origin}` when the case puts the page elsewhere, so CORS is
//! the browser's own business); the page waits for the harness's go, creates the EventSource and
//! posts every observation, stamped with the browser's clock and numbered, to a small report
//! server of the browser's. Commands (`close`) go back the same way. A browser is kept running
//! between cases (one per worker): the page is told to stop and navigate to the next case's
//! page, on that case's own origins; a case with credentials or cookies gets a fresh one.
//!
//! Over loopback only: a browser has its own network stack.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::client::{
    Capabilities, Capability, Client, ClientError, Command, Identity, MessageEvent, Observer,
    OpenRequest, PageEvent, Seen, Session, TakenAt,
};
use crate::remote::{self, InOrder, Stamper};

pub use sse_case::case::PAGE_SCRIPT;

const PAGE_PATH: &str = "/cases/harness-browser-page";
const PAGE_HTML: &str = include_str!("browser/page.html");

/// How long a browser may take to start and load the page (on a small, busy machine a headless
/// Firefox has taken over 15 s).
const LOAD_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a kept browser's page may take to navigate to the next case's (then a fresh one is
/// started).
const NAVIGATE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the page may take to act on a command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a command poll is held open before it is answered empty.
const POLL_HOLD: Duration = Duration::from_secs(20);
/// The largest report the page may post (an event's data travels in one): room for the
/// catalogue's largest event (13.3 MB).
const MAX_REPORT_BYTES: usize = 16 << 20;

/// The page script the case server serves (on every origin) to a browser.
pub fn page_script() -> sse_server::cases::Script {
    sse_server::cases::Script {
        responses: vec![sse_server::cases::ScriptedResponse {
            status: 200,
            headers: Some(vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                ("cache-control".into(), "no-store".into()),
                // One request per connection: the EventSource's own requests come on others.
                ("connection".into(), "close".into()),
            ]),
            body: vec![sse_server::cases::Step::Send(PAGE_HTML.to_owned())],
            end: sse_server::cases::End::Close,
            head_wait_ms: None,
        }],
    }
}

/// Whether a request target is a browser loading its page (not part of the case).
pub fn is_page_target(target: &str) -> bool {
    target == "/favicon.ico"
        || target
            .strip_prefix(PAGE_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

/// Whether a new connection is a browser loading its page: its first bytes are that request
/// line. Looks without reading (the bytes stay for the server) and waits for the first bytes as
/// long as they take; `None` when the connection closes without sending any.
pub async fn loads_page(tcp: &tokio::net::TcpStream) -> Option<bool> {
    let want = format!("GET {PAGE_PATH}");
    let want = want.as_bytes();
    let mut buf = [0u8; 64];
    let mut last = 0;
    loop {
        let n = match tcp.peek(&mut buf).await {
            Ok(0) | Err(_) => return (last > 0).then_some(false),
            Ok(n) => n,
        };
        let got = &buf[..n];
        if got.len() >= want.len() {
            return Some(got.starts_with(want));
        }
        if !want.starts_with(got) {
            return Some(false);
        }
        // Only part of the request line so far: look again once more has come.
        last = n;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Chromium (Debian's `chromium`).
    Chromium,
    /// Firefox (Debian's `firefox-esr`).
    Firefox,
}

impl Kind {
    /// The implementation's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chromium => "chromium",
            Kind::Firefox => "firefox",
        }
    }

    /// The environment variable that names another binary.
    fn env(self) -> &'static str {
        match self {
            Kind::Chromium => "SSE_CHROMIUM",
            Kind::Firefox => "SSE_FIREFOX",
        }
    }

    /// Binaries tried on `PATH`, in order.
    fn programs(self) -> &'static [&'static str] {
        match self {
            Kind::Chromium => &["chromium", "chromium-browser", "google-chrome"],
            Kind::Firefox => &["firefox-esr", "firefox"],
        }
    }
}

/// An installed browser, as an implementation under test.
#[derive(Clone)]
pub struct Browser {
    kind: Kind,
    program: PathBuf,
    version: String,
    /// Browsers kept running between cases, each showing the last case's page.
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("kind", &self.kind)
            .field("program", &self.program)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Running browsers waiting for the next case; killed when the run is over.
#[derive(Default)]
struct Pool(Mutex<Vec<Process>>, std::sync::atomic::AtomicUsize);

impl Pool {
    fn take(&self) -> Option<Process> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn give(&self, process: Process) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(process);
    }

    fn clear(&self) {
        let idle = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        drop(idle);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Browser {
    /// Finds the browser (its environment variable, else `PATH`) and asks its version; the
    /// error says what is missing, for a report's `unavailable` column.
    pub fn find(kind: Kind) -> Result<Browser, String> {
        let program = match std::env::var_os(kind.env()) {
            Some(p) => PathBuf::from(p),
            None => kind
                .programs()
                .iter()
                .find_map(|name| on_path(name))
                .ok_or_else(|| {
                    format!(
                        "{} is not installed: none of {} is on PATH (or set {} to its binary; \
                         scripts/setup installs it)",
                        kind.name(),
                        kind.programs().join(", "),
                        kind.env()
                    )
                })?,
        };
        let out = std::process::Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("{} does not run: {e}", program.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("unknown")
            .to_owned();
        if !out.status.success() {
            return Err(format!(
                "{} --version failed ({})",
                program.display(),
                out.status
            ));
        }
        Ok(Browser {
            kind,
            program,
            version,
            pool: Arc::default(),
        })
    }
}

impl Browser {
    /// How many browser processes it has started: one per case, but one per worker for a run of
    /// cases (a fresh one for a case with credentials or cookies).
    pub fn launches(&self) -> usize {
        self.pool.1.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

impl Client for Browser {
    fn identity(&self) -> Identity {
        Identity {
            name: self.kind.name().to_owned(),
            version: self.version.clone(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        [
            Capability::OpenEvent,
            Capability::ReadyState,
            Capability::Origin,
            Capability::Close,
            Capability::CloseInHandler,
            Capability::Cors,
            Capability::UserAgentAbort,
        ]
        .into_iter()
        .collect()
    }

    fn concurrency(&self) -> Option<usize> {
        // A browser per case: a few at once keep their event loops (and so their timing) free.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Some(cores.saturating_add(1))
    }

    fn finish(&self) {
        self.pool.clear();
    }

    fn opens_companions(&self) -> bool {
        // In the case's page: the browser's connection limit per origin is shared.
        true
    }

    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>> {
        let browser = self.clone();
        Box::pin(async move {
            let session = BrowserSession::start(browser, request, observer).await?;
            Ok(Box::new(session) as Box<dyn Session>)
        })
    }
}

/// One report from the page.
#[derive(Debug, Deserialize)]
struct Report {
    /// Which case's page sent it (a kept browser's earlier pages may still be posting).
    #[serde(default)]
    run: u64,
    seq: u64,
    /// The browser's clock: milliseconds since the Unix epoch.
    t: f64,
    kind: String,
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    data: String,
    #[serde(default, rename = "lastEventId")]
    last_event_id: String,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default, rename = "readyState")]
    ready_state: Option<u8>,
    #[serde(default)]
    message: Option<String>,
}

impl remote::Weight for Report {
    fn weight(&self) -> usize {
        self.event_type.len()
            + self.data.len()
            + self.last_event_id.len()
            + self.origin.as_ref().map_or(0, String::len)
            + self.message.as_ref().map_or(0, String::len)
    }
}

/// What the report server shares with one case's session.
struct Shared {
    observer: Observer,
    state: Mutex<State>,
    /// Woken when `loaded`, `ready` or `closed` arrive.
    control: Notify,
}

struct State {
    reports: InOrder<Report>,
    stamper: Stamper,
    loaded: bool,
    ready: bool,
    /// When the page closed its EventSource, by the page's clock.
    closed: Option<Duration>,
    /// When the page stopped its fetches (window.stop()), by the page's clock.
    aborted: Option<Duration>,
    exception: Option<String>,
}

impl State {
    /// A page's state, its out-of-order reports held against `budget` (its column's).
    fn new(budget: crate::client::Budget) -> Self {
        State {
            reports: InOrder::new(0, budget),
            stamper: Stamper::default(),
            loaded: false,
            ready: false,
            closed: None,
            aborted: None,
            exception: None,
        }
    }
}

/// A browser's report server's routing: reports go to the case whose page is showing, and each
/// page takes the commands addressed to it (a page that is navigating away may still poll).
#[derive(Default)]
struct Route {
    /// The run number of the page reports are taken from, and its case.
    current: Mutex<(u64, Option<Arc<Shared>>)>,
    /// Commands not yet taken: (the page's run number, the command as JSON).
    commands: Mutex<VecDeque<(u64, String)>>,
    /// Woken when a command is queued.
    queued: Notify,
}

impl Route {
    fn show(&self, run: u64, shared: Option<Arc<Shared>>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = (run, shared);
    }

    fn case(&self, run: u64) -> Option<Arc<Shared>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.0 == run).then(|| current.1.clone()).flatten()
    }

    fn command(&self, run: u64, command: serde_json::Value) {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((run, command.to_string()));
        self.queued.notify_waiters();
    }

    fn next_command(&self, run: u64) -> Option<String> {
        let mut commands = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        let i = commands.iter().position(|(r, _)| *r == run)?;
        commands.remove(i).map(|(_, c)| c)
    }
}

/// Run numbers of pages: each case's page gets its own.
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The runtime report servers run on: it outlives the run that started a browser, which may
/// serve later cases.
fn reports_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sse-harness-browser-reports")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes reports in the page's order, whatever order their requests arrived in.
    fn take(&self, report: Report) {
        let mut state = self.lock();
        let mut control = false;
        match state.reports.take(report.seq, report) {
            Ok(ready) => {
                for report in ready {
                    control |= self.apply(&mut state, report);
                }
            }
            Err(overflow) => self.observer.overrun(format!("the page: {overflow}")),
        }
        drop(state);
        if control {
            self.control.notify_waiters();
        }
    }

    /// Applies one report; true for a control report the session waits for.
    fn apply(&self, state: &mut State, r: Report) -> bool {
        let seen = match r.kind.as_str() {
            "loaded" => {
                state.loaded = true;
                return true;
            }
            "ready" => {
                state.ready = true;
                return true;
            }
            "closed" => {
                state.closed = Some(state.stamper.stamp(&self.observer, Some(r.t)));
                return true;
            }
            "aborted" => {
                state.aborted = Some(state.stamper.stamp(&self.observer, Some(r.t)));
                return true;
            }
            "exception" => {
                state.exception = Some(r.message.unwrap_or_default());
                return true;
            }
            "open" => Seen::OPEN,
            "message" => Seen::Page(PageEvent::Message(MessageEvent {
                event_type: r.event_type,
                data: r.data,
                last_event_id: r.last_event_id,
                origin: r.origin,
            })),
            "error" => Seen::error(r.ready_state.and_then(remote::ready_state), None),
            _ => return false,
        };
        let at = state.stamper.stamp(&self.observer, Some(r.t));
        self.observer.report_at(at, seen);
        false
    }

    /// Waits until `done` holds of the state (or the deadline passes).
    async fn until(&self, limit: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.control.notified();
            if done(&self.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(&self.lock());
            }
        }
    }
}

/// A running browser with its report server: started for one case, or kept between stream
/// cases (a kept browser navigates its page to the next case's).
struct Process {
    child: Child,
    profile: PathBuf,
    report: std::net::SocketAddr,
    route: Arc<Route>,
    server: tokio::task::JoinHandle<()>,
    /// The run number of the page it shows.
    page: u64,
    name: &'static str,
}

impl Process {
    /// Starts the browser on a page of run `page`'s URL, with a report server of its own.
    fn launch(
        browser: &Browser,
        route: Arc<Route>,
        listener: std::net::TcpListener,
        page: u64,
        url: &str,
    ) -> Result<Process, String> {
        let runtime = reports_runtime().ok_or("cannot start a runtime for the report server")?;
        let report = listener
            .local_addr()
            .map_err(|e| format!("cannot start the report server: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot start the report server: {e}"))?;
        let server = runtime.spawn({
            let route = route.clone();
            async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    serve_reports(listener, route).await;
                }
            }
        });
        let profile = std::env::temp_dir().join(format!(
            "sse-harness-{}-{}-{}",
            browser.kind.name(),
            std::process::id(),
            report.port()
        ));
        let child = launch(browser, &profile, url).map_err(|e| {
            server.abort();
            format!("cannot start {}: {e}", browser.program.display())
        })?;
        Ok(Process {
            child,
            profile,
            report,
            route,
            server,
            page,
            name: browser.kind.name(),
        })
    }

    fn alive(&mut self) -> Result<(), ClientError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(ClientError::Failed(format!(
                "{} exited ({status}){}",
                self.name,
                self.stderr_tail()
            ))),
            _ => Ok(()),
        }
    }

    /// The end of the browser's log, for an error message.
    fn stderr_tail(&self) -> String {
        let log = std::fs::read_to_string(self.profile.join("stderr.log")).unwrap_or_default();
        // Without a session bus, Chromium complains about D-Bus on every start: not the reason.
        let lines: Vec<&str> = log
            .lines()
            .rev()
            .filter(|l| !l.contains("dbus") && !l.contains("D-Bus"))
            .take(5)
            .collect();
        if lines.is_empty() {
            String::new()
        } else {
            let mut lines = lines;
            lines.reverse();
            format!("; its log ends: {}", lines.join(" | "))
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        remote::kill_group(&mut self.child);
        self.server.abort();
        if std::env::var_os("SSE_KEEP_BROWSER_PROFILE").is_none() {
            let _ = std::fs::remove_dir_all(&self.profile);
        }
    }
}

/// A browser running one case.
struct BrowserSession {
    shared: Arc<Shared>,
    process: Option<Process>,
    /// Where the browser goes when the case is over: back to the pool, or away (a case that
    /// needed a fresh one).
    pool: Option<Arc<Pool>>,
    run: u64,
    name: &'static str,
}

/// The runner page's URL for a case: the page origin, and the case in the fragment.
fn page_url(request: &OpenRequest, run: u64, report: std::net::SocketAddr) -> String {
    let page_base = request
        .page_origin
        .as_deref()
        .unwrap_or(&request.server_origin);
    let fragment = serde_json::json!({
        "url": request.url.as_str(),
        "credentials": request.with_credentials,
        "report": format!("http://{report}"),
        "types": request.event_types,
        "run": run,
        "closeOnMessage": request.close_on_message,
        "companions": request.companions.iter().map(url::Url::as_str).collect::<Vec<_>>(),
    });
    format!(
        "{page_base}{PAGE_PATH}#{}",
        url::form_urlencoded::byte_serialize(fragment.to_string().as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    )
}

/// Starts a fresh browser on the case's page, with a report server of its own.
fn launch_fresh(
    browser: &Browser,
    shared: &Arc<Shared>,
    run: u64,
    request: &OpenRequest,
) -> Result<Process, String> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot start the report server: {e}"))?;
    let report = listener
        .local_addr()
        .map_err(|e| format!("cannot start the report server: {e}"))?;
    let route = Arc::new(Route::default());
    route.show(run, Some(shared.clone()));
    browser
        .pool
        .1
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Process::launch(
        browser,
        route,
        listener,
        run,
        &page_url(request, run, report),
    )
}

impl BrowserSession {
    async fn start(
        browser: Browser,
        request: OpenRequest,
        observer: Observer,
    ) -> Result<BrowserSession, ClientError> {
        let failed = |why: String| ClientError::Failed(format!("{}: {why}", browser.kind.name()));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(observer.budget())),
            observer: observer.clone(),
            control: Notify::new(),
        });
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A case may take a browser kept from an earlier one: its page navigates here. A kept
        // browser whose page does not follow is let go, and a fresh one started.
        let kept = if request.fresh {
            None
        } else {
            browser.pool.take()
        };
        let mut kept = kept.and_then(|mut p| p.alive().is_ok().then_some(p));
        let mut session = loop {
            let (process, limit) = match kept.take() {
                Some(mut p) => {
                    p.route.show(run, Some(shared.clone()));
                    p.route.command(
                        p.page,
                        serde_json::json!({"command": "navigate", "url": page_url(&request, run, p.report)}),
                    );
                    p.page = run;
                    (p, NAVIGATE_TIMEOUT)
                }
                None => (
                    launch_fresh(&browser, &shared, run, &request).map_err(failed)?,
                    LOAD_TIMEOUT,
                ),
            };
            let navigated = limit == NAVIGATE_TIMEOUT;
            let mut session = BrowserSession {
                shared: shared.clone(),
                process: Some(process),
                pool: (!request.fresh).then(|| browser.pool.clone()),
                run,
                name: browser.kind.name(),
            };
            if shared.until(limit, |s| s.loaded).await {
                break session;
            }
            // A browser that did not load its page is not kept.
            session.pool = None;
            if navigated {
                continue;
            }
            let tail = session
                .process
                .as_ref()
                .map(Process::stderr_tail)
                .unwrap_or_default();
            return Err(failed(format!(
                "the runner page did not load within {limit:?}{tail}"
            )));
        };
        // The case starts now, as the EventSource is made.
        observer.begin();
        session.command(serde_json::json!({"command": "go"}));
        if !shared
            .until(COMMAND_TIMEOUT, |s| s.ready || s.exception.is_some())
            .await
        {
            session.pool = None;
            return Err(failed(format!(
                "the page did not create its EventSource within {COMMAND_TIMEOUT:?}"
            )));
        }
        if let Some(e) = shared.lock().exception.clone() {
            // The constructor threw (a SyntaxError for a URL it cannot parse): nothing else
            // happens; the page shows no event.
            observer.report(Seen::error(
                None,
                Some(format!("the constructor threw {e}")),
            ));
        }
        if let Some(p) = session.process.as_mut() {
            p.alive()?;
        }
        Ok(session)
    }

    /// Gives this case's page a command.
    fn command(&self, command: serde_json::Value) {
        if let Some(p) = &self.process {
            p.route.command(self.run, command);
        }
    }
}

impl Session for BrowserSession {
    fn command(&mut self, command: Command) -> BoxFuture<'_, Result<TakenAt, ClientError>> {
        Box::pin(async move {
            match command {
                Command::Close => {
                    BrowserSession::command(self, serde_json::json!({"command": "close"}));
                    if self
                        .shared
                        .until(COMMAND_TIMEOUT, |s| s.closed.is_some())
                        .await
                    {
                        Ok(self.shared.lock().closed)
                    } else {
                        Err(ClientError::Failed(format!(
                            "{}: the page did not close its EventSource within {COMMAND_TIMEOUT:?}",
                            self.name
                        )))
                    }
                }
                Command::UserAgentAbort => {
                    BrowserSession::command(self, serde_json::json!({"command": "abort"}));
                    if self
                        .shared
                        .until(COMMAND_TIMEOUT, |s| s.aborted.is_some())
                        .await
                    {
                        Ok(self.shared.lock().aborted)
                    } else {
                        Err(ClientError::Failed(format!(
                            "{}: the page did not stop within {COMMAND_TIMEOUT:?}",
                            self.name
                        )))
                    }
                }
                other => Err(ClientError::Unsupported(format!(
                    "{} cannot {}",
                    self.name,
                    other.capability()
                ))),
            }
        })
    }
}

impl Drop for BrowserSession {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        match &self.pool {
            // Kept for the next case: the page stops its EventSource, and what it still
            // reports goes nowhere.
            Some(pool) if process.alive().is_ok() => {
                process
                    .route
                    .command(self.run, serde_json::json!({"command": "stop"}));
                process.route.show(0, None);
                pool.give(process);
            }
            _ => drop(process),
        }
    }
}

/// Starts the browser on `page` with a fresh profile, in its own process group.
fn launch(browser: &Browser, profile: &Path, page: &str) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt as _;
    std::fs::create_dir_all(profile)?;
    let log = std::fs::File::create(profile.join("stderr.log"))?;
    let mut command = std::process::Command::new(&browser.program);
    match browser.kind {
        Kind::Chromium => {
            command.args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--mute-audio",
                "--password-store=basic",
            ]);
            command.arg(format!("--user-data-dir={}", profile.display()));
        }
        Kind::Firefox => {
            std::fs::write(profile.join("user.js"), FIREFOX_PREFS)?;
            command.args(["-headless", "-no-remote", "-profile"]);
            command.arg(profile);
        }
    }
    command
        .arg(page)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
}

/// Firefox preferences for a quiet, offline, first-run-free profile.
const FIREFOX_PREFS: &str = r#"
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
"#;

/// The report server: `POST /report` takes one report, `GET /command?run=N` waits for the next
/// command to the page of run `N`.
async fn serve_reports(listener: tokio::net::TcpListener, route: Arc<Route>) {
    remote::serve(listener, move |req| {
        let route = route.clone();
        async move { handle(req, &route).await }
    })
    .await;
}

async fn handle(req: Request<Incoming>, route: &Route) -> Response<Full<Bytes>> {
    // The page posts from its own origin: every answer allows any.
    let reply = |status: StatusCode, body: &str| {
        let mut r = remote::reply(status, body);
        let h = r.headers_mut();
        h.insert(
            "access-control-allow-origin",
            http::HeaderValue::from_static("*"),
        );
        h.insert(
            "access-control-allow-headers",
            http::HeaderValue::from_static("*"),
        );
        h.insert("cache-control", http::HeaderValue::from_static("no-store"));
        r
    };
    let run = req
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "run")
                .and_then(|(_, v)| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    match (req.method().clone(), req.uri().path()) {
        (Method::OPTIONS, _) => reply(StatusCode::NO_CONTENT, ""),
        (Method::POST, "/report") => match remote::read_json::<Report>(req, MAX_REPORT_BYTES).await
        {
            Ok((report, _reading)) => {
                // A report from a page that is no longer the case's goes nowhere.
                if let Some(shared) = route.case(report.run) {
                    shared.take(report);
                }
                reply(StatusCode::NO_CONTENT, "")
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, &format!("bad report: {e}\n")),
        },
        (Method::GET, "/command") => {
            let deadline = tokio::time::Instant::now() + POLL_HOLD;
            loop {
                let queued = route.queued.notified();
                if let Some(c) = route.next_command(run) {
                    return reply(StatusCode::OK, &c);
                }
                if tokio::time::timeout_at(deadline, queued).await.is_err() {
                    return reply(StatusCode::NO_CONTENT, "");
                }
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn page_loads_are_told_from_case_requests() {
        assert!(is_page_target("/cases/harness-browser-page"));
        assert!(is_page_target("/cases/harness-browser-page?x=1"));
        assert!(is_page_target("/favicon.ico"));
        assert!(!is_page_target("/cases/harness-browser-pages"));
        assert!(!is_page_target("/cases/announce-open-dispatch"));
    }

    #[test]
    fn reports_are_taken_in_the_page_order() {
        let epoch = crate::client::Epoch::new();
        let observer = Observer::with_epoch(epoch);
        let shared = Shared {
            state: Mutex::new(State::new(observer.budget())),
            observer: observer.clone(),
            control: Notify::new(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
            * 1e3;
        // The page's clock, a millisecond apart per report, a little in the past.
        let report = |seq: u64, kind: &str, data: &str| Report {
            run: 1,
            seq,
            t: now - 50.0 + seq as f64,
            kind: kind.into(),
            event_type: "message".into(),
            data: data.into(),
            last_event_id: String::new(),
            origin: None,
            ready_state: Some(0),
            message: None,
        };
        shared.take(report(2, "message", "b"));
        shared.take(report(1, "message", "a"));
        assert!(observer.is_empty(), "waits for the first report");
        shared.take(report(0, "open", ""));
        shared.take(report(3, "error", ""));
        shared.take(report(1, "message", "again"));
        let kinds: Vec<String> = observer
            .snapshot()
            .iter()
            .map(|o| match &o.what {
                Seen::Page(PageEvent::Open) => "open".to_owned(),
                Seen::Page(PageEvent::Message(MessageEvent { data, .. })) => data.clone(),
                Seen::Page(PageEvent::Error { ready_state, .. }) => {
                    format!("error {ready_state:?}")
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["open", "a", "b", "error Some(Connecting)"]);
    }
}
