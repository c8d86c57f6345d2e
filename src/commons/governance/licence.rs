//! Which licence changes a commons may make by proposal, with the reason a person reads when one
//! is refused.
//!
//! There is one licence table, in [`crate::commons::property`] (peer property owns it); this
//! module only states the governance rule with it: a commons may move from `from` to `to` when
//! the work already made under `from` may be included in a work under `to`, and a share-alike
//! commons stays share-alike ([`licence_change_allowed`]). docs/GOVERNANCE.md repeats the table.

use crate::commons::property::{licence, licence_change_allowed, licences};

/// Whether `spdx` is a licence of the table (matched without regard to case).
pub fn is_known(spdx: &str) -> bool {
    licence(spdx).is_some()
}

/// Whether a commons under `from` may move to `to`. The error says why not, for people.
pub fn check_change(from: &str, to: &str) -> Result<(), String> {
    let Some(target) = licence(to) else {
        return Err(format!(
            "unknown licence '{to}': use one of {}",
            licences()
                .iter()
                .map(|l| l.spdx)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if licence_change_allowed(from, target.spdx) {
        return Ok(());
    }
    let Some(current) = licence(from) else {
        return Err(format!(
            "the licence in force '{from}' is unknown to this version: nothing can be checked \
             against it, so it cannot be changed"
        ));
    };
    let allowed = allowed_targets(current.spdx);
    let why = if current.share_alike && !target.share_alike {
        format!("{} is share-alike and {} is not", current.spdx, target.spdx)
    } else {
        format!(
            "work under {} may not be included in a work under {}",
            current.spdx, target.spdx
        )
    };
    Err(format!(
        "{why}: the commons may move only to {}",
        if allowed.is_empty() {
            "no other licence".to_string()
        } else {
            allowed.join(", ")
        }
    ))
}

/// The licences a commons under `from` may move to, itself excluded.
pub fn allowed_targets(from: &str) -> Vec<&'static str> {
    licences()
        .iter()
        .map(|l| l.spdx)
        .filter(|t| *t != from && licence_change_allowed(from, t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_alike_is_kept() {
        assert!(check_change("CC-BY-SA-4.0", "CC-BY-SA-4.0").is_ok());
        assert!(check_change("CC-BY-SA-4.0", "GPL-3.0-or-later").is_ok());
        let e = check_change("CC-BY-SA-4.0", "CC-BY-4.0").unwrap_err();
        assert!(e.contains("share-alike"), "{e}");
        assert!(e.contains("GPL-3.0-or-later"), "names what is allowed: {e}");
        assert!(check_change("CC-BY-SA-4.0", "MIT").is_err());
        assert!(check_change("GPL-3.0-or-later", "CC-BY-SA-4.0").is_err());
        assert!(check_change("CC-BY-SA-4.0", "WTFPL")
            .unwrap_err()
            .contains("unknown"));
    }

    #[test]
    fn permissive_moves_only_where_its_work_fits() {
        assert!(check_change("CC-BY-4.0", "CC-BY-SA-4.0").is_ok());
        assert!(check_change("CC0-1.0", "MIT").is_ok());
        assert!(check_change("MIT", "Apache-2.0").is_ok());
        let e = check_change("MIT", "CC0-1.0").unwrap_err();
        assert!(e.contains("may not be included"), "{e}");
        assert!(
            check_change("cc-by-4.0", "cc-by-sa-4.0").is_ok(),
            "ids ignore case"
        );
    }

    #[test]
    fn the_rule_agrees_with_the_property_table_everywhere() {
        for f in licences() {
            for t in licences() {
                assert_eq!(
                    check_change(f.spdx, t.spdx).is_ok(),
                    f.spdx == t.spdx || licence_change_allowed(f.spdx, t.spdx),
                    "{} -> {}",
                    f.spdx,
                    t.spdx
                );
            }
        }
    }
}
