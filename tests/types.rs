//! The compiler reads the shared corpus of type strings (`tests/types/corpus.toml`)
//! as it says: accepted strings parse to their modern and normal forms,
//! refused ones do not parse. `python/tests/test_types.py` holds opflow's
//! Python package to the same file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use opflow::resolve::types::parse;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    accepted: Vec<Accepted>,
    refused: Vec<Refused>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Accepted {
    #[serde(rename = "type")]
    ty: String,
    modern: String,
    normal: String,
    /// How `opflow scan` writes the string's annotation, where `modern`
    /// rewrites it further: the same type.
    #[serde(default)]
    scanned: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refused {
    #[serde(rename = "type")]
    ty: String,
    why: String,
}

fn corpus() -> Corpus {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/types/corpus.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap()
}

#[test]
fn the_corpus_covers_both_sides() {
    let corpus = corpus();
    assert!(corpus.accepted.len() >= 50, "{}", corpus.accepted.len());
    assert!(corpus.refused.len() >= 40, "{}", corpus.refused.len());
}

#[test]
fn accepted_strings_parse_to_their_modern_and_normal_forms() {
    let mut wrong = Vec::new();
    for case in corpus().accepted {
        let ty = match parse(&case.ty) {
            Ok(ty) => ty,
            Err(error) => {
                wrong.push(format!("{:?} refused: {}", case.ty, error.reason));
                continue;
            }
        };
        let (modern, normal) = (ty.modern().to_string(), ty.normalized().to_string());
        if modern != case.modern {
            wrong.push(format!(
                "{:?}: modern {modern:?}, corpus {:?}",
                case.ty, case.modern
            ));
        }
        if normal != case.normal {
            wrong.push(format!(
                "{:?}: normal {normal:?}, corpus {:?}",
                case.ty, case.normal
            ));
        }
        // Each form is a fixed point of its own function, and means the same
        // type as the string it came from.
        let again = parse(&modern).unwrap();
        assert_eq!(again.modern().to_string(), modern, "{:?}", case.ty);
        assert_eq!(again.normalized().to_string(), normal, "{:?}", case.ty);
        let again = parse(&normal).unwrap();
        assert_eq!(again.normalized().to_string(), normal, "{:?}", case.ty);
        if let Some(scanned) = &case.scanned {
            let scanned = parse(scanned).unwrap();
            assert_eq!(scanned.modern().to_string(), modern, "{:?}", case.ty);
            assert_eq!(scanned.normalized().to_string(), normal, "{:?}", case.ty);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn refused_strings_do_not_parse() {
    let mut wrong = Vec::new();
    for case in corpus().refused {
        match parse(&case.ty) {
            Ok(ty) => wrong.push(format!("{:?} ({}) parsed as `{ty}`", case.ty, case.why)),
            Err(error) => {
                // The span points into the string, at a character boundary.
                let (start, end) = error.range;
                assert!(start <= end && end <= case.ty.len(), "{:?}", case.ty);
                assert!(case.ty.get(start..end).is_some(), "{:?}", case.ty);
                assert!(!error.reason.is_empty() && !error.help.is_empty());
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
