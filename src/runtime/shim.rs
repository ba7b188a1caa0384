//! opflow's Python package (`python/src/opflow`: `@operation` and the
//! scanner), carried inside the binary. Modules decorated with `@operation`
//! import it when a flow runs, so every Python opflow starts gets it on
//! `PYTHONPATH`, written out once into the cache, by content digest.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::dirs;
use crate::diagnostic::Diagnostic;

const FILES: &[(&str, &str)] = &[
    (
        "opflow/__init__.py",
        include_str!("../../python/src/opflow/__init__.py"),
    ),
    (
        "opflow/__main__.py",
        include_str!("../../python/src/opflow/__main__.py"),
    ),
    (
        "opflow/cli.py",
        include_str!("../../python/src/opflow/cli.py"),
    ),
    (
        "opflow/_decorator.py",
        include_str!("../../python/src/opflow/_decorator.py"),
    ),
    (
        "opflow/_manifest.py",
        include_str!("../../python/src/opflow/_manifest.py"),
    ),
    (
        "opflow/_scan.py",
        include_str!("../../python/src/opflow/_scan.py"),
    ),
    (
        "opflow/_types.py",
        include_str!("../../python/src/opflow/_types.py"),
    ),
    (
        "opflow/_verify.py",
        include_str!("../../python/src/opflow/_verify.py"),
    ),
    (
        "opflow/py.typed",
        include_str!("../../python/src/opflow/py.typed"),
    ),
];

/// The folder to put on `PYTHONPATH` so `import opflow` finds the shim.
pub fn dir() -> Result<PathBuf, Diagnostic> {
    let mut hash = Sha256::new();
    for (name, text) in FILES {
        hash.update(name.as_bytes());
        hash.update(text.as_bytes());
    }
    let digest: String = hash
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = dirs::cache().join("shim").join(digest);
    if dir.join("opflow").join("__init__.py").is_file() {
        return Ok(dir);
    }
    let io = |path: &Path, e: std::io::Error| Diagnostic::RuntimeIo {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    // Written beside, then renamed into place: never half a package.
    let staging = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (name, text) in FILES {
        let path = staging.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    if std::fs::rename(&staging, &dir).is_err() && !dir.join("opflow").join("__init__.py").is_file()
    {
        return Err(io(
            &dir,
            std::io::Error::other("could not move the shim into place"),
        ));
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(dir)
}

/// `PYTHONPATH` with the shim in front of what the environment had.
pub fn pythonpath() -> Result<String, Diagnostic> {
    let dir = dir()?;
    let mut parts = vec![dir.display().to_string()];
    if let Some(old) = std::env::var_os("PYTHONPATH").filter(|v| !v.is_empty()) {
        parts.push(old.to_string_lossy().into_owned());
    }
    Ok(parts.join(if cfg!(windows) { ";" } else { ":" }))
}
