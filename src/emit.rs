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
    replace(dir, files, &survey.foreign, &mut |path, text| {
        fs::write(path, text)
    })
    .map_err(|(path, error)| vec![io_error(&path, &error)])?;
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

/// Writes one file; the tests pass one that fails on purpose.
type WriteFile<'a> = dyn FnMut(&Path, &str) -> io::Result<()> + 'a;

fn replace(
    dir: &Path,
    files: &BTreeMap<PathBuf, String>,
    foreign: &[PathBuf],
    write: &mut WriteFile<'_>,
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
        write(&path, text).map_err(at(&path))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary folder, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("opflow-emit-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn generated(body: &str) -> String {
        format!(
            "{}\n{}{}\n{body}",
            crate::render::header_line("operations.toml"),
            crate::render::DIGEST_PREFIX,
            crate::render::digest(body)
        )
    }

    fn package(flows: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
        flows
            .iter()
            .map(|(name, body)| (PathBuf::from(name), generated(body)))
            .collect()
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn writes_then_reports_unchanged_then_removes_stale_files() {
        let scratch = Scratch::new("cycle");
        let dir = scratch.0.join("out");
        let first = package(&[("a.py", "a = 1\n"), ("b.py", "b = 1\n")]);
        let changes = emit(&dir, &first, false).unwrap();
        assert_eq!(
            changes.written,
            vec![PathBuf::from("a.py"), PathBuf::from("b.py")]
        );
        assert_eq!(emit(&dir, &first, false).unwrap().unchanged.len(), 2);
        let second = package(&[("a.py", "a = 2\n")]);
        let changes = emit(&dir, &second, false).unwrap();
        assert_eq!(changes.written, vec![PathBuf::from("a.py")]);
        assert_eq!(changes.removed, vec![PathBuf::from("b.py")]);
        assert!(!dir.join("b.py").exists());
        assert_eq!(read(&dir, "a.py"), second[Path::new("a.py")]);
        assert!(!staging(&dir).exists());
    }

    #[test]
    fn foreign_files_survive_every_build() {
        let scratch = Scratch::new("foreign");
        let dir = scratch.0.join("out");
        emit(&dir, &package(&[("a.py", "a = 1\n")]), false).unwrap();
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        fs::create_dir_all(dir.join("data/deep")).unwrap();
        fs::write(dir.join("data/deep/x.csv"), "1,2").unwrap();
        fs::write(dir.join("helper.py"), "# my own module\n").unwrap();
        emit(&dir, &package(&[("a.py", "a = 2\n")]), false).unwrap();
        emit(&dir, &package(&[("c.py", "c = 3\n")]), true).unwrap();
        assert_eq!(read(&dir, "notes.txt"), "mine");
        assert_eq!(read(&dir, "data/deep/x.csv"), "1,2");
        assert_eq!(read(&dir, "helper.py"), "# my own module\n");
        assert!(!dir.join("a.py").exists());
    }

    #[test]
    fn a_foreign_file_in_the_way_is_never_overwritten() {
        let scratch = Scratch::new("in-the-way");
        let dir = scratch.0.join("out");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.py"), "print('mine')\n").unwrap();
        for force in [false, true] {
            let problems = emit(&dir, &package(&[("a.py", "a = 1\n")]), force).unwrap_err();
            assert_eq!(problems.len(), 1);
            assert!(
                matches!(&problems[0], Diagnostic::ForeignFile { path } if path.ends_with("a.py"))
            );
            assert_eq!(read(&dir, "a.py"), "print('mine')\n");
        }
    }

    #[test]
    fn an_edited_file_is_replaced_only_with_force() {
        let scratch = Scratch::new("edited");
        let dir = scratch.0.join("out");
        emit(
            &dir,
            &package(&[("a.py", "a = 1\n"), ("b.py", "b = 1\n")]),
            false,
        )
        .unwrap();
        let edited = read(&dir, "a.py").replace("a = 1", "a = 42");
        fs::write(dir.join("a.py"), &edited).unwrap();
        assert_eq!(ownership(&edited), Ownership::Edited);
        let next = package(&[("a.py", "a = 2\n"), ("b.py", "b = 2\n")]);
        let problems = emit(&dir, &next, false).unwrap_err();
        assert!(
            matches!(&problems[..], [Diagnostic::EditedFile { path }] if path.ends_with("a.py"))
        );
        assert_eq!(read(&dir, "a.py"), edited, "refused, so nothing changed");
        assert_eq!(
            read(&dir, "b.py"),
            package(&[("b.py", "b = 1\n")])[Path::new("b.py")]
        );
        emit(&dir, &next, true).unwrap();
        assert_eq!(read(&dir, "a.py"), next[Path::new("a.py")]);
        // Even when the rendering did not change, restoring it would lose the edit.
        fs::write(dir.join("b.py"), read(&dir, "b.py") + "# note\n").unwrap();
        assert!(emit(&dir, &next, false).is_err());
    }

    #[test]
    fn a_failure_while_writing_leaves_the_old_package() {
        let scratch = Scratch::new("failure");
        let dir = scratch.0.join("out");
        let old = package(&[
            ("a.py", "a = 1\n"),
            ("b.py", "b = 1\n"),
            ("c.py", "c = 1\n"),
        ]);
        emit(&dir, &old, false).unwrap();
        fs::write(dir.join("mine.txt"), "keep").unwrap();
        let new = package(&[
            ("a.py", "a = 2\n"),
            ("b.py", "b = 2\n"),
            ("c.py", "c = 2\n"),
        ]);
        for fail_at in 0..new.len() {
            let mut written = 0;
            let mut failing = |path: &Path, text: &str| {
                if written == fail_at {
                    return Err(io::Error::other("disk full"));
                }
                written += 1;
                fs::write(path, text)
            };
            let error =
                replace(&dir, &new, &[PathBuf::from("mine.txt")], &mut failing).unwrap_err();
            assert_eq!(error.1.to_string(), "disk full");
            for (name, text) in &old {
                assert_eq!(
                    &fs::read_to_string(dir.join(name)).unwrap(),
                    text,
                    "after a failure at file {fail_at}"
                );
            }
            assert_eq!(read(&dir, "mine.txt"), "keep");
        }
        // The next build clears what the failed one left behind.
        emit(&dir, &new, false).unwrap();
        assert_eq!(read(&dir, "c.py"), new[Path::new("c.py")]);
        assert!(!staging(&dir).exists());
    }

    #[test]
    fn diff_shows_what_would_change() {
        let scratch = Scratch::new("diff");
        let dir = scratch.0.join("out");
        let files = package(&[("a.py", "a = 1\n")]);
        assert!(diff(&dir, &files).unwrap().contains("+a = 1"));
        emit(&dir, &files, false).unwrap();
        assert_eq!(diff(&dir, &files).unwrap(), "");
        let changed = diff(&dir, &package(&[("a.py", "a = 2\n")])).unwrap();
        assert!(
            changed.contains("-a = 1") && changed.contains("+a = 2"),
            "{changed}"
        );
        assert!(!dir.join(".opflow-new").exists());
    }
}
