//! `opflow build --watch`: rebuild on every save of the manifest (and, with
//! `--scan`, rescan modules whose files changed first). Problems are printed
//! as they arise; the package on disk stays the last good one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{build, note, report};
use crate::diagnostic::Style;
use crate::runtime::Options;

/// A cheap fingerprint of files: their paths, sizes and modification times.
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).ok();
            (
                path.clone(),
                meta.as_ref().map_or(0, std::fs::Metadata::len),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect()
}

/// The Python files under the scanned modules (a module `a.b` is `a/b.py` or
/// the package folder `a/b/`), relative to the manifest's folder.
fn module_files(root: &Path, modules: &[String]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for module in modules {
        let base = root.join(module.replace('.', "/"));
        let file = base.with_extension("py");
        if file.is_file() {
            files.push(file);
        }
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() && path.file_name().is_some_and(|n| n != "__pycache__") {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "py") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

pub(super) fn watch(
    manifest: Option<&Path>,
    out_dir: Option<&Path>,
    force: bool,
    scan: &[String],
    options: &Options,
    out: &mut dyn Write,
) -> u8 {
    let manifest = match super::manifest_path(manifest, Style::Human, out) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let root = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    note!("opflow: watching {} (Ctrl-C stops)", manifest.display());
    let mut seen_manifest = None;
    let mut seen_modules = None;
    loop {
        let modules = module_files(&root, scan);
        let now_modules = fingerprint(&modules);
        if !scan.is_empty() && seen_modules.as_ref() != Some(&now_modules) {
            seen_modules = Some(now_modules);
            let name = manifest.file_name().map(PathBuf::from).unwrap_or_default();
            let previous = std::env::current_dir().ok();
            let _ = std::env::set_current_dir(&root);
            super::run::scan(scan, Some(&name), None, false, options, out);
            if let Some(previous) = previous {
                let _ = std::env::set_current_dir(previous);
            }
        }
        let now_manifest = fingerprint(std::slice::from_ref(&manifest));
        if seen_manifest.as_ref() != Some(&now_manifest) {
            seen_manifest = Some(now_manifest);
            match crate::compile(&manifest) {
                Ok(mut compiled) => {
                    build(&mut compiled, out_dir, false, force, out);
                }
                Err(failure) => report(&failure, Style::Human, out, Some(&manifest)),
            }
            let _ = out.flush();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
