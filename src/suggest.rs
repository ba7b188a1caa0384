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

#[cfg(test)]
mod tests {
    use super::did_you_mean;

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
