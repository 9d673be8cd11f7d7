//! Conversions into the documents of `imagegate-contract`, the form in which diffs and suspects
//! are printed and stored. The contract spells ecosystems and directions as lowercase strings
//! and carries the images' names; this crate's types stay typed.

use imagegate_contract as contract;

use crate::diff::{PackageChange, PackageDiff};
use crate::suspects::Suspect;

impl PackageDiff {
    /// The diff as the contract's document, for the images named `from_image` and `to_image`.
    /// Each warning is prefixed with the image it concerns; `schema` is left for the caller to
    /// set (it is present only in `imagegate diff --json`).
    pub fn to_contract(&self, from_image: &str, to_image: &str) -> contract::PackageDiff {
        let convert = |changes: &[PackageChange]| changes.iter().map(contract::PackageChange::from).collect::<Vec<_>>();
        let warnings = self
            .from_warnings
            .iter()
            .map(|warning| format!("{from_image}: {warning}"))
            .chain(self.to_warnings.iter().map(|warning| format!("{to_image}: {warning}")))
            .collect();
        contract::PackageDiff {
            schema: None,
            engine: None,
            from_image: from_image.to_owned(),
            to_image: to_image.to_owned(),
            changed: convert(&self.changed),
            added: convert(&self.added),
            removed: convert(&self.removed),
            totals: self.totals.iter().map(|(ecosystem, counts)| (ecosystem.as_str().to_owned(), *counts)).collect(),
            warnings,
        }
    }
}

impl From<&PackageChange> for contract::PackageChange {
    fn from(change: &PackageChange) -> Self {
        contract::PackageChange {
            ecosystem: change.ecosystem.as_str().to_owned(),
            name: change.name.clone(),
            from: change.from.clone(),
            to: change.to.clone(),
            direction: change.direction.as_str().to_owned(),
            location: change.location.clone(),
        }
    }
}

impl From<&Suspect> for contract::Suspect {
    /// The evidence lines are joined with `; `, strongest first.
    fn from(suspect: &Suspect) -> Self {
        contract::Suspect {
            ecosystem: suspect.ecosystem.as_str().to_owned(),
            name: suspect.name.clone(),
            from: suspect.from.clone(),
            to: suspect.to.clone(),
            score: suspect.score,
            evidence: suspect.evidence.join("; "),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diff::Direction;
    use crate::model::Ecosystem;

    #[test]
    fn converts_a_diff_and_a_suspect_into_the_contracts_documents() {
        let change = PackageChange {
            ecosystem: Ecosystem::Python,
            name: "Werkzeug".into(),
            location: "usr/local/lib/python3.11/site-packages".into(),
            from: Some("2.2.3".into()),
            to: Some("3.0.0".into()),
            direction: Direction::Upgrade,
            modules: vec!["werkzeug".into()],
        };
        let diff = PackageDiff {
            changed: vec![change.clone()],
            added: Vec::new(),
            removed: Vec::new(),
            totals: BTreeMap::from([(Ecosystem::Python, [40, 41]), (Ecosystem::Deb, [120, 120])]),
            from_warnings: vec!["var/lib/rpm/rpmdb.sqlite: failed to read".into()],
            to_warnings: Vec::new(),
        };
        let document = diff.to_contract("ci:stable", "ci:candidate");
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "from_image": "ci:stable",
                "to_image": "ci:candidate",
                "changed": [{
                    "ecosystem": "python",
                    "name": "Werkzeug",
                    "from": "2.2.3",
                    "to": "3.0.0",
                    "direction": "upgrade",
                    "location": "usr/local/lib/python3.11/site-packages"
                }],
                "added": [],
                "removed": [],
                "totals": {"deb": [120, 120], "python": [40, 41]},
                "warnings": ["ci:stable: var/lib/rpm/rpmdb.sqlite: failed to read"]
            })
        );

        let suspect = Suspect {
            ecosystem: Ecosystem::Python,
            name: "Werkzeug".into(),
            location: change.location.clone(),
            from: change.from.clone(),
            to: change.to.clone(),
            direction: Direction::Upgrade,
            score: 25.0,
            evidence: vec!["import failed: x".into(), "path y".into()],
        };
        let document = contract::Suspect::from(&suspect);
        assert_eq!(document.ecosystem, "python");
        assert_eq!(document.evidence, "import failed: x; path y");
        assert_eq!(document.score, 25.0);
    }
}
