//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if name.is_empty() {
        return None;
    }
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// The candidate a likely typo of `name` meant: one or two edits away
/// (a swap of two neighbours counts as one), fewer for short names so that
/// `n` and `x` are not taken for each other: two edits from five
/// characters, one from three. The closest wins; ties go to the first.
pub fn typo_of<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let shortest = name.chars().count().min(candidate.chars().count());
        let allowed = match shortest {
            0..=2 => 0,
            3..=4 => 1,
            _ => 2,
        };
        let distance = strsim::osa_distance(name, candidate);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, typo_of};

    #[test]
    fn finds_likely_typos_only() {
        assert_eq!(typo_of("shuot", ["shout", "greet"]), Some("shout"));
        assert_eq!(typo_of("nmae", ["name"]), Some("name"));
        assert_eq!(typo_of("limit", ["limits", "limit"]), Some("limits"));
        assert_eq!(typo_of("x", ["y"]), None);
        assert_eq!(typo_of("keywords", ["pages"]), None);
        assert_eq!(typo_of("abcd", ["abxy"]), None);
    }

    #[test]
    fn suggests_close_names_only() {
        let names = [
            "scraping.merge",
            "scraping.stepstone.fetch",
            "scraping.linkedin.fetch",
        ];
        assert_eq!(did_you_mean("scraping.merg", names), Some("scraping.merge"));
        assert_eq!(
            did_you_mean("scraping.linkdin.fetch", names),
            Some("scraping.linkedin.fetch")
        );
        assert_eq!(did_you_mean("billing", names), None);
        assert_eq!(did_you_mean("", names), None);
    }
}
