//! Stage 7: the rendered files → disk. The only stage that writes.
//!
//! The whole package is written to a temporary folder beside the target and
//! swapped into place in one atomic rename, so an interrupted build leaves the
//! old package or the new one, never a mix. Files opflow did not generate are
//! never overwritten or deleted (they are carried into the new folder as hard
//! links); a generated file edited by hand is only replaced with `force`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::render::{Ownership, ownership};

/// What a build changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// The state of the package on disk against the rendered files.
#[derive(Debug, Default)]
struct Survey {
    /// Entries of the output folder opflow must keep as they are.
    foreign: Vec<PathBuf>,
    /// Generated files (by relative path) and whether they were edited.
    generated: BTreeMap<PathBuf, Ownership>,
    /// Current contents of the files we would write, where they exist.
    existing: BTreeMap<PathBuf, String>,
}

fn survey(dir: &Path) -> Result<Survey, IoFailure> {
    let mut survey = Survey::default();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(survey),
        Err(error) => return Err((dir.to_path_buf(), error)),
    };
    for entry in entries {
        let entry = entry.map_err(at(dir))?;
        let name = PathBuf::from(entry.file_name());
        let path = entry.path();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let text = if is_file {
            fs::read_to_string(&path).ok()
        } else {
            None
        };
        match text.as_deref().map(ownership) {
            Some(kind @ (Ownership::Generated | Ownership::Edited)) => {
                survey.generated.insert(name.clone(), kind);
                survey.existing.insert(name, text.unwrap_or_default());
            }
            _ => survey.foreign.push(name),
        }
    }
    survey.foreign.sort();
    Ok(survey)
}

/// Write `files` into `dir`, replacing the package that is there.
pub fn emit(
    dir: &Path,
    files: &BTreeMap<PathBuf, String>,
    force: bool,
) -> Result<Changes, Vec<Diagnostic>> {
    let survey = survey(dir).map_err(|(path, error)| vec![io_error(&path, &error)])?;
    let mut problems = Vec::new();
    for name in files.keys() {
        if survey.foreign.contains(name) {
            problems.push(Diagnostic::ForeignFile {
                path: dir.join(name),
            });
        }
    }
    if !force {
        for (name, kind) in &survey.generated {
            let rewritten = files
                .get(name)
                .is_some_and(|text| survey.existing.get(name) != Some(text));
            let removed = !files.contains_key(name);
            if *kind == Ownership::Edited && (rewritten || removed) {
                problems.push(Diagnostic::EditedFile {
                    path: dir.join(name),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut changes = Changes::default();
    for (name, text) in files {
        if survey.existing.get(name) == Some(text) {
            changes.unchanged.push(name.clone());
        } else {
            changes.written.push(name.clone());
        }
    }
    changes.removed = survey
        .generated
        .keys()
        .filter(|name| !files.contains_key(*name))
        .cloned()
        .collect();
    if changes.written.is_empty() && changes.removed.is_empty() {
        return Ok(changes);
    }
    replace(dir, files, &survey.foreign).map_err(|(path, error)| vec![io_error(&path, &error)])?;
    Ok(changes)
}

fn io_error(path: &Path, error: &io::Error) -> Diagnostic {
    Diagnostic::WriteFailed {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Name of the temporary folder beside `dir`.
fn staging(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.opflow-new"))
}

type IoFailure = (PathBuf, io::Error);

/// Attach the path to an I/O error.
fn at(path: &Path) -> impl FnOnce(io::Error) -> IoFailure + '_ {
    move |error| (path.to_path_buf(), error)
}

fn replace(
    dir: &Path,
    files: &BTreeMap<PathBuf, String>,
    foreign: &[PathBuf],
) -> Result<(), IoFailure> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(at(parent))?;
    let staging = staging(dir);
    // A staging folder left by an interrupted build holds nothing of value:
    // every file in it is either generated or a link to a file that is still
    // in the package.
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(at(&staging))?;
    }
    fs::create_dir(&staging).map_err(at(&staging))?;
    for (name, text) in files {
        let path = staging.join(name);
        fs::write(&path, text).map_err(at(&path))?;
    }
    for name in foreign {
        carry(&dir.join(name), &staging.join(name))?;
    }
    sync_dir(&staging);
    if dir.exists() {
        swap(&staging, dir).map_err(at(dir))?;
        // `staging` now holds the old package.
        fs::remove_dir_all(&staging).map_err(at(&staging))?;
    } else {
        fs::rename(&staging, dir).map_err(at(dir))?;
    }
    sync_dir(parent);
    Ok(())
}

/// Bring a foreign file or folder into the new package unchanged: hard links
/// where the file system allows, copies where not.
fn carry(from: &Path, to: &Path) -> Result<(), IoFailure> {
    let meta = fs::symlink_metadata(from).map_err(at(from))?;
    if meta.is_dir() {
        fs::create_dir(to).map_err(at(to))?;
        for entry in fs::read_dir(from).map_err(at(from))? {
            let entry = entry.map_err(at(from))?;
            carry(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(at(from))?;
        symlink(&target, to).map_err(at(to))
    } else {
        fs::hard_link(from, to)
            .or_else(|_| fs::copy(from, to).map(|_| ()))
            .map_err(at(to))
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    fs::copy(target, link).map(|_| ())
}

/// Exchange two folders in one step where the system can (Linux, macOS).
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn swap(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn swap(a: &Path, b: &Path) -> io::Result<()> {
    let old = a.with_extension("old");
    fs::rename(b, &old)?;
    fs::rename(a, b)?;
    fs::rename(&old, a)
}

/// Make a folder's entries durable (best effort: not every system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

/// `--check`: what would change, as a unified diff (empty when up to date).
pub fn diff(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Result<String, Vec<Diagnostic>> {
    let survey = survey(dir).map_err(|(path, error)| vec![io_error(&path, &error)])?;
    let mut out = String::new();
    for (name, text) in files {
        let old = survey.existing.get(name).map_or("", String::as_str);
        if old != text {
            out.push_str(&unified(&dir.join(name), old, text));
        }
    }
    for name in survey
        .generated
        .keys()
        .filter(|name| !files.contains_key(*name))
    {
        out.push_str(&unified(&dir.join(name), &survey.existing[name], ""));
    }
    Ok(out)
}

fn unified(path: &Path, old: &str, new: &str) -> String {
    let shown = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"))
        .to_string()
}
