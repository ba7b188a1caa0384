//! The committed schema is the one the code derives, and every example
//! manifest compiles, the same in TOML and YAML.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/opflow.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = opflow::schema::schema_text();
    if committed != current {
        let diff: Vec<String> = committed
            .lines()
            .zip(current.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  committed: {a}\n  current:   {b}", i + 1))
            .collect();
        panic!(
            "schema/opflow.schema.json is stale; regenerate it with\n\n    cargo run -- schema > schema/opflow.schema.json\n\nfirst differences:\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn schema_is_draft_07_without_2020_keywords() {
    let schema = opflow::schema::schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let text = schema.to_string();
    for keyword in [
        "prefixItems",
        "$defs",
        "unevaluatedProperties",
        "dependentRequired",
    ] {
        assert!(!text.contains(keyword), "draft-07 has no `{keyword}`");
    }
}

#[test]
fn every_schema_property_has_a_description() {
    fn walk(node: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                if prop.get("description").is_none() {
                    missing.push(format!("{path}/{name}"));
                }
                walk(prop, &format!("{path}/{name}"), missing);
            }
        }
        if let Some(defs) = node.get("definitions").and_then(|d| d.as_object()) {
            for (name, def) in defs {
                walk(def, &format!("#/definitions/{name}"), missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&opflow::schema::schema(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:?}"
    );
}

fn plan(manifest: &Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_opflow"))
        .args(["plan", "--format", "json"])
        .arg(manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} does not compile:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn examples_compile_and_formats_agree() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        let toml = dir.join("operations.toml");
        let yaml = dir.join("operations.yaml");
        if toml.is_file() && yaml.is_file() {
            assert_eq!(
                plan(&toml),
                plan(&yaml),
                "{}: TOML and YAML differ",
                dir.display()
            );
            checked += 1;
        } else if toml.is_file() {
            plan(&toml);
            checked += 1;
        }
    }
    assert!(checked > 0, "no example found");
}

#[test]
fn scraping_example_has_the_seed_stages() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping/operations.toml");
    let plan: serde_json::Value = serde_json::from_str(&plan(&manifest)).unwrap();
    let flow = plan["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "scraping")
        .unwrap();
    assert_eq!(
        flow["stages"],
        serde_json::json!([
            ["scraping.linkedin.fetch", "scraping.stepstone.fetch"],
            ["scraping.merge"]
        ])
    );
    let merge = flow["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "scraping.merge")
        .unwrap();
    assert_eq!(
        merge["bindings"]["stepstone"],
        serde_json::json!({"rule": "name", "from": "scraping.stepstone.fetch", "type": "list[jobs.models.Listing]"})
    );
    assert_eq!(
        merge["bindings"]["linkedin"]["from"],
        "scraping.linkedin.fetch"
    );
    assert_eq!(
        flow["params"][0],
        serde_json::json!({"name": "keywords", "type": "str", "default": null, "required": true})
    );
}

/// The README's manifest example compiles, and its plan says what the README says.
#[test]
fn readme_examples_are_true() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a TOML example") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let source = opflow::manifest::Source {
        path: "README.md".into(),
        text: readme[start..end].to_owned(),
    };
    let compiled =
        opflow::compile_source(source, opflow::manifest::Format::Toml).unwrap_or_else(|failure| {
            panic!("README example does not compile: {:?}", failure.diagnostics)
        });
    let flow = compiled
        .graph
        .flows
        .iter()
        .find(|f| f.name == "scraping")
        .unwrap();
    assert_eq!(flow.stages.len(), 2);
    assert!(readme.contains("stepstone <- scraping.stepstone.fetch (name)"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scraping/operations.toml");
    let plan_text = std::process::Command::new(env!("CARGO_BIN_EXE_opflow"))
        .arg("plan")
        .arg(&manifest)
        .output()
        .unwrap();
    let plan_text = String::from_utf8(plan_text.stdout).unwrap();
    assert!(plan_text.contains("    stepstone <- scraping.stepstone.fetch (name)\n    linkedin <- scraping.linkedin.fetch (name)\n"));
}

/// Editors list an enum's values with their descriptions.
#[test]
fn every_enum_value_has_a_description() {
    let schema = opflow::schema::schema();
    let mut enums = 0;
    for (name, definition) in schema["definitions"].as_object().unwrap() {
        let Some(choices) = definition.get("oneOf").and_then(|c| c.as_array()) else {
            continue;
        };
        if !choices.iter().all(|c| c.get("const").is_some()) {
            continue;
        }
        enums += 1;
        for choice in choices {
            assert!(
                choice
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_some_and(|d| !d.is_empty()),
                "{name}: {choice}"
            );
        }
    }
    assert!(enums >= 3, "Executor, TaskRunner and Cache are enums");
}
