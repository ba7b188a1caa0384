//! Stage 3: hierarchical operation names (`scraping.stepstone.fetch`).
//!
//! A name is dot-separated ASCII Python identifiers, none a keyword. The first
//! segment names the flow; the last is the step; the rest is the parent.
//! Everything the later stages ask of names is here: their parts, the module
//! a flow is written to ([`module_name`]), names nested by prefix ([`Tree`]),
//! and the topological layers that become stages ([`layers`]).

use std::collections::BTreeMap;

use serde::Serialize;

/// Default for `[project] max_depth`.
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// Python's hard keywords: not usable as identifiers.
pub const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A name split into its parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParsedName {
    /// The whole name: `scraping.stepstone.fetch`.
    pub full_name: String,
    /// Its segments: `["scraping", "stepstone", "fetch"]`.
    pub hierarchy: Vec<String>,
    /// The number of segments: 3.
    pub level: usize,
    /// The last segment: `fetch`.
    pub step: String,
    /// Everything before the step: `scraping.stepstone`; `None` for a flat name.
    pub parent: Option<String>,
}

/// Why a name is invalid, and which part of it (a byte range in the name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameError {
    pub reason: String,
    pub range: (usize, usize),
    pub help: String,
}

/// Is `s` an ASCII Python identifier (keywords included)?
pub fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `text` is dot-separated ASCII identifiers, none a keyword, at
/// most `max_segments` of them: the common case, decided in one pass over
/// the bytes (the checks that say what is wrong run only when it is not).
pub fn is_dotted_identifier(text: &str, max_segments: usize) -> bool {
    let bytes = text.as_bytes();
    let mut segments = 0;
    let mut start = 0;
    for i in 0..=bytes.len() {
        match bytes.get(i) {
            Some(b'.') | None => {
                if matches!(bytes.get(start), None | Some(b'.' | b'0'..=b'9'))
                    || is_keyword(&text[start..i])
                {
                    return false;
                }
                segments += 1;
                start = i + 1;
            }
            Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => {}
            Some(_) => return false,
        }
    }
    segments <= max_segments
}

pub fn is_keyword(s: &str) -> bool {
    // Runs for every segment of every name: a binary search of integers,
    // not of strings (no keyword is longer than 8 bytes).
    let bytes = s.as_bytes();
    if bytes.len() > 8 {
        return false;
    }
    let mut word = [0; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    let word = u64::from_le_bytes(word);
    PACKED
        .binary_search_by_key(&word, |&(packed, _)| packed)
        .is_ok_and(|i| PACKED[i].1 == bytes.len())
}

/// [`KEYWORDS`] as integers (their bytes, zero-padded, little-endian) with
/// their lengths, sorted by the integers.
const PACKED: [(u64, usize); KEYWORDS.len()] = {
    let mut packed = [(0, 0); KEYWORDS.len()];
    let mut i = 0;
    while i < KEYWORDS.len() {
        let bytes = KEYWORDS[i].as_bytes();
        let mut word = 0;
        let mut b = 0;
        while b < bytes.len() {
            word |= (bytes[b] as u64) << (8 * b);
            b += 1;
        }
        packed[i] = (word, bytes.len());
        // Insertion sort: this runs at compile time.
        let mut j = i;
        while j > 0 && packed[j - 1].0 > packed[j].0 {
            let swap = packed[j - 1];
            packed[j - 1] = packed[j];
            packed[j] = swap;
            j -= 1;
        }
        i += 1;
    }
    packed
};

/// Why `segment` is not a usable identifier, if it is not.
pub fn identifier_problem(segment: &str) -> Option<String> {
    if segment.is_empty() {
        Some("empty segment".to_owned())
    } else if segment.as_bytes()[0].is_ascii_digit() {
        Some(format!("`{segment}` starts with a digit"))
    } else if !is_identifier(segment) {
        match segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            Some(c) if c.is_whitespace() => Some(format!("`{segment}` contains whitespace")),
            Some(c) if c.is_control() => Some(format!(
                "`{}` contains `{}`",
                segment.escape_default(),
                c.escape_default()
            )),
            Some(c) if !c.is_ascii() => Some(format!(
                "`{segment}` contains `{c}`, not an ASCII letter, digit or `_`"
            )),
            Some(c) => Some(format!("`{segment}` contains `{c}`")),
            None => Some(format!("`{segment}` is not an identifier")),
        }
    } else if is_keyword(segment) {
        Some(format!("`{segment}` is a Python keyword"))
    } else {
        None
    }
}

/// Check a dotted name: identifiers separated by single dots, at most `max_depth` segments.
pub fn validate(name: &str, max_depth: usize) -> Result<(), NameError> {
    if is_dotted_identifier(name, max_depth) {
        return Ok(());
    }
    name_problem(name, max_depth)
}

/// [`validate`], segment by segment, saying what is wrong and where.
fn name_problem(name: &str, max_depth: usize) -> Result<(), NameError> {
    let help = "names are dot-separated Python identifiers (letters, digits, `_`; not starting with a digit; not a keyword), e.g. `scraping.stepstone.fetch`";
    if name.is_empty() {
        return Err(NameError {
            reason: "the name is empty".to_owned(),
            range: (0, 0),
            help: help.to_owned(),
        });
    }
    let mut start = 0;
    for (index, segment) in name.split('.').enumerate() {
        if let Some(reason) = identifier_problem(segment) {
            return Err(NameError {
                reason,
                range: (start, start + segment.len()),
                help: help.to_owned(),
            });
        }
        if index == max_depth {
            return Err(NameError {
                reason: format!("more than {max_depth} segments"),
                range: (start, name.len()),
                help: "shorten the name, or raise the limit with `max_depth` in `[project]`"
                    .to_owned(),
            });
        }
        start += segment.len() + 1;
    }
    Ok(())
}

/// Split a name into its parts. The name is not validated.
pub fn parse(name: &str) -> ParsedName {
    let hierarchy: Vec<String> = name.split('.').map(str::to_owned).collect();
    let (parent, step) = match name.rsplit_once('.') {
        Some((parent, step)) => (Some(parent.to_owned()), step.to_owned()),
        None => (None, name.to_owned()),
    };
    ParsedName {
        full_name: name.to_owned(),
        level: hierarchy.len(),
        hierarchy,
        step,
        parent,
    }
}

/// The number of segments of a name.
pub fn get_level(name: &str) -> usize {
    name.split('.').count()
}

/// The parent of a name (`None` for a flat name).
pub fn parent(name: &str) -> Option<&str> {
    name.rsplit_once('.').map(|(parent, _)| parent)
}

/// The last segment of a name.
pub fn step(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, step)| step)
}

/// The module a flow is written to: its name with dots as underscores
/// (`scraping.stepstone` → `scraping_stepstone`). Resolve checks that no two
/// flows share one; render names the files by it.
pub fn module_name(flow: &str) -> String {
    flow.replace('.', "_")
}

/// The first segment of a name.
pub fn top(name: &str) -> &str {
    name.split_once('.').map_or(name, |(top, _)| top)
}

/// Names as a tree of their prefixes: each node holds the items whose
/// parent is its prefix (in the order given), and one child per longer
/// prefix, by that prefix's last segment. Flat names sit at the root. The
/// pictures of `opflow graph` draw its nodes as nested clusters.
#[derive(Debug, PartialEq, Eq)]
pub struct Tree<T> {
    pub items: Vec<T>,
    pub children: BTreeMap<String, Tree<T>>,
}

impl<T> Default for Tree<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            children: BTreeMap::new(),
        }
    }
}

impl<T> Tree<T> {
    /// The tree of `named`: each item under its name's parent.
    pub fn of<'a>(named: impl IntoIterator<Item = (&'a str, T)>) -> Self {
        let mut root = Self::default();
        for (name, item) in named {
            let mut node = &mut root;
            if let Some(parent) = parent(name) {
                for segment in parent.split('.') {
                    node = node.children.entry(segment.to_owned()).or_default();
                }
            }
            node.items.push(item);
        }
        root
    }
}

/// The name of `segment` under `prefix` (`""` for the root).
pub fn join(prefix: &str, segment: &str) -> String {
    if prefix.is_empty() {
        segment.to_owned()
    } else {
        format!("{prefix}.{segment}")
    }
}

/// Topological layers of nodes `0..n`, given each node's successors (Kahn's
/// algorithm, longest path from a source): the nodes of layer k have all
/// their predecessors in layers < k. Also returns the nodes on or behind a
/// cycle, which no layer holds.
pub fn layers(successors: &[Vec<usize>]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n = successors.len();
    let mut indegree = vec![0usize; n];
    for next in successors {
        for &to in next {
            indegree[to] += 1;
        }
    }
    let mut current: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut layers = Vec::new();
    let mut placed = 0;
    while !current.is_empty() {
        let mut next = Vec::new();
        for &node in &current {
            for &succ in &successors[node] {
                indegree[succ] -= 1;
                if indegree[succ] == 0 {
                    next.push(succ);
                }
            }
        }
        placed += current.len();
        layers.push(std::mem::replace(&mut current, next));
    }
    let leftover = if placed == n {
        Vec::new()
    } else {
        (0..n).filter(|&i| indegree[i] > 0).collect()
    };
    (layers, leftover)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_the_list() {
        for keyword in KEYWORDS {
            assert!(is_keyword(keyword), "{keyword}");
            assert!(!is_keyword(&keyword.to_uppercase()) || keyword.len() < 2);
        }
        for plain in [
            "",
            "x",
            "match",
            "case",
            "type",
            "print",
            "Nonee",
            "fals",
            "as\0",
            "continues",
        ] {
            assert!(!is_keyword(plain), "{plain}");
        }
    }

    #[test]
    fn the_one_pass_check_agrees_with_the_checks_that_explain() {
        let segments = [
            "a",
            "fetch",
            "_x",
            "x9",
            "A_b",
            "9a",
            "",
            "as",
            "As",
            "None",
            "nonlocal",
            "lambdas",
            "a-b",
            "a b",
            "é",
            "caf\u{e9}",
            "x\0",
            "\t",
        ];
        let mut names: Vec<String> = Vec::new();
        for a in segments {
            names.push(a.to_owned());
            for b in segments {
                names.push(format!("{a}.{b}"));
                names.push(format!("{a}.{b}.{a}"));
            }
        }
        names.extend([".", "..", "a.", ".a", "a..b"].map(str::to_owned));
        for name in &names {
            for depth in [1, 2, 3, 8] {
                assert_eq!(
                    is_dotted_identifier(name, depth),
                    name_problem(name, depth).is_ok(),
                    "{name:?} at depth {depth}"
                );
            }
        }
    }

    #[test]
    fn parses_the_seed_example() {
        assert_eq!(
            parse("scraping.stepstone.fetch"),
            ParsedName {
                full_name: "scraping.stepstone.fetch".into(),
                hierarchy: vec!["scraping".into(), "stepstone".into(), "fetch".into()],
                level: 3,
                step: "fetch".into(),
                parent: Some("scraping.stepstone".into()),
            }
        );
    }

    #[test]
    fn flat_names_have_no_parent() {
        let parsed = parse("merge");
        assert_eq!(parsed.level, 1);
        assert_eq!(parsed.step, "merge");
        assert_eq!(parsed.parent, None);
        assert_eq!(top("merge"), "merge");
    }

    #[test]
    fn levels() {
        assert_eq!(get_level("a"), 1);
        assert_eq!(get_level("a.b"), 2);
        assert_eq!(get_level("a.b.c.d"), 4);
    }

    #[test]
    fn the_tree_nests_prefixes_and_keeps_the_order_given() {
        let tree = Tree::of([
            ("scraping.merge", 0),
            ("scraping.stepstone.fetch", 1),
            ("report", 2),
            ("scraping.linkedin.fetch", 3),
            ("scraping.linkedin.clean", 4),
        ]);
        assert_eq!(tree.items, vec![2]);
        let scraping = &tree.children["scraping"];
        assert_eq!(scraping.items, vec![0]);
        assert_eq!(
            scraping.children.keys().collect::<Vec<_>>(),
            ["linkedin", "stepstone"]
        );
        assert_eq!(scraping.children["linkedin"].items, vec![3, 4]);
        assert!(scraping.children["linkedin"].children.is_empty());
        assert_eq!(tree.children.len(), 1);
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a.b", "c"), "a.b.c");
    }

    #[test]
    fn layers_place_each_node_as_early_as_possible() {
        // 0 -> 1 -> 2, and 3 depends only on 0: 3 runs beside 1.
        let successors = vec![vec![1, 3], vec![2], vec![], vec![]];
        assert_eq!(
            layers(&successors),
            (vec![vec![0], vec![1, 3], vec![2]], vec![])
        );
    }

    #[test]
    fn layers_leave_out_what_is_on_or_behind_a_cycle() {
        // 0 <-> 1, 1 -> 2; 3 stands alone.
        let successors = vec![vec![1], vec![0, 2], vec![], vec![]];
        assert_eq!(layers(&successors), (vec![vec![3]], vec![0, 1, 2]));
    }

    #[test]
    fn validates_names() {
        assert!(validate("scraping.stepstone.fetch", 8).is_ok());
        assert!(validate("merge", 8).is_ok());
        assert!(validate("_private.x1", 8).is_ok());
        let keyword = validate("scraping.class.fetch", 8).unwrap_err();
        assert_eq!(keyword.range, (9, 14));
        assert!(keyword.reason.contains("keyword"));
        assert_eq!(validate("scraping.1st", 8).unwrap_err().range, (9, 12));
        assert_eq!(validate("a..b", 8).unwrap_err().range, (2, 2));
        assert_eq!(validate("a.b.", 8).unwrap_err().range, (4, 4));
        assert_eq!(validate(".a", 8).unwrap_err().range, (0, 0));
        assert_eq!(validate("", 8).unwrap_err().range, (0, 0));
        assert!(validate("a-b", 8).unwrap_err().reason.contains("`-`"));
        assert!(validate("naïve", 8).is_err());
        let deep = validate("a.b.c", 2).unwrap_err();
        assert_eq!(deep.range, (4, 5));
        assert!(validate("a.b", 2).is_ok());
    }
}
