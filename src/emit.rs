//! Stage 7: the rendered files → disk. The only stage that writes.
//!
//! The whole package is written to a temporary folder beside the target and
//! swapped into place in one atomic rename, so an interrupted build leaves the
//! old package or the new one, never a mix. Files opflow did not generate are
//! never overwritten or deleted (they are carried into the new folder as hard
//! links); a generated file edited by hand is only replaced with `force`.
//!
//! Files are taken one at a time, as rendering finishes them ([`Package`]),
//! and written straight into the temporary folder: a large package is never
//! held in memory whole.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::diagnostic::Diagnostic;
use crate::render::{Ownership, ownership};

/// What a build changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// The entries of the output folder before the build, by name: whether each
/// is a regular file (a symbolic link or a folder is never opflow's).
fn entries(dir: &Path) -> Result<BTreeMap<PathBuf, bool>, IoFailure> {
    let mut found = BTreeMap::new();
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err((dir.to_path_buf(), error)),
    };
    for entry in listing {
        let entry = entry.map_err(at(dir))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        found.insert(PathBuf::from(entry.file_name()), is_file);
    }
    Ok(found)
}

/// The text of a file opflow generated, edited or not; `None` for anything
/// else (a file of the user's, one that cannot be read as text, or an entry
/// that is not a regular file, which is never opened: a named pipe would
/// never answer).
fn generated_text(path: &Path, is_file: bool) -> Option<(Ownership, String)> {
    if !is_file {
        return None;
    }
    let text = fs::read_to_string(path).ok()?;
    match ownership(&text) {
        Ownership::Foreign => None,
        kind => Some((kind, text)),
    }
}

/// What [`Package::add`] does with a file, given what is on disk.
enum Verdict {
    Write,
    /// The same text is there already.
    Unchanged,
    /// Something that must not be replaced is there.
    Refuse(Diagnostic),
}

/// A file's size and modification time, to tell whether it changed.
type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::symlink_metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

/// Writes one file; the tests pass one that fails on purpose.
type WriteFile<'a> = dyn Fn(&Path, &str) -> io::Result<()> + Sync + 'a;

/// A package being written into `dir`. [`Package::add`] takes each rendered
/// file (from any thread): one whose text is already on disk is left alone,
/// any other goes into the staging folder at once. [`Package::finish`] then
/// checks what would be lost, and swaps the staging folder into place. Until
/// it has, `dir` is untouched; a package dropped unfinished removes its
/// staging folder.
pub struct Package<'a> {
    dir: PathBuf,
    staging: PathBuf,
    force: bool,
    /// The folder's entries before the build.
    found: BTreeMap<PathBuf, bool>,
    write: Box<WriteFile<'a>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether the staging folder has been made.
    staged: bool,
    added: BTreeSet<PathBuf>,
    /// Size and time of each file of the old package that is written over,
    /// when it was judged: if they change before the swap, it is judged again.
    stamps: BTreeMap<PathBuf, Stamp>,
    written: Vec<PathBuf>,
    unchanged: Vec<PathBuf>,
    problems: Vec<(PathBuf, Diagnostic)>,
    failure: Option<IoFailure>,
}

impl<'a> Package<'a> {
    /// Start a package in `dir`; `force` replaces generated files edited by hand.
    pub fn new(dir: &Path, force: bool) -> Result<Self, Vec<Diagnostic>> {
        Self::with_writer(dir, force, Box::new(write_in_pieces))
    }

    fn with_writer(
        dir: &Path,
        force: bool,
        write: Box<WriteFile<'a>>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let found = entries(dir).map_err(|(path, error)| vec![io_error(&path, &error)])?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging: staging(dir),
            force,
            found,
            write,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take one file of the package: `name` inside the folder, and its text.
    pub fn add(&self, name: PathBuf, text: String) {
        let path = self.dir.join(&name);
        let verdict = match self.found.get(&name) {
            None => Verdict::Write,
            Some(&is_file) => match generated_text(&path, is_file) {
                None => Verdict::Refuse(Diagnostic::ForeignFile { path }),
                Some((_, old)) if old == text => Verdict::Unchanged,
                Some((Ownership::Edited, _)) if !self.force => {
                    Verdict::Refuse(Diagnostic::EditedFile { path })
                }
                Some(_) => {
                    if let Some(stamp) = stamp(&path) {
                        self.state().stamps.insert(name.clone(), stamp);
                    }
                    Verdict::Write
                }
            },
        };
        {
            let mut state = self.state();
            if !state.added.insert(name.clone()) {
                // Resolve gives every file its own name; never write one twice.
                debug_assert!(false, "{} added twice", name.display());
                return;
            }
            match verdict {
                Verdict::Write => {}
                Verdict::Unchanged => return state.unchanged.push(name),
                Verdict::Refuse(problem) => return state.problems.push((name, problem)),
            }
            // After a problem or a failure the build is lost: write no more.
            if !state.problems.is_empty() || state.failure.is_some() {
                return;
            }
            if !state.staged {
                if let Err(failure) = self.make_staging() {
                    state.failure = Some(failure);
                    return;
                }
                state.staged = true;
            }
        }
        let target = self.staging.join(&name);
        let result = (self.write)(&target, &text);
        drop(text);
        let mut state = self.state();
        match result {
            Ok(()) => state.written.push(name),
            Err(error) => {
                state.failure.get_or_insert((target, error));
            }
        }
    }

    /// Make the staging folder beside `dir` (and `dir`'s parents).
    fn make_staging(&self) -> Result<(), IoFailure> {
        let parent = parent(&self.dir);
        fs::create_dir_all(parent).map_err(at(parent))?;
        // A staging folder left by an interrupted build holds nothing of
        // value: every file in it is either generated or a link to a file
        // that is still in the package.
        if self.staging.exists() {
            fs::remove_dir_all(&self.staging).map_err(at(&self.staging))?;
        }
        fs::create_dir(&self.staging).map_err(at(&self.staging))
    }

    /// Check what the new package would lose, then put it in place of the
    /// old one. Reports every problem at once; on any, `dir` is untouched.
    pub fn finish(self) -> Result<Changes, Vec<Diagnostic>> {
        let mut state = std::mem::take(&mut *self.state());
        // Still this package's to remove, should it not be swapped in.
        self.state().staged = state.staged;
        // The folder as it is now: entries made while rendering count too.
        let now = match entries(&self.dir) {
            Ok(now) => now,
            Err((path, error)) => return Err(vec![io_error(&path, &error)]),
        };
        state.written.sort();
        let mut removed = Vec::new();
        let mut foreign = Vec::new();
        for (name, &is_file) in &now {
            let path = self.dir.join(name);
            if state.added.contains(name) {
                // A file written over that changed since it was judged (or
                // appeared since): judged again.
                let rewritten = state.written.binary_search(name).is_ok();
                if rewritten && state.stamps.get(name) != stamp(&path).as_ref() {
                    match generated_text(&path, is_file) {
                        None => state
                            .problems
                            .push((name.clone(), Diagnostic::ForeignFile { path })),
                        Some((Ownership::Edited, _)) if !self.force => state
                            .problems
                            .push((name.clone(), Diagnostic::EditedFile { path })),
                        Some(_) => {}
                    }
                }
                continue;
            }
            match generated_text(&path, is_file) {
                Some((Ownership::Edited, _)) if !self.force => {
                    state
                        .problems
                        .push((name.clone(), Diagnostic::EditedFile { path }));
                }
                Some(_) => removed.push(name.clone()),
                None => foreign.push(name.clone()),
            }
        }
        if !state.problems.is_empty() {
            state.problems.sort_by(|a, b| a.0.cmp(&b.0));
            return Err(state.problems.into_iter().map(|(_, p)| p).collect());
        }
        if let Some((path, error)) = state.failure {
            return Err(vec![io_error(&path, &error)]);
        }
        state.unchanged.sort();
        let changes = Changes {
            written: state.written,
            unchanged: state.unchanged,
            removed,
        };
        if changes.written.is_empty() && changes.removed.is_empty() {
            return Ok(changes);
        }
        self.swap_in(state.staged, &changes.unchanged, &foreign)
            .map_err(|(path, error)| vec![io_error(&path, &error)])?;
        Ok(changes)
    }

    /// Complete the staging folder with what the new package keeps of the
    /// old (unchanged files and the user's), and swap it into place.
    fn swap_in(
        &self,
        staged: bool,
        unchanged: &[PathBuf],
        foreign: &[PathBuf],
    ) -> Result<(), IoFailure> {
        if !staged {
            self.make_staging()?;
            self.state().staged = true;
        }
        for name in unchanged.iter().chain(foreign) {
            carry(&self.dir.join(name), &self.staging.join(name))?;
        }
        sync_dir(&self.staging);
        if self.dir.exists() {
            swap(&self.staging, &self.dir).map_err(at(&self.dir))?;
            // The staging folder now holds the old package.
            fs::remove_dir_all(&self.staging).map_err(at(&self.staging))?;
        } else {
            fs::rename(&self.staging, &self.dir).map_err(at(&self.dir))?;
        }
        sync_dir(parent(&self.dir));
        Ok(())
    }
}

impl Drop for Package<'_> {
    fn drop(&mut self) {
        if self.state().staged && self.staging.exists() {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

fn io_error(path: &Path, error: &io::Error) -> Diagnostic {
    Diagnostic::WriteFailed {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// The folder `dir` is in.
fn parent(dir: &Path) -> &Path {
    dir.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
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

/// How much of a file one `write` hands the kernel.
const WRITE_PIECE: usize = 64 * 1024;

/// Write `text` to a new file at `path`, [`WRITE_PIECE`] bytes at a time.
/// A large module written in one call had the kernel look for large runs
/// of free memory for its page cache, and on a machine whose memory other
/// processes had churned, that waited on compaction (BENCHMARKS.md, tenth
/// round); in pieces it does not.
fn write_in_pieces(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    let mut file = fs::File::create(path)?;
    for piece in text.as_bytes().chunks(WRITE_PIECE) {
        file.write_all(piece)?;
    }
    Ok(())
}

/// Make a folder's entries durable (best effort: not every system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

/// `--check`: what would change, as a unified diff (empty when up to date).
pub fn diff(dir: &Path, files: &BTreeMap<PathBuf, String>) -> Result<String, Vec<Diagnostic>> {
    let found = entries(dir).map_err(|(path, error)| vec![io_error(&path, &error)])?;
    let old_text = |name: &Path| {
        let &is_file = found.get(name)?;
        generated_text(&dir.join(name), is_file).map(|(_, text)| text)
    };
    let mut out = String::new();
    for (name, text) in files {
        let old = old_text(name).unwrap_or_default();
        if &old != text {
            out.push_str(&unified(&dir.join(name), &old, text));
        }
    }
    for name in found.keys().filter(|name| !files.contains_key(*name)) {
        if let Some(old) = old_text(name) {
            out.push_str(&unified(&dir.join(name), &old, ""));
        }
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

    /// Write `files` into `dir` through a [`Package`], as a build does.
    fn emit(
        dir: &Path,
        files: &BTreeMap<PathBuf, String>,
        force: bool,
    ) -> Result<Changes, Vec<Diagnostic>> {
        let package = Package::new(dir, force)?;
        for (name, text) in files {
            package.add(name.clone(), text.clone());
        }
        package.finish()
    }

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
    fn a_file_written_in_pieces_is_the_text_whole() {
        let scratch = Scratch::new("pieces");
        // Pieces that end inside a character of several bytes, and a last
        // short one.
        let text = "é✓𝄞 ".repeat(3 * super::WRITE_PIECE / 10 + 7);
        assert!(text.len() > 2 * super::WRITE_PIECE);
        let path = scratch.0.join("long.py");
        super::write_in_pieces(&path, &text).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        super::write_in_pieces(&path, "short\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "short\n");
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
        assert!(!staging(&dir).exists(), "and nothing is left beside it");
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
            let written = std::sync::atomic::AtomicUsize::new(0);
            let failing = |path: &Path, text: &str| {
                if written.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == fail_at {
                    return Err(io::Error::other("disk full"));
                }
                fs::write(path, text)
            };
            let package = Package::with_writer(&dir, false, Box::new(failing)).unwrap();
            for (name, text) in &new {
                package.add(name.clone(), text.clone());
            }
            let problems = package.finish().unwrap_err();
            assert!(
                matches!(&problems[..], [Diagnostic::WriteFailed { reason, .. }] if reason == "disk full"),
                "{problems:?}"
            );
            for (name, text) in &old {
                assert_eq!(
                    &fs::read_to_string(dir.join(name)).unwrap(),
                    text,
                    "after a failure at file {fail_at}"
                );
            }
            assert_eq!(read(&dir, "mine.txt"), "keep");
            assert!(!staging(&dir).exists(), "the staging folder is cleared");
        }
        // A staging folder an interrupted build left behind is cleared.
        fs::create_dir_all(staging(&dir).join("half")).unwrap();
        // The next build clears what the failed one left behind.
        emit(&dir, &new, false).unwrap();
        assert_eq!(read(&dir, "c.py"), new[Path::new("c.py")]);
        assert!(!staging(&dir).exists());
    }

    #[test]
    fn what_changes_in_the_folder_while_rendering_is_not_lost() {
        let scratch = Scratch::new("late");
        let dir = scratch.0.join("out");
        emit(&dir, &package(&[("a.py", "a = 1\n")]), false).unwrap();
        // A file of the user's appears while the package is being written.
        let build = Package::new(&dir, false).unwrap();
        build.add("a.py".into(), generated("a = 2\n"));
        fs::write(dir.join("late.txt"), "mine").unwrap();
        build.finish().unwrap();
        assert_eq!(read(&dir, "late.txt"), "mine");
        assert!(read(&dir, "a.py").contains("a = 2"));
        // A generated file edited by hand while the new one is written.
        let build = Package::new(&dir, false).unwrap();
        build.add("a.py".into(), generated("a = 3\n"));
        let edited = read(&dir, "a.py") + "# mine\n";
        fs::write(dir.join("a.py"), &edited).unwrap();
        let problems = build.finish().unwrap_err();
        assert!(
            matches!(&problems[..], [Diagnostic::EditedFile { path }] if path.ends_with("a.py")),
            "{problems:?}"
        );
        assert_eq!(read(&dir, "a.py"), edited);
        assert!(!staging(&dir).exists());
    }

    #[cfg(unix)]
    #[test]
    fn entries_that_are_not_files_are_never_read() {
        let scratch = Scratch::new("fifo");
        let dir = scratch.0.join("out");
        emit(&dir, &package(&[("a.py", "a = 1\n")]), false).unwrap();
        // Opening a named pipe for reading would wait for a writer forever.
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", dir.join("zeros")).unwrap();
        // On a thread, so that a build stuck reading fails the test instead
        // of hanging it (the stuck thread dies with the test process).
        let (done, finished) = std::sync::mpsc::channel();
        let out = dir.clone();
        std::thread::spawn(move || {
            let _ = done.send(emit(&out, &package(&[("a.py", "a = 2\n")]), false));
        });
        let built = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the build read a named pipe or an endless file");
        built.unwrap();
        let kind = |name: &str| fs::symlink_metadata(dir.join(name)).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind("pipe")));
        assert!(kind("zeros").is_symlink());
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
