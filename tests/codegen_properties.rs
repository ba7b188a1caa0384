//! Properties of code generation over random valid manifests: the package is
//! the same whatever the order of operations, and every generated file
//! compiles as Python (checked in one `python3 -m py_compile` call).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use opflow::manifest::{Format, Source};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const SEGMENTS: &[&str] = &["etl", "load", "x", "report", "_tmp", "flow", "task", "data"];
const TYPES: &[&str] = &[
    "int",
    "str",
    "float",
    "list[int]",
    "dict[str, Any]",
    "str | None",
    "Optional[int]",
    "pkg.models.Row",
];

/// Strings that must stay inert in the generated code, as TOML string contents.
const HOSTILE: &[&str] = &[
    "plain",
    "quote \\\" and '",
    "triple \\\"\\\"\\\" ''' ",
    "back\\\\slash",
    "new\\nline",
    "nul \\u0000",
    "sep \\u2028",
    "{braces}",
    "# comment",
];

#[derive(Debug, Clone)]
struct Op {
    name: String,
    params: Vec<(String, String, Option<String>, Option<usize>)>,
    doc: usize,
    after: Vec<usize>,
    is_async: bool,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (
            prop::collection::vec(0..SEGMENTS.len(), 2..4),
            prop::collection::vec(
                (0..TYPES.len(), 0..4usize, prop::option::of(0..64usize)),
                0..4,
            ),
            0..HOSTILE.len(),
            prop::collection::vec(0..64usize, 0..2),
            any::<bool>(),
        ),
        1..14,
    )
    .prop_map(|raw| {
        let mut seen = std::collections::BTreeSet::new();
        let mut ops = Vec::new();
        for (i, (segments, params, doc, after, is_async)) in raw.into_iter().enumerate() {
            let mut name: Vec<&str> = segments.iter().map(|&s| SEGMENTS[s]).collect();
            let step = format!("op{i}");
            name.push(&step);
            let name = name.join(".");
            if !seen.insert(name.clone()) {
                continue;
            }
            let index = ops.len();
            let params = params
                .into_iter()
                .enumerate()
                .map(|(j, (ty, default, from))| {
                    let ty = TYPES[ty].to_owned();
                    let default = match (ty.as_str(), default) {
                        ("int", 1) => Some("123456789012345678901234567890".to_owned()),
                        ("int", 2) => Some("-7".to_owned()),
                        ("float", 1) => Some("nan".to_owned()),
                        ("float", 2) => Some("-inf".to_owned()),
                        ("str", d) if d > 0 => Some(format!("\"{}\"", HOSTILE[d % HOSTILE.len()])),
                        ("list[int]", 1) => Some("[1, 2, 3]".to_owned()),
                        _ => None,
                    };
                    // Bind to an earlier operation now and then (every one returns
                    // `int`: only a type that accepts it, as opflow checks `from`
                    // edges); flow parameters get distinct names.
                    let takes_int = matches!(ty.as_str(), "int" | "float" | "Optional[int]");
                    let from = from
                        .filter(|&f| takes_int && index > 0 && f % 3 == 0)
                        .map(|f| f % index);
                    (format!("p{index}_{j}"), ty, default, from)
                })
                .collect();
            let after = if index > 0 {
                after.into_iter().map(|a| a % index).collect()
            } else {
                Vec::new()
            };
            ops.push(Op {
                name,
                params,
                doc,
                after,
                is_async,
            });
        }
        ops
    })
}

fn manifest(ops: &[Op], order: &[usize]) -> String {
    let mut text = String::from("version = 1\n");
    for &i in order {
        let op = &ops[i];
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{}\"\ncall = \"pkg.mod{i}:run\"\n",
            op.name
        );
        if op.is_async {
            text.push_str("async = true\n");
        }
        let _ = writeln!(text, "doc = \"{}\"", HOSTILE[op.doc]);
        let params: Vec<String> = op
            .params
            .iter()
            .map(|(name, ty, default, from)| {
                let mut fields = vec![format!("type = \"{ty}\"")];
                if let Some(default) = default {
                    fields.push(format!("default = {default}"));
                }
                if let Some(from) = from {
                    fields.push(format!("from = \"{}\"", ops[*from].name));
                }
                format!("{name} = {{ {} }}", fields.join(", "))
            })
            .collect();
        let _ = writeln!(text, "params = {{ {} }}", params.join(", "));
        if !op.after.is_empty() {
            let after: Vec<String> = op
                .after
                .iter()
                .map(|&a| format!("\"{}\"", ops[a].name))
                .collect();
            let _ = writeln!(text, "depends_on = [{}]", after.join(", "));
        }
        text.push_str("returns = \"int\"\n");
    }
    text
}

fn render(text: String) -> BTreeMap<PathBuf, String> {
    let compiled = opflow::compile_source(
        Source {
            path: "operations.toml".into(),
            text,
        },
        Format::Toml,
    )
    .unwrap_or_else(|failure| {
        panic!(
            "{:?}",
            failure
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )
    });
    opflow::render::render(&compiled.graph, "operations.toml")
}

static GENERATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_order_renders_the_same_package(ops in ops(), seed in any::<u64>()) {
        let forward: Vec<usize> = (0..ops.len()).collect();
        let mut shuffled = forward.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
        }
        let files = render(manifest(&ops, &forward));
        prop_assert_eq!(&files, &render(manifest(&ops, &shuffled)));
        let mut generated = GENERATED.lock().unwrap();
        generated.extend(files.into_iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "py")).map(|(_, text)| text));
    }
}

/// Runs after the property above (same test binary, named to sort after it):
/// every module it generated compiles, in one Python call.
#[test]
fn zz_every_generated_module_compiles_as_python() {
    // The property test may run in parallel: render a fresh batch here too.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut modules: Vec<String> = GENERATED.lock().unwrap().clone();
    for _ in 0..48 {
        let ops = ops().new_tree(&mut runner).unwrap().current();
        let order: Vec<usize> = (0..ops.len()).collect();
        modules.extend(
            render(manifest(&ops, &order))
                .into_iter()
                .filter(|(p, _)| p.extension().is_some_and(|e| e == "py"))
                .map(|(_, t)| t),
        );
    }
    let dir = std::env::temp_dir().join(format!("opflow-pycompile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = Vec::new();
    for (i, text) in modules.iter().enumerate() {
        let path = dir.join(format!("m{i}.py"));
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    assert!(paths.len() > 100, "only {} modules", paths.len());
    let output = std::process::Command::new("python3")
        .arg("-m")
        .arg("py_compile")
        .args(&paths)
        .output()
        .expect("python3 on PATH");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
