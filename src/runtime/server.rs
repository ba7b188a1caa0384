//! The Prefect server flows report to (docs/DESIGN.md §7): `$PREFECT_API_URL`
//! when set; otherwise a local server opflow starts on loopback on first use,
//! with its own `PREFECT_HOME` in opflow's data folder, and reuses across runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::dirs;
use crate::diagnostic::Diagnostic;

/// Where the local server keeps its state.
pub fn home() -> PathBuf {
    dirs::data().join("server")
}

fn state_path() -> PathBuf {
    home().join("state.json")
}

/// What opflow remembers of the local server it started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub pid: i32,
    pub port: u16,
}

impl State {
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    pub fn ui_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Is a Prefect API answering `GET /health` at this `host:port`?
pub fn healthy(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

/// The local server, if one opflow started is running and healthy.
pub fn status() -> Option<State> {
    let text = std::fs::read_to_string(state_path()).ok()?;
    let state: State = serde_json::from_str(&text).ok()?;
    healthy(state.port).then_some(state)
}

fn free_port() -> Result<u16, Diagnostic> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| Diagnostic::ServerFailed(format!("no free port on 127.0.0.1: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Diagnostic::ServerFailed(e.to_string()))
}

/// Environment for anything talking to the local server.
pub fn env(state: &State) -> Vec<(&'static str, String)> {
    vec![
        ("PREFECT_API_URL", state.api_url()),
        ("PREFECT_HOME", home().join("prefect").display().to_string()),
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false".to_owned()),
    ]
}

/// Start the local server with `python` (which has Prefect) and wait until
/// it answers, or return the one already running.
pub fn start(python: &Path, quiet: bool) -> Result<State, Diagnostic> {
    if let Some(state) = status() {
        return Ok(state);
    }
    let dir = home();
    std::fs::create_dir_all(&dir).map_err(|e| Diagnostic::RuntimeIo {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    // One opflow starts the server; another that arrives meanwhile waits for it.
    let Some(_lock) = StartLock::acquire()? else {
        return wait_for_other();
    };
    if let Some(state) = status() {
        return Ok(state);
    }
    // A server that no longer answers is replaced.
    stop_quietly();
    std::fs::create_dir_all(dir.join("prefect")).map_err(|e| Diagnostic::RuntimeIo {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let port = free_port()?;
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| Diagnostic::RuntimeIo {
        path: log_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let err = log.try_clone().map_err(|e| Diagnostic::RuntimeIo {
        path: log_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .env("PREFECT_HOME", dir.join("prefect"))
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        .env_remove("PREFECT_API_URL")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: Ctrl-C on a run must not stop the server.
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|e| Diagnostic::SpawnFailed {
        program: python.display().to_string(),
        reason: e.to_string(),
    })?;
    let state = State {
        pid: i32::try_from(child.id()).unwrap_or(0),
        port,
    };
    let json = serde_json::to_string(&state).unwrap_or_default();
    std::fs::write(state_path(), json).map_err(|e| Diagnostic::RuntimeIo {
        path: state_path().display().to_string(),
        reason: e.to_string(),
    })?;
    if !quiet {
        eprintln!(
            "opflow: starting a local Prefect server at {} (kept running; `opflow server stop` stops it)",
            state.ui_url()
        );
    }
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if healthy(port) {
            return Ok(state);
        }
        if child.try_wait().ok().flatten().is_some() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(Diagnostic::ServerFailed(format!(
                "the Prefect server exited while starting:\n{}",
                tail.join("\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stop_quietly();
    Err(Diagnostic::ServerFailed(format!(
        "the Prefect server did not answer within 3 minutes; see {}",
        log_path.display()
    )))
}

/// `start.lock` in the server's folder, held while one opflow starts the
/// server; removed when dropped.
struct StartLock(PathBuf);

impl StartLock {
    fn path() -> PathBuf {
        home().join("start.lock")
    }

    /// The lock, or `None` when another opflow holds it. A lock older than a
    /// start can take is left over from a killed opflow and is taken over.
    fn acquire() -> Result<Option<Self>, Diagnostic> {
        let path = Self::path();
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(Some(Self(path))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|age| age > START_TIMEOUT) {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => {
                    return Err(Diagnostic::RuntimeIo {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(None)
    }
}

impl Drop for StartLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const START_TIMEOUT: Duration = Duration::from_mins(3);

/// Another opflow is starting the server: wait until it answers.
fn wait_for_other() -> Result<State, Diagnostic> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(state) = status() {
            return Ok(state);
        }
        if !StartLock::path().exists() && status().is_none() {
            return Err(Diagnostic::ServerFailed(
                "another opflow was starting the local Prefect server and gave up; run again"
                    .to_owned(),
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Err(Diagnostic::ServerFailed(
        "waited 3 minutes for another opflow to start the local Prefect server".to_owned(),
    ))
}

fn stop_quietly() {
    let Ok(text) = std::fs::read_to_string(state_path()) else {
        return;
    };
    if let Ok(state) = serde_json::from_str::<State>(&text) {
        terminate(state.pid);
    }
    let _ = std::fs::remove_file(state_path());
}

fn terminate(pid: i32) {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && rustix::process::test_kill_process(pid).is_ok() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Stop the local server; `false` when none was running.
pub fn stop() -> bool {
    let running = std::fs::read_to_string(state_path()).is_ok();
    stop_quietly();
    running
}
