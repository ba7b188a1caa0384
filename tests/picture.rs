//! The README's picture of the example, `docs/scraping.svg`, is what
//! `opflow graph` draws today. Regenerate it, from the repository's root, with
//! `opflow graph examples/scraping/operations.toml --format svg --flow scraping > docs/scraping.svg`
//! (or `cargo run -q -- graph ...`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "opflow graph examples/scraping/operations.toml --format svg --flow scraping > docs/scraping.svg";

#[test]
fn the_readme_picture_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_opflow"))
        .args([
            "graph",
            "examples/scraping/operations.toml",
            "--format",
            "svg",
            "--flow",
            "scraping",
        ])
        .current_dir(root)
        .output()
        .expect("run opflow");
    assert!(
        output.status.success(),
        "opflow graph failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let drawn = String::from_utf8(output.stdout).expect("the SVG is UTF-8");
    let committed = std::fs::read_to_string(root.join("docs/scraping.svg")).unwrap_or_default();
    assert!(
        committed == drawn,
        "docs/scraping.svg is stale; regenerate it from the repository's root with\n\n    {}\n",
        REGENERATE.replace("opflow ", "cargo run -q -- ")
    );
}
