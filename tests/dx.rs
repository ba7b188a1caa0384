//! Terminal manners through the real binary: completions, colour, quiet,
//! GitHub annotations, and `opflow init`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn opflow(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opflow"));
    command.args(args).current_dir(dir).env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("opflow-dx-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = opflow(&["completions", shell], &cases(), &[]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["opflow", "build", "run", "init", "scan"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = cases().join("invalid-cycle-two");
    let has_escape = |output: &Output| output.stderr.contains(&0x1b);
    assert!(has_escape(&opflow(
        &["check", "--color", "always"],
        &dir,
        &[]
    )));
    assert!(!has_escape(&opflow(
        &["check", "--color", "never"],
        &dir,
        &[]
    )));
    assert!(
        !has_escape(&opflow(&["check"], &dir, &[])),
        "not a terminal: no colour"
    );
    assert!(!has_escape(&opflow(&["check"], &dir, &[("NO_COLOR", "1")])));
    assert!(has_escape(&opflow(
        &["check", "--color", "always"],
        &dir,
        &[("NO_COLOR", "1")]
    )));
}

#[test]
fn quiet_prints_only_results_and_problems() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping");
    let loud = opflow(&["check"], &dir, &[]);
    assert!(String::from_utf8_lossy(&loud.stderr).starts_with("ok: "));
    let quiet = opflow(&["check", "--quiet"], &dir, &[]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty());
    let problems = opflow(&["-q", "check"], &cases().join("invalid-cycle-two"), &[]);
    assert_eq!(problems.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&problems.stderr).contains("opflow::graph::cycle"));
}

#[test]
fn github_annotations() {
    let output = opflow(
        &["check", "--format", "github"],
        &cases().join("invalid-multi-json"),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("::error file=operations.json,line=4,col=29,title=opflow%3A%3Aresolve%3A%3Ainvalid_call::invalid call `pkg.mod`"), "{text}");
    assert!(
        lines.iter().all(|line| line.contains("%0Ahelp: ")),
        "{text}"
    );
    let clean = opflow(
        &["check", "--format", "github"],
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping"),
        &[],
    );
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty() && clean.stderr.is_empty());
}

#[test]
fn init_scaffolds_a_project_that_builds_and_refuses_to_overwrite() {
    let dir = scratch("init").join("hello");
    let created = opflow(&["init", dir.to_str().unwrap()], &std::env::temp_dir(), &[]);
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".gitignore",
            "operations.toml",
            "opflow.schema.json",
            "steps.py"
        ]
    );
    let manifest = fs::read_to_string(dir.join("operations.toml")).unwrap();
    assert!(manifest.starts_with("#:schema opflow.schema.json\n"));
    assert_eq!(
        fs::read_to_string(dir.join("opflow.schema.json")).unwrap(),
        opflow::schema::schema_text()
    );
    assert!(
        fs::read_to_string(dir.join(".gitignore"))
            .unwrap()
            .contains("run_cache/")
    );
    assert_eq!(opflow(&["check"], &dir, &[]).status.code(), Some(0));
    let build = opflow(&["build"], &dir, &[]);
    assert_eq!(
        build.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(dir.join("run_cache/orchestration/hello.py").is_file());

    fs::write(dir.join("steps.py"), "# mine\n").unwrap();
    let again = opflow(&["init", dir.to_str().unwrap()], &std::env::temp_dir(), &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("opflow::init::exists"));
    assert_eq!(
        fs::read_to_string(dir.join("steps.py")).unwrap(),
        "# mine\n"
    );
    let _ = fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn watch_rebuilds_on_save_and_keeps_the_last_good_package() {
    use std::time::{Duration, Instant};
    let dir = scratch("watch");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping/operations.toml");
    let manifest = dir.join("operations.toml");
    fs::copy(example, &manifest).unwrap();
    let log = dir.join("watch.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_opflow"))
        .args(["build", "--watch"])
        .current_dir(&dir)
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let module = dir.join("run_cache/orchestration/_tasks.py");
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
    wait("the first build", &|| read(&module).contains("retries=1,"));
    let text = read(&manifest);
    fs::write(&manifest, text.replace("retries = 1", "retries = 5")).unwrap();
    wait("a rebuild", &|| read(&module).contains("retries=5,"));
    fs::write(&manifest, text.replace("jobs.merge:merge", "jobs.merge")).unwrap();
    wait("the problem", &|| {
        read(&log).contains("opflow::resolve::invalid_call")
    });
    assert!(
        read(&module).contains("retries=5,"),
        "the last good package stays"
    );
    fs::write(&manifest, &text).unwrap();
    wait("the fix", &|| read(&module).contains("retries=1,"));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn warnings_in_every_format_exit_0_unless_denied() {
    let dir = cases().join("warning-likely-typo");
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();

    let human = opflow(&["check", "--color", "never"], &dir, &[]);
    assert_eq!(human.status.code(), Some(0));
    let err = text(&human.stderr);
    assert!(
        err.contains("⚠ parameter `shuot` of `hello.print`"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `shout`?"), "{err}");
    assert!(err.contains("warning: 2 warnings\n"), "{err}");
    assert!(err.contains("ok: operations.toml has 4 operations in 1 flow, plus `all`"));

    let short = opflow(&["check", "--format", "short"], &dir, &[]);
    assert_eq!(short.status.code(), Some(0));
    assert!(text(&short.stderr).starts_with(
        "operations.toml:15:12: warning[opflow::resolve::likely_typo]: parameter `shuot`"
    ));

    let json = opflow(&["check", "--format", "json"], &dir, &[]);
    assert_eq!(json.status.code(), Some(0));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let severities: Vec<&str> = parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["warning", "warning"]);

    let github = opflow(&["check", "--format", "github"], &dir, &[]);
    assert_eq!(github.status.code(), Some(0));
    assert!(text(&github.stdout).starts_with(
        "::warning file=operations.toml,line=15,col=12,title=opflow%3A%3Aresolve%3A%3Alikely_typo::"
    ));

    let denied = opflow(
        &["check", "--deny-warnings", "--format", "short"],
        &dir,
        &[],
    );
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stderr).contains("warning[opflow::resolve::likely_typo]"));
    // Another command compiles the same manifest, and is stopped the same way.
    let plan = opflow(&["plan", "--deny-warnings"], &dir, &[]);
    assert_eq!(plan.status.code(), Some(1));
    assert!(plan.stdout.is_empty());
}

#[test]
fn errors_and_warnings_are_counted_apart() {
    let dir = scratch("counted-apart");
    let manifest = fs::read_to_string(cases().join("warning-likely-typo/operations.toml"))
        .unwrap()
        .replace(
            "params = { text = \"str\" }",
            "params = { text = { type = \"str\", default = 3 } }",
        );
    fs::write(dir.join("operations.toml"), manifest).unwrap();
    let output = opflow(&["check", "--color", "never"], &dir, &[]);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("opflow::resolve::default_type_mismatch"),
        "{err}"
    );
    assert!(
        err.ends_with("error: 1 problem found (and 2 warnings)\n"),
        "{err}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn plan_and_graph_take_the_flow_like_run() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping");
    let text = |output: &Output| String::from_utf8(output.stdout.clone()).unwrap();
    for args in [
        vec!["plan", "scraping"],
        vec!["plan", "operations.toml", "scraping"],
        vec!["plan", "--flow", "scraping"],
    ] {
        let output = opflow(&args, &example, &[]);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let plan = text(&output);
        assert!(plan.contains("flow scraping"), "{args:?}: {plan}");
        assert!(!plan.contains("flow all"), "{args:?}: {plan}");
    }
    let all = text(&opflow(&["plan"], &example, &[]));
    assert!(
        all.contains("flow all") && all.contains("flow scraping"),
        "{all}"
    );

    let positional = opflow(&["graph", "scraping", "--format", "dot"], &example, &[]);
    let flag = opflow(
        &["graph", "--flow", "scraping", "--format", "dot"],
        &example,
        &[],
    );
    assert_eq!(positional.status.code(), Some(0));
    assert_eq!(positional.stdout, flag.stdout);
    assert!(text(&positional).starts_with("digraph \"scraping\" {"));
    let all = opflow(&["graph", "--format", "dot"], &example, &[]);
    assert!(text(&all).starts_with("digraph \"all\" {"));

    let unknown = opflow(&["plan", "scrapng"], &example, &[]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8(unknown.stderr).unwrap();
    assert!(err.contains("opflow::runtime::unknown_flow"), "{err}");
    assert!(err.contains("did you mean `scraping`?"), "{err}");
}

#[test]
fn a_param_without_a_value_is_a_usage_error() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping");
    // Refused before any Python or server is looked for.
    let output = opflow(
        &[
            "run",
            "scraping",
            "--param",
            "keywords",
            "--python",
            "/nonexistent/python",
        ],
        &example,
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("opflow::runtime::param_without_value"),
        "{err}"
    );
    assert!(err.contains("--param keywords=VALUE"), "{err}");
}
