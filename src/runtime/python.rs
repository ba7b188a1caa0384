//! Finding a Python with Prefect, or making one (docs/DESIGN.md §7).
//!
//! Discovery order: `--python`, `$OPFLOW_PYTHON`, an active virtualenv,
//! `./.venv`, then `python3`. When that Python lacks Prefect, opflow creates
//! a managed environment once — a folder of its own, keyed by the pinned
//! Prefect version — installs Prefect there with pip's progress shown, and
//! reuses it afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::dirs;
use crate::diagnostic::Diagnostic;

/// The Prefect version opflow generates code for and installs.
pub const PREFECT_VERSION: &str = "3.9.1";

/// Extra packages a task runner needs, by task runner name.
pub fn extra_for(task_runner: &str) -> Option<&'static str> {
    match task_runner {
        "dask" => Some("prefect-dask"),
        "ray" => Some("prefect-ray"),
        _ => None,
    }
}

/// Where a Python came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Virtualenv,
    DotVenv,
    Path,
    Managed,
}

impl Origin {
    pub const fn describe(&self) -> &'static str {
        match self {
            Self::Flag => "--python",
            Self::Env => "$OPFLOW_PYTHON",
            Self::Virtualenv => "the active virtualenv",
            Self::DotVenv => "./.venv",
            Self::Path => "python3 on PATH",
            Self::Managed => "opflow's managed environment",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Python {
    pub path: PathBuf,
    pub origin: Origin,
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

/// The Python to use, by the discovery order.
pub fn discover(flag: Option<&Path>, cwd: &Path) -> Python {
    if let Some(path) = flag {
        return Python {
            path: path.to_path_buf(),
            origin: Origin::Flag,
        };
    }
    if let Some(path) = std::env::var_os("OPFLOW_PYTHON").filter(|p| !p.is_empty()) {
        return Python {
            path: PathBuf::from(path),
            origin: Origin::Env,
        };
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|p| !p.is_empty()) {
        let path = venv_python(Path::new(&venv));
        if path.exists() {
            return Python {
                path,
                origin: Origin::Virtualenv,
            };
        }
    }
    let dot = venv_python(&cwd.join(".venv"));
    if dot.exists() {
        return Python {
            path: dot,
            origin: Origin::DotVenv,
        };
    }
    Python {
        path: PathBuf::from("python3"),
        origin: Origin::Path,
    }
}

/// The installed version of a distribution in `python`, if any.
pub fn installed(python: &Path, distribution: &str) -> Option<String> {
    let output = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
            distribution,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The managed environment's folder.
pub fn managed_dir() -> PathBuf {
    dirs::cache()
        .join("envs")
        .join(format!("prefect-{PREFECT_VERSION}"))
}

/// A Python with Prefect and the given extra packages: the discovered one if
/// it has them, else the managed environment (created or completed now
/// unless `no_install`).
pub fn ensure(
    found: Python,
    extras: &[&str],
    no_install: bool,
    quiet: bool,
) -> Result<Python, Diagnostic> {
    let has_all = |python: &Path| {
        installed(python, "prefect").is_some()
            && extras.iter().all(|e| installed(python, e).is_some())
    };
    if has_all(&found.path) {
        return Ok(found);
    }
    let dir = managed_dir();
    let managed = venv_python(&dir);
    if managed.exists() && has_all(&managed) {
        return Ok(Python {
            path: managed,
            origin: Origin::Managed,
        });
    }
    // tomli-w: the scanner's TOML writer, so `opflow scan` works here too.
    let mut wanted = vec![format!("prefect=={PREFECT_VERSION}"), "tomli-w".to_owned()];
    wanted.extend(extras.iter().map(|e| (*e).to_owned()));
    if no_install {
        return Err(Diagnostic::NoPrefect {
            python: found.path.display().to_string(),
            origin: found.origin.describe(),
            install: wanted.join(" "),
        });
    }
    if !managed.exists() {
        // The base interpreter: the discovered one when it runs at all.
        let base = if Command::new(&found.path)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            found.path.clone()
        } else {
            PathBuf::from("python3")
        };
        if !quiet {
            eprintln!(
                "opflow: creating a Python environment with Prefect {PREFECT_VERSION} in {} (once)",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir.parent().unwrap_or(&dir)).map_err(|e| {
            Diagnostic::RuntimeIo {
                path: dir.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let status = Command::new(&base)
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .map_err(|e| Diagnostic::SpawnFailed {
                program: base.display().to_string(),
                reason: e.to_string(),
            })?;
        if !status.success() {
            return Err(Diagnostic::InstallFailed(format!(
                "`{} -m venv {}` failed",
                base.display(),
                dir.display()
            )));
        }
    }
    if !quiet {
        eprintln!(
            "opflow: installing {} into {}",
            wanted.join(" "),
            dir.display()
        );
    }
    let mut pip = Command::new(&managed);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--progress-bar",
        "on",
    ])
    .args(&wanted);
    // pip's progress goes to the terminal; its stdout would mix with ours.
    pip.stdout(Stdio::from(std::io::stderr()));
    let status = pip.status().map_err(|e| Diagnostic::SpawnFailed {
        program: managed.display().to_string(),
        reason: e.to_string(),
    })?;
    if !status.success() {
        return Err(Diagnostic::InstallFailed(format!(
            "installing {} failed",
            wanted.join(" ")
        )));
    }
    Ok(Python {
        path: managed,
        origin: Origin::Managed,
    })
}
