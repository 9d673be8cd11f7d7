//! Lines `init` adds to `.gitignore` and `.dockerignore`: imagegate's state folder (and, for a
//! build context that is the whole repository, `.git`). An entry already there, in any of the
//! spellings that mean the same folder, is not added again.

/// `existing` with each of `entries` appended on a line of its own, or `None` when every
/// entry is already there. `.imagegate`, `/.imagegate`, `.imagegate/` and `/.imagegate/` name
/// the same folder; a negated line (`!.imagegate`) does not count.
pub fn with_entries(existing: Option<&str>, entries: &[&str]) -> Option<String> {
    let normal = |line: &str| line.trim().trim_matches('/').to_owned();
    let present: Vec<String> = existing
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with(['#', '!']))
        .map(normal)
        .collect();
    let missing: Vec<&&str> = entries.iter().filter(|entry| !present.contains(&normal(entry))).collect();
    if missing.is_empty() {
        return None;
    }
    let mut text = existing.unwrap_or_default().to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for entry in missing {
        text.push_str(entry);
        text.push('\n');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_what_is_missing_once() {
        assert_eq!(with_entries(None, &[".imagegate/"]).as_deref(), Some(".imagegate/\n"));
        assert_eq!(with_entries(Some("*.pyc"), &[".imagegate/"]).as_deref(), Some("*.pyc\n.imagegate/\n"));
        assert_eq!(with_entries(Some("/.imagegate\n"), &[".imagegate/"]), None);
        assert_eq!(
            with_entries(Some("# .git\n!.imagegate\n.git/\n"), &[".imagegate", ".git"]).as_deref(),
            Some("# .git\n!.imagegate\n.git/\n.imagegate\n")
        );
        let once = with_entries(Some("build/\n"), &[".imagegate/"]).expect("added");
        assert_eq!(with_entries(Some(&once), &[".imagegate/"]), None);
    }
}
