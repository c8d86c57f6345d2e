//! Licences a commons may carry: the offered SPDX ids with their human names, whether they are
//! share-alike, one sentence a UI can show, and the compatibility rules the protocol applies.
//!
//! Compatibility is one relation, [`may_include`]: work under licence `a` may be included in a
//! work released under licence `b`. Every rule of peer property is stated with it:
//! - a contributor may offer their own change under `m` inside a commons under `l` when
//!   `m != l` and `may_include(m, l)` (the offer is at least as permissive and fits);
//! - a fork of a share-alike commons keeps the parent's licence; a fork of a permissive commons
//!   may choose any `f` with `may_include(parent, f)`;
//! - a licence change by proposal keeps share-alike terms ([`licence_change_allowed`]).

use serde::Serialize;

/// The licence a new commons carries unless its founder chooses another.
pub const DEFAULT_LICENCE: &str = "CC-BY-SA-4.0";

/// One offered licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Licence {
    /// The SPDX identifier, canonical spelling.
    pub spdx: &'static str,
    /// The licence's full name.
    pub name: &'static str,
    /// Whether adaptations must be released under the same licence.
    pub share_alike: bool,
    /// One sentence a UI can show under the name.
    pub meaning: &'static str,
    /// Licences (SPDX ids) a work under this one may be included in, itself excluded.
    #[serde(skip)]
    includable_in: &'static [&'static str],
}

const CC_BY_SA: &str = "CC-BY-SA-4.0";
const CC_BY: &str = "CC-BY-4.0";
const CC0: &str = "CC0-1.0";
const GPL: &str = "GPL-3.0-or-later";
const AGPL: &str = "AGPL-3.0-or-later";
const ODBL: &str = "ODbL-1.0";
const MIT: &str = "MIT";
const APACHE: &str = "Apache-2.0";

/// The offered licences, the default first. The inclusion lists follow the licensors' own
/// statements: CC BY-SA 4.0 → GPLv3 is Creative Commons' one-way compatibility declaration
/// (2015); CC BY 4.0, MIT and Apache-2.0 → GPLv3 follow the FSF's licence list; GPLv3 → AGPLv3
/// is section 13 of both licences. ODbL and AGPL take in nothing else's adaptations outward.
static LICENCES: [Licence; 8] = [
    Licence {
        spdx: CC_BY_SA,
        name: "Creative Commons Attribution-ShareAlike 4.0 International",
        share_alike: true,
        meaning: "Anyone may share and adapt the work, also commercially, if they credit its authors and release adaptations under this same licence.",
        includable_in: &[GPL],
    },
    Licence {
        spdx: CC_BY,
        name: "Creative Commons Attribution 4.0 International",
        share_alike: false,
        meaning: "Anyone may share and adapt the work for any purpose, if they credit its authors.",
        includable_in: &[CC_BY_SA, GPL, AGPL],
    },
    Licence {
        spdx: CC0,
        name: "Creative Commons Zero v1.0 Universal",
        share_alike: false,
        meaning: "The authors give up their rights as far as the law allows: anyone may use the work for any purpose without conditions.",
        includable_in: &[CC_BY_SA, CC_BY, GPL, AGPL, ODBL, MIT, APACHE],
    },
    Licence {
        spdx: GPL,
        name: "GNU General Public License v3.0 or later",
        share_alike: true,
        meaning: "Anyone may use, study, share and change the work, if versions they distribute stay under this licence with their source.",
        includable_in: &[AGPL],
    },
    Licence {
        spdx: AGPL,
        name: "GNU Affero General Public License v3.0 or later",
        share_alike: true,
        meaning: "Like the GPL, and a changed version offered to users over a network must be shared with its source too.",
        includable_in: &[],
    },
    Licence {
        spdx: ODBL,
        name: "Open Data Commons Open Database License v1.0",
        share_alike: true,
        meaning: "Anyone may share, build on and adapt the database, if they credit it and keep adapted databases open under this same licence.",
        includable_in: &[],
    },
    Licence {
        spdx: MIT,
        name: "MIT License",
        share_alike: false,
        meaning: "Anyone may do anything with the work, if the copyright and permission notice stay with it.",
        includable_in: &[APACHE, GPL, AGPL],
    },
    Licence {
        spdx: APACHE,
        name: "Apache License 2.0",
        share_alike: false,
        meaning: "Anyone may use, change and share the work for any purpose, keeping its notices and with a patent grant from its contributors.",
        includable_in: &[GPL, AGPL],
    },
];

/// Every offered licence, the default first.
pub fn licences() -> &'static [Licence] {
    &LICENCES
}

/// The offered licence with this SPDX id (matched without regard to case, as SPDX specifies).
pub fn licence(spdx: &str) -> Option<&'static Licence> {
    LICENCES.iter().find(|l| l.spdx.eq_ignore_ascii_case(spdx))
}

/// Whether work under `from` may be included in a work released under `into`. Unknown ids are
/// compatible with nothing (not even themselves): nothing can be checked about them.
pub fn may_include(from: &str, into: &str) -> bool {
    match (licence(from), licence(into)) {
        (Some(f), Some(i)) => f.spdx == i.spdx || f.includable_in.contains(&i.spdx),
        _ => false,
    }
}

/// Whether an author may offer one of their changes under `offer` inside a commons under
/// `commons`: a different, known licence whose work may be included in the commons' licence.
pub fn offer_allowed(offer: &str, commons: &str) -> bool {
    licence(offer).map(|l| l.spdx) != licence(commons).map(|l| l.spdx)
        && may_include(offer, commons)
}

/// Whether a fork of a commons under `parent` may be released under `fork`: share-alike forces
/// the same licence; a permissive parent may be forked under any licence its work fits in.
pub fn fork_allowed(parent: &str, fork: &str) -> bool {
    match (licence(parent), licence(fork)) {
        (Some(p), Some(f)) if p.share_alike => p.spdx == f.spdx,
        (Some(_), Some(_)) => may_include(parent, fork),
        _ => false,
    }
}

/// Whether members may change a commons' licence from `from` to `to` by proposal: the commons'
/// existing work must fit in the new licence, and a share-alike commons stays share-alike.
/// (For governance; DESIGN.md §4.)
pub fn licence_change_allowed(from: &str, to: &str) -> bool {
    match (licence(from), licence(to)) {
        (Some(f), Some(t)) => may_include(f.spdx, t.spdx) && (!f.share_alike || t.share_alike),
        _ => false,
    }
}

/// How a UI shows a licence id, known or not: a received commons may carry an id this version
/// does not offer (refusing it would split the network), shown as an unknown licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenceView {
    pub spdx: String,
    pub name: String,
    pub share_alike: bool,
    pub meaning: String,
    /// Whether this version knows the licence (and so can check compatibility with it).
    pub known: bool,
}

/// The view of any licence id.
pub fn describe(spdx: &str) -> LicenceView {
    match licence(spdx) {
        Some(l) => LicenceView {
            spdx: l.spdx.to_string(),
            name: l.name.to_string(),
            share_alike: l.share_alike,
            meaning: l.meaning.to_string(),
            known: true,
        },
        None => LicenceView {
            spdx: spdx.to_string(),
            name: format!("Unknown licence ({spdx})"),
            share_alike: false,
            meaning: "This version of the software does not know this licence; read its terms before reusing the work.".to_string(),
            known: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(licences()[0].spdx, DEFAULT_LICENCE);
        for l in licences() {
            assert!(
                !l.includable_in.contains(&l.spdx),
                "{} lists itself",
                l.spdx
            );
            for t in l.includable_in {
                assert!(licence(t).is_some(), "{} names unknown {t}", l.spdx);
            }
            assert!(l.meaning.ends_with('.'));
        }
        for required in [CC_BY_SA, CC_BY, CC0, GPL, AGPL, ODBL] {
            assert!(licence(required).is_some());
        }
    }

    #[test]
    fn lookup_ignores_case_and_refuses_unknown() {
        assert_eq!(licence("cc-by-sa-4.0").map(|l| l.spdx), Some(CC_BY_SA));
        assert!(licence("CC-BY-NC-4.0").is_none());
        assert!(!describe("WTFPL").known);
        assert!(describe("cc0-1.0").known);
    }

    #[test]
    fn offers_must_be_more_permissive_and_fit() {
        assert!(offer_allowed(CC0, CC_BY_SA));
        assert!(offer_allowed(CC_BY, CC_BY_SA));
        assert!(
            !offer_allowed(CC_BY_SA, CC_BY_SA),
            "same licence is no offer"
        );
        assert!(
            !offer_allowed(GPL, CC_BY_SA),
            "GPL work does not fit in BY-SA"
        );
        assert!(
            !offer_allowed(ODBL, CC_BY),
            "share-alike is not more permissive"
        );
        assert!(!offer_allowed("WTFPL", CC_BY_SA));
    }

    #[test]
    fn forks_keep_share_alike_and_may_narrow_permissive() {
        assert!(fork_allowed(CC_BY_SA, CC_BY_SA));
        assert!(!fork_allowed(CC_BY_SA, CC_BY));
        assert!(
            !fork_allowed(CC_BY_SA, GPL),
            "share-alike forces the same licence"
        );
        assert!(fork_allowed(CC_BY, CC_BY_SA));
        assert!(fork_allowed(CC0, ODBL));
        assert!(!fork_allowed(CC_BY, ODBL));
        assert!(!fork_allowed("X-Unknown", "X-Unknown"));
    }

    #[test]
    fn licence_changes_keep_share_alike() {
        assert!(licence_change_allowed(CC_BY_SA, GPL));
        assert!(!licence_change_allowed(CC_BY_SA, CC_BY));
        assert!(licence_change_allowed(CC_BY, CC_BY_SA));
        assert!(!licence_change_allowed(GPL, CC_BY_SA));
    }
}
