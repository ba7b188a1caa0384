//! Hostile manifests, through the real binary: each gets a diagnostic (or a
//! correct result) within bounded time, and never a panic (exit 101) or a
//! crash. The big inputs are made here, not committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Case {
    file: &'static str,
    bytes: Vec<u8>,
    /// The diagnostic code expected first, or `None` for a manifest that compiles.
    code: Option<&'static str>,
}

fn op(extra: &str) -> String {
    format!("version = 1\n[[operations]]\nname = \"a.b\"\ncall = \"m:f\"\n{extra}\n")
}

fn cases() -> Vec<Case> {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut bomb = String::from("version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10u8 {
        let prev = char::from(b'a' + i - 1);
        let name = char::from(b'a' + i);
        let refs = vec![format!("*{prev}"); 10].join(", ");
        let _ = writeln!(bomb, "{name}: &{name} [{refs}]");
    }
    vec![
        Case { file: "deep.toml", bytes: op(&format!("params = {{ x = {{ type = \"int\", default = {} }} }}", nested(10_000))).into_bytes(), code: Some("opflow::manifest::syntax") },
        Case { file: "deep.json", bytes: format!("{{\"version\": 1, \"x\": {}}}", nested(10_000)).into_bytes(), code: Some("opflow::manifest::syntax") },
        Case { file: "deep.yaml", bytes: format!("version: 1\nx: {}\n", nested(10_000)).into_bytes(), code: Some("opflow::manifest::syntax") },
        Case { file: "bomb.yaml", bytes: bomb.into_bytes(), code: Some("opflow::manifest::syntax") },
        Case { file: "doc.toml", bytes: op(&format!("doc = \"{}\"", "x".repeat(10_000_000))).into_bytes(), code: None },
        Case { file: "name.toml", bytes: format!("version = 1\n[[operations]]\nname = \"{}.b\"\ncall = \"m:f\"\n", "a".repeat(1_000_000)).into_bytes(), code: None },
        Case { file: "segments.toml", bytes: format!("version = 1\n[[operations]]\nname = \"{}\"\ncall = \"m:f\"\n", vec!["a"; 100_000].join(".")).into_bytes(), code: Some("opflow::hierarchy::too_deep") },
        Case { file: "bigint.toml", bytes: op("params = { x = { type = \"int\", default = 99999999999999999999999 } }").into_bytes(), code: None },
        Case { file: "nan.toml", bytes: op("params = { x = { type = \"float\", default = nan }, y = { type = \"float\", default = -inf } }").into_bytes(), code: None },
        Case { file: "controls.toml", bytes: op("doc = \"nul \\u0000 cr \\r\\n separator \\u2028 bidi \\u202e\"").into_bytes(), code: None },
        Case { file: "crlf.toml", bytes: op("").replace('\n', "\r\n").into_bytes(), code: None },
        Case { file: "bom.toml", bytes: [b"\xef\xbb\xbf".as_slice(), op("").as_bytes()].concat(), code: None },
        Case { file: "bom.yaml", bytes: b"\xef\xbb\xbfversion: 1\noperations:\n  - name: a.b\n    call: \"m:f\"\n".to_vec(), code: None },
        Case { file: "bom.json", bytes: b"\xef\xbb\xbf{\"version\": 1}".to_vec(), code: None },
        Case { file: "dupe.toml", bytes: b"version = 1\nversion = 1\n".to_vec(), code: Some("opflow::manifest::syntax") },
        Case { file: "dupe.yaml", bytes: b"version: 1\nversion: 1\n".to_vec(), code: Some("opflow::manifest::syntax") },
        Case { file: "dupe.json", bytes: b"{\"version\": 1, \"version\": 1}".to_vec(), code: Some("opflow::manifest::syntax") },
        Case { file: "confusable.toml", bytes: format!("{}[[operations]]\nname = \"a.\u{0431}\"\ncall = \"m:f\"\n", op("")).into_bytes(), code: Some("opflow::hierarchy::invalid_name") },
        Case { file: "empty.toml", bytes: Vec::new(), code: Some("opflow::schema::missing_field") },
        Case { file: "binary.toml", bytes: vec![0xff, 0xfe, 0x00, 0x01], code: Some("opflow::manifest::unreadable") },
    ]
}

#[test]
fn hostile_manifests_get_a_diagnostic_in_bounded_time() {
    let dir = std::env::temp_dir().join(format!("opflow-hostile-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let path: PathBuf = dir.join(case.file);
        fs::write(&path, &case.bytes).unwrap();
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_opflow"))
            .args(["check", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        let took = start.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let code = output.status.code();
        let ok = match case.code {
            None => code == Some(0),
            Some(expected) => {
                code == Some(1) && stdout.contains(&format!("\"code\": \"{expected}\""))
            }
        };
        if !ok || took > Duration::from_secs(30) {
            failures.push(format!(
                "{}: exit {code:?} in {took:?}\n{}{}",
                case.file,
                stdout.chars().take(400).collect::<String>(),
                String::from_utf8_lossy(&output.stderr)
                    .chars()
                    .take(400)
                    .collect::<String>()
            ));
        }
    }
    // A directory given as the manifest.
    let folder = dir.join("folder.toml");
    fs::create_dir_all(&folder).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_opflow"))
        .args(["check"])
        .arg(&folder)
        .output()
        .unwrap();
    if output.status.code() != Some(1) {
        failures.push(format!("folder.toml: exit {:?}", output.status.code()));
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
