//! Which licence changes a commons may make: only to a licence that keeps its share-alike terms.
//!
//! A share-alike (copyleft) commons may move to the same licence, a later version of it, or a
//! licence its terms declare compatible for adaptations; never to a permissive or unknown one. A
//! commons under a permissive licence may adopt any licence of the table. The table is small on
//! purpose: a newcomer can read it whole (docs/GOVERNANCE.md repeats it).

/// Share-alike licences this project knows, each with the licences it may move to (besides
/// itself).
const SHARE_ALIKE: &[(&str, &[&str])] = &[
    (
        "CC-BY-SA-1.0",
        &[
            "CC-BY-SA-2.0",
            "CC-BY-SA-2.5",
            "CC-BY-SA-3.0",
            "CC-BY-SA-4.0",
        ],
    ),
    (
        "CC-BY-SA-2.0",
        &["CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-4.0"],
    ),
    ("CC-BY-SA-2.5", &["CC-BY-SA-3.0", "CC-BY-SA-4.0"]),
    ("CC-BY-SA-3.0", &["CC-BY-SA-4.0"]),
    // Creative Commons declared GPLv3 compatible with BY-SA 4.0 for adaptations (one way).
    ("CC-BY-SA-4.0", &["GPL-3.0-only", "GPL-3.0-or-later"]),
    (
        "GPL-2.0-or-later",
        &[
            "GPL-3.0-only",
            "GPL-3.0-or-later",
            "AGPL-3.0-only",
            "AGPL-3.0-or-later",
        ],
    ),
    ("GPL-3.0-only", &["AGPL-3.0-only"]),
    (
        "GPL-3.0-or-later",
        &["GPL-3.0-only", "AGPL-3.0-only", "AGPL-3.0-or-later"],
    ),
    ("AGPL-3.0-only", &[]),
    ("AGPL-3.0-or-later", &["AGPL-3.0-only"]),
    (
        "LGPL-2.1-or-later",
        &["LGPL-3.0-or-later", "GPL-2.0-or-later", "GPL-3.0-or-later"],
    ),
    ("LGPL-3.0-or-later", &["GPL-3.0-or-later"]),
    (
        "MPL-2.0",
        &["GPL-2.0-or-later", "GPL-3.0-or-later", "LGPL-2.1-or-later"],
    ),
    ("EUPL-1.2", &["GPL-3.0-only", "AGPL-3.0-only", "MPL-2.0"]),
    ("GFDL-1.3-or-later", &["CC-BY-SA-3.0"]),
    ("ODbL-1.0", &[]),
    ("CERN-OHL-S-2.0", &[]),
];

/// Permissive licences a commons may start under, and move from to anything in the tables.
const PERMISSIVE: &[&str] = &[
    "CC0-1.0",
    "CC-BY-4.0",
    "CC-BY-3.0",
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Unlicense",
    "ODC-By-1.0",
    "PDDL-1.0",
];

/// Whether `spdx` is a licence of the tables.
pub fn is_known(spdx: &str) -> bool {
    is_share_alike(spdx) || PERMISSIVE.contains(&spdx)
}

/// Whether `spdx` is a share-alike licence of the table.
pub fn is_share_alike(spdx: &str) -> bool {
    SHARE_ALIKE.iter().any(|(l, _)| *l == spdx)
}

/// Whether a commons under `from` may move to `to`. The error says why not, for people.
pub fn check_change(from: &str, to: &str) -> Result<(), String> {
    if !is_known(to) {
        return Err(format!(
            "unknown licence '{to}': use an SPDX id from docs/GOVERNANCE.md's licence table"
        ));
    }
    if from == to {
        return Ok(());
    }
    match SHARE_ALIKE.iter().find(|(l, _)| *l == from) {
        Some((_, allowed)) if allowed.contains(&to) => Ok(()),
        Some(_) => Err(format!(
            "{from} is share-alike: the commons may move only to {}",
            allowed_list(from)
        )),
        // Permissive (or unknown) licences impose no share-alike terms to keep.
        None => Ok(()),
    }
}

fn allowed_list(from: &str) -> String {
    let mut v = vec![from];
    if let Some((_, allowed)) = SHARE_ALIKE.iter().find(|(l, _)| *l == from) {
        v.extend(allowed.iter().copied());
    }
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_alike_is_kept() {
        assert!(check_change("CC-BY-SA-4.0", "CC-BY-SA-4.0").is_ok());
        assert!(check_change("CC-BY-SA-3.0", "CC-BY-SA-4.0").is_ok());
        assert!(check_change("CC-BY-SA-4.0", "GPL-3.0-or-later").is_ok());
        let e = check_change("CC-BY-SA-4.0", "CC-BY-4.0").unwrap_err();
        assert!(e.contains("share-alike"), "{e}");
        assert!(
            check_change("CC-BY-SA-4.0", "CC-BY-SA-3.0").is_err(),
            "no downgrade"
        );
        assert!(check_change("CC-BY-SA-4.0", "MIT").is_err());
        assert!(check_change("CC-BY-SA-4.0", "WTFPL")
            .unwrap_err()
            .contains("unknown"));
        assert!(check_change("CC-BY-4.0", "CC-BY-SA-4.0").is_ok());
        assert!(check_change("MIT", "CC0-1.0").is_ok());
    }
}
