//! opflow's own folders: a cache (the managed Python environment) and a
//! data folder (the local Prefect server's home). Overridable with
//! `$OPFLOW_CACHE_DIR` and `$OPFLOW_DATA_DIR`; otherwise the XDG locations.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$OPFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/opflow`, else `~/.cache/opflow`.
pub fn cache() -> PathBuf {
    from_env("OPFLOW_CACHE_DIR")
        .or_else(|| from_env("XDG_CACHE_HOME").map(|d| d.join("opflow")))
        .unwrap_or_else(|| home().join(".cache").join("opflow"))
}

/// `$OPFLOW_DATA_DIR`, else `$XDG_DATA_HOME/opflow`, else `~/.local/share/opflow`.
pub fn data() -> PathBuf {
    from_env("OPFLOW_DATA_DIR")
        .or_else(|| from_env("XDG_DATA_HOME").map(|d| d.join("opflow")))
        .unwrap_or_else(|| home().join(".local").join("share").join("opflow"))
}
