//! `opflow build` killed with SIGKILL at random moments, 100 times: the output
//! folder always holds one whole package, the previous or the new, never a
//! mix; files opflow did not write are never touched. And a read-only output
//! folder gives a clear error and leaves the old package.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A manifest of `n` operations in 10 flows whose every task carries
/// `retries = version`, and whose every flow has a parameter `v` whose
/// default is the version.
fn manifest(n: usize, version: u32) -> String {
    let mut text = format!("version = 1\n\n[defaults]\nretries = {version}\n");
    for i in 0..n {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"f{}.op{i}\"\ncall = \"pkg.mod:f{i}\"\nreturns = \"int\"\n",
            i % 10
        );
        if i >= 10 {
            let _ = writeln!(
                text,
                "params = {{ x = {{ type = \"int\", from = \"f{}.op{}\" }} }}",
                i % 10,
                i - 10
            );
        } else {
            let _ = writeln!(
                text,
                "params = {{ v = {{ type = \"int\", default = {version} }} }}"
            );
        }
    }
    text
}

/// The version of every generated module in the package, or an error
/// describing what is wrong with it.
fn versions(dir: &Path) -> Result<Vec<u32>, String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.extension().is_none_or(|e| e != "py")
            || (name.starts_with('_') && name != "_tasks.py")
        {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| e.to_string())?;
        if opflow::render::ownership(&text) != opflow::render::Ownership::Generated {
            return Err(format!("{} is not a whole generated file", path.display()));
        }
        // The tasks carry the version as their retries; the flows as the
        // default of their parameter `v`.
        let marker = if name == "_tasks.py" {
            "retries="
        } else {
            "v: int = "
        };
        let version = text
            .split(marker)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{} has no version", path.display()))?;
        found.push(version);
    }
    Ok(found)
}

struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opflow-kill-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_mix() {
    let dir = scratch("loop");
    let out = dir.join("run_cache/orchestration");
    let opflow = env!("CARGO_BIN_EXE_opflow");
    fs::write(dir.join("operations.toml"), manifest(400, 0)).unwrap();
    // The fastest of three builds (the first is cold), so that kills land
    // anywhere in a build as long as this machine takes for one, and about
    // half of them while it runs.
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert!(builds(&dir));
        fastest = fastest.min(started.elapsed());
    }
    let mut span = (fastest.as_micros() * 2).clamp(2_000, 200_000) as u64;
    fs::write(out.join("NOTES.md"), "mine").unwrap();
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut last_complete = 0;
    let mut kills = 0;
    // At least 100 rounds, and on until 50 builds were killed while they ran
    // (a busy machine makes builds slower or faster than measured: the span
    // follows, shorter after a build that had ended, longer after a kill).
    let mut round = 0u32;
    while round < 100 || (kills < 50 && round < 400) {
        round += 1;
        fs::write(dir.join("operations.toml"), manifest(400, round)).unwrap();
        let mut child = Command::new(opflow)
            .arg("build")
            .current_dir(&dir)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(random.below(span)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
            span = (span + span / 20).min(400_000);
        } else {
            span = (span - span / 10).max(500);
        }
        let _ = child.kill();
        let _ = child.wait();
        let found = versions(&out).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let first = found[0];
        assert!(
            found.iter().all(|v| *v == first),
            "round {round}: a mix of versions {found:?}"
        );
        assert!(
            first == round || first == last_complete,
            "round {round}: version {first}, expected {round} or {last_complete}"
        );
        last_complete = first;
        assert_eq!(
            fs::read_to_string(out.join("NOTES.md")).unwrap(),
            "mine",
            "round {round}"
        );
    }
    assert!(
        kills >= 50,
        "only {kills} builds were killed while running: the test is not testing"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Whether `opflow build` in `dir` succeeds.
fn builds(dir: &Path) -> bool {
    Command::new(env!("CARGO_BIN_EXE_opflow"))
        .arg("build")
        .current_dir(dir)
        .status()
        .unwrap()
        .success()
}

/// Make a folder read-only for everyone, root included (`chattr +i` for
/// root, whom permissions do not stop), or writable again.
fn read_only(path: &Path, on: bool) {
    if is_root() {
        let flag = if on { "+i" } else { "-i" };
        let status = Command::new("chattr").arg(flag).arg(path).status().unwrap();
        assert!(status.success(), "chattr {flag} failed");
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            path,
            fs::Permissions::from_mode(if on { 0o555 } else { 0o755 }),
        )
        .unwrap();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn a_read_only_output_folder_is_a_clear_error_and_the_old_package_stays() {
    let dir = scratch("readonly");
    let opflow = env!("CARGO_BIN_EXE_opflow");
    fs::write(dir.join("operations.toml"), manifest(20, 1)).unwrap();
    assert!(builds(&dir));
    let parent = dir.join("run_cache");
    let before = versions(&parent.join("orchestration")).unwrap();
    // The new package is written beside the old one: make that folder read-only.
    read_only(&parent, true);
    fs::write(dir.join("operations.toml"), manifest(20, 2)).unwrap();
    let output = Command::new(opflow)
        .arg("build")
        .current_dir(&dir)
        .output()
        .unwrap();
    read_only(&parent, false);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("opflow::emit::io") && stderr.contains("cannot write"),
        "{stderr}"
    );
    assert_eq!(versions(&parent.join("orchestration")).unwrap(), before);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_old_package_stays() {
    assert!(
        is_root(),
        "this test mounts a small tmpfs, which needs root (CI runs as root)"
    );
    let dir = scratch("full");
    let disk = dir.join("disk");
    fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs failed");
    let opflow = env!("CARGO_BIN_EXE_opflow");
    let result = std::panic::catch_unwind(|| {
        fs::write(disk.join("operations.toml"), manifest(20, 1)).unwrap();
        assert!(builds(&disk));
        let before = versions(&disk.join("run_cache/orchestration")).unwrap();
        // 300 times the operations: the new package does not fit beside the old.
        fs::write(disk.join("operations.toml"), manifest(6000, 2)).unwrap();
        let output = Command::new(opflow)
            .arg("build")
            .current_dir(&disk)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("opflow::emit::io") && stderr.contains("No space left"),
            "{stderr}"
        );
        assert_eq!(
            versions(&disk.join("run_cache/orchestration")).unwrap(),
            before
        );
    });
    let _ = Command::new("umount").arg(&disk).status();
    let _ = fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
