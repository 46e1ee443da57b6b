//! A real headless Chromium, driven over the DevTools protocol (CDP) on a
//! WebSocket: the browser the catalog site's tests open pages in.
//!
//! Debian's `chromium-headless-shell` (or `chromium`) is launched with
//! `--remote-debugging-port=0` and a fresh profile in a temp dir; the tests
//! talk to one page target through a flattened session. The protocol needs a
//! few calls only (navigate, evaluate, insert text, key events), so this is a
//! small client on `tungstenite` rather than a browser-automation crate: the
//! one such crate for Rust downloads the protocol's definition while building,
//! which fails without a network.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::WebSocket;
use tungstenite::stream::MaybeTlsStream;

/// The browsers tried, in order; `CODELAKE_CHROMIUM` names another.
const BROWSERS: [&str; 3] = ["chromium-headless-shell", "chromium", "google-chrome"];

/// How long one protocol call, a page load or a condition may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with one page open; killed when dropped.
pub(crate) struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// What the page logged as an error, or threw, since the last [`Browser::take_errors`].
    errors: Vec<String>,
    loaded: bool,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Launches the browser; a missing one fails with the command that installs it.
    pub(crate) fn launch() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let candidates: Vec<String> = match std::env::var("CODELAKE_CHROMIUM") {
            Ok(path) => vec![path],
            Err(_) => BROWSERS.iter().map(|name| (*name).to_owned()).collect(),
        };
        let mut spawned = None;
        for program in &candidates {
            let child = Command::new(program)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--window-size=1280,900",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                // Its caches (fonts, crash reports) go into the temp profile, not `~`.
                .env("HOME", profile.path())
                .env("XDG_CONFIG_HOME", profile.path())
                .env("XDG_CACHE_HOME", profile.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                // Its own process group: Debian's launcher is a shell script that
                // starts the browser as its child, so killing the launcher alone
                // would leave the browser and its helpers running.
                .process_group(0)
                .spawn();
            if let Ok(child) = child {
                spawned = Some(child);
                break;
            }
        }
        let mut child = spawned.unwrap_or_else(|| {
            panic!(
                "the catalog site's browser tests need headless Chromium (tried {}); install it \
                 with: sudo apt-get install chromium-headless-shell (or set CODELAKE_CHROMIUM \
                 to a Chromium binary)",
                candidates.join(", ")
            )
        });
        // Chromium prints where its DevTools listen on standard error.
        let stderr = child.stderr.take().unwrap();
        let (found, listening) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.trim().to_owned());
                    sent = true;
                }
            }
        });
        let url = listening
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("headless Chromium did not say where its DevTools listen"));
        let (socket, _) = tungstenite::connect(url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        }
        let mut browser = Self {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
            loaded: false,
            _profile: profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// One protocol call on the page: its result; a protocol error panics.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer");
            let reply = self.receive();
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// The next message; events are recorded on the way.
    fn receive(&mut self) -> Value {
        let message = self.socket.read().unwrap();
        let text = message.to_text().unwrap_or_default();
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let params = &value["params"];
        match value["method"].as_str() {
            Some("Page.loadEventFired") => self.loaded = true,
            Some("Runtime.exceptionThrown") => self.errors.push(format!(
                "uncaught: {}",
                params["exceptionDetails"]["exception"]["description"]
                    .as_str()
                    .or(params["exceptionDetails"]["text"].as_str())
                    .unwrap_or_default()
            )),
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.errors
                    .push(format!("console.error: {}", params["args"]));
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                self.errors.push(format!(
                    "{}: {}",
                    params["entry"]["url"].as_str().unwrap_or_default(),
                    params["entry"]["text"].as_str().unwrap_or_default()
                ))
            }
            _ => {}
        }
        value
    }

    /// Opens `url` and waits for its load event.
    pub(crate) fn open(&mut self, url: &str) {
        self.loaded = false;
        let navigated = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = navigated.get("errorText") {
            panic!("opening {url}: {error}");
        }
        self.wait_for_load(url);
    }

    /// Waits for the load event of a navigation already started (a click).
    pub(crate) fn wait_for_load(&mut self, what: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.loaded {
            assert!(Instant::now() < deadline, "{what} did not load");
            self.receive();
        }
        self.loaded = false;
    }

    /// Evaluates `expression` in the page: its value, as JSON.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("evaluating {expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is true.
    pub(crate) fn wait_until(&mut self, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.eval(expression) != json!(true) {
            assert!(Instant::now() < deadline, "never true: {expression}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text` into the focused element, as a keyboard's input does.
    pub(crate) fn type_text(&mut self, text: &str) {
        for character in text.chars() {
            self.call("Input.insertText", json!({"text": character.to_string()}));
        }
    }

    /// Presses and releases a named key (`ArrowDown`, `Enter`, `/`).
    pub(crate) fn press(&mut self, key: &str) {
        let (code, key_code, text) = match key {
            "ArrowDown" => ("ArrowDown", 40, ""),
            "ArrowUp" => ("ArrowUp", 38, ""),
            "Enter" => ("Enter", 13, "\r"),
            "Tab" => ("Tab", 9, ""),
            "/" => ("Slash", 191, "/"),
            other => panic!("no key code for {other}"),
        };
        let mut down = json!({"type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code,
                "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code}),
        );
    }

    /// Sends `headers` with every request of the page (a token, for a server).
    pub(crate) fn set_headers(&mut self, headers: Value) {
        self.call("Network.enable", json!({}));
        self.call("Network.setExtraHTTPHeaders", json!({"headers": headers}));
    }

    /// The errors logged or thrown since the last call, cleared.
    pub(crate) fn take_errors(&mut self) -> Vec<String> {
        // Drain what is already sent, so that late messages are counted.
        self.eval("1");
        std::mem::take(&mut self.errors)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask it to quit: the browser takes its helpers with it, and the
        // launcher script then exits.
        self.next_id += 1;
        let close = json!({"id": self.next_id, "method": "Browser.close"});
        let _ = self
            .socket
            .send(tungstenite::Message::text(close.to_string()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A browser that did not quit: every process of its group, one by one.
        // Never `kill -KILL -PGID`: with Debian 12's kill (procps-ng 4.0.2) it
        // was seen to kill processes far outside the group, the test runner's
        // own session included.
        for pid in group_members(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes of process group `group` (positive pids), from `/proc`.
fn group_members(group: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(2) == Some(&group.to_string())
        })
        .filter(|&pid| pid > 1)
        .collect()
}
