//! The ledger's CSV and JSON exports parse back (with independent parsers) to the same ledger,
//! whatever names people claim; licences are listed for the UI.

use peer_commons::change::{Charter, GovernanceParams, Op};
use peer_commons::commons::property::{licences, LedgerFormat, LedgerRow, PropertyError};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;

/// A commons where three people with awkward names did a bit of everything.
fn busy_commons() -> Commons {
    let charter = Charter {
        title: "Exports".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    };
    let (mut a, _) = Commons::create(Identity::from_secret([1; 32]), 1, charter, 1).unwrap();
    a.act(
        vec![Op::SetProfile {
            name: "Ana, \"the founder\"".into(),
        }],
        2,
    )
    .unwrap();
    let doc = a.create_document("Notes", "hello world", 3).unwrap()[0].id;
    let task = a
        .act(
            vec![Op::PostTask {
                title: "Proofread".into(),
                description: String::new(),
                skills: vec![],
            }],
            4,
        )
        .unwrap()[0]
        .id;
    let mut b = Commons::join(a.id(), Some((Identity::from_secret([2; 32]), 2)));
    let mut c = Commons::join(a.id(), Some((Identity::from_secret([3; 32]), 3)));
    for ch in a.changes_in_causal_order() {
        b.insert(&ch.bytes).unwrap();
        c.insert(&ch.bytes).unwrap();
    }
    b.act(
        vec![Op::SetProfile {
            name: "=HYPERLINK(\"x\")".into(),
        }],
        5,
    )
    .unwrap();
    b.edit_text(&doc, 5, 0, ", dear").unwrap();
    b.flush(6).unwrap();
    b.act(vec![Op::ClaimTask { task }], 7).unwrap();
    b.act(
        vec![Op::CompleteTask {
            task,
            contributions: vec![],
        }],
        8,
    )
    .unwrap();
    c.act(
        vec![Op::SetProfile {
            name: "Line\nbreak; ü".into(),
        }],
        5,
    )
    .unwrap();
    c.act(vec![Op::Endorse { change: doc }], 6).unwrap();
    c.act(
        vec![Op::Comment {
            doc,
            text: "ok".into(),
        }],
        7,
    )
    .unwrap();
    for r in [&b, &c] {
        for ch in r.changes_in_causal_order() {
            if !a.contains(&ch.id) {
                a.insert(&ch.bytes).unwrap();
            }
        }
    }
    a
}

fn opt(s: &str) -> Option<u64> {
    (!s.is_empty()).then(|| s.parse().unwrap())
}

/// A CSV record back into a row, undoing only the documented formula guard.
fn row_from_csv(r: &csv::StringRecord) -> LedgerRow {
    let n = |i: usize| r[i].parse::<u64>().unwrap();
    let name = r[1]
        .strip_prefix('\'')
        .filter(|s| s.starts_with('='))
        .unwrap_or(&r[1]);
    LedgerRow {
        author: r[0].to_string(),
        name: (!name.is_empty()).then(|| name.to_string()),
        changes: n(2),
        carried_changes: n(3),
        documents_created: n(4),
        edits: n(5),
        inserted: n(6),
        surviving: n(7),
        deleted: n(8),
        text_share_ppm: n(9),
        comments: n(10),
        tasks_completed: n(11),
        endorsements_given: n(12),
        endorsements_received: n(13),
        proposals: n(14),
        votes: n(15),
        participant_since: opt(&r[16]),
        member_since: opt(&r[17]),
        contribution_share_ppm: n(18),
        equivocating: &r[19] == "true",
    }
}

#[test]
fn csv_parses_back_to_the_ledger() {
    let c = busy_commons();
    let ledger = c.ledger();
    assert_eq!(ledger.rows.len(), 3);
    let csv_text = c.export_ledger(LedgerFormat::parse("CSV").unwrap());
    assert!(csv_text.contains("'=HYPERLINK"), "formula neutralised");
    let mut rd = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "author");
    assert_eq!(header.len(), 20);
    let rows: Vec<LedgerRow> = rd.records().map(|r| row_from_csv(&r.unwrap())).collect();
    assert_eq!(rows, ledger.rows);
    let b = rows
        .iter()
        .find(|r| r.name.as_deref() == Some("=HYPERLINK(\"x\")"))
        .unwrap();
    assert_eq!((b.tasks_completed, b.edits, b.surviving), (1, 1, 6));
    let c_row = rows
        .iter()
        .find(|r| r.name.as_deref() == Some("Line\nbreak; ü"))
        .unwrap();
    // c is no member: the endorsement is recorded but validates nothing (docs/GOVERNANCE.md).
    assert_eq!((c_row.endorsements_given, c_row.comments), (0, 1));
    let founder = rows
        .iter()
        .find(|r| r.name.as_deref() == Some("Ana, \"the founder\""))
        .unwrap();
    assert_eq!((founder.member_since, c_row.member_since), (Some(1), None));
}

#[test]
fn json_parses_back_to_the_ledger() {
    let c = busy_commons();
    let ledger = c.ledger();
    let v: serde_json::Value =
        serde_json::from_str(&c.export_ledger(LedgerFormat::parse("json").unwrap())).unwrap();
    assert_eq!(v["commons"], c.id().to_hex());
    assert_eq!(v["licence"], "CC-BY-SA-4.0");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), ledger.rows.len());
    for (j, r) in rows.iter().zip(&ledger.rows) {
        assert_eq!(j["author"], r.author);
        assert_eq!(j["name"].as_str(), r.name.as_deref());
        assert_eq!(j["surviving"], r.surviving);
        assert_eq!(j["contribution_share_ppm"], r.contribution_share_ppm);
        assert_eq!(j["endorsements_received"], r.endorsements_received);
        assert_eq!(j["member_since"].as_u64(), r.member_since);
    }
    let shares: u64 = rows
        .iter()
        .map(|r| r["contribution_share_ppm"].as_u64().unwrap())
        .sum();
    assert_eq!(shares, 1_000_000);
    assert_eq!(v["totals"]["participants"], 3);
    assert_eq!(
        v["totals"]["surviving"],
        c.text(&c.documents()[0].id).unwrap().len()
    );
}

#[test]
fn unknown_format_is_a_typed_error() {
    assert_eq!(
        LedgerFormat::parse("xlsx"),
        Err(PropertyError::UnknownFormat("xlsx".into()))
    );
}

#[test]
fn licences_list_serializes_for_the_ui() {
    let v = serde_json::to_value(licences()).unwrap();
    let first = &v[0];
    assert_eq!(first["spdx"], "CC-BY-SA-4.0");
    assert_eq!(first["share_alike"], true);
    assert!(first["name"].as_str().unwrap().contains("ShareAlike"));
    assert!(first.get("includable_in").is_none());
    let ids: Vec<&str> = licences().iter().map(|l| l.spdx).collect();
    for id in [
        "CC-BY-SA-4.0",
        "CC-BY-4.0",
        "CC0-1.0",
        "GPL-3.0-or-later",
        "AGPL-3.0-or-later",
        "ODbL-1.0",
    ] {
        assert!(ids.contains(&id));
    }
}
