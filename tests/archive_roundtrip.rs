//! The portable archive round-trips to the same state; tampered, truncated and foreign archives
//! are refused with nothing imported; the Markdown export carries text, licence and credits.

use std::io::Read;

use peer_commons::archive::{write_archive, ArchiveError};
use peer_commons::change::{Change, ChangeId, Charter, GovernanceParams, Op};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;

fn charter(title: &str) -> Charter {
    Charter {
        title: title.into(),
        purpose: "A place to write together.".into(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// Two authors, two documents, comments, an endorsement and a licence offer.
fn sample() -> (Commons, ChangeId) {
    let (mut a, _) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter("Round trip"), 1).unwrap();
    a.act(
        vec![Op::SetProfile {
            name: "Ana [site](http://x.example)".into(),
        }],
        2,
    )
    .unwrap();
    let doc = a.create_document("Notes", "first line\n", 3).unwrap()[0].id;
    let other = a.create_document("Other | piped", "second", 4).unwrap()[0].id;
    let mut b = Commons::join(a.id(), Some((Identity::from_secret([2; 32]), 2)));
    for c in a.changes_in_causal_order() {
        b.insert(&c.bytes).unwrap();
    }
    b.act(
        vec![Op::SetProfile {
            name: "Bo`b".into(),
        }],
        5,
    )
    .unwrap();
    b.edit_text(&doc, 11, 0, "bob was here").unwrap();
    b.flush(6).unwrap();
    b.act(vec![Op::Endorse { change: doc }], 7).unwrap();
    b.act(
        vec![Op::Comment {
            doc: other,
            text: "good".into(),
        }],
        8,
    )
    .unwrap();
    let mine = b
        .changes_in_causal_order()
        .find(|c| {
            c.body.author == b.local_author().unwrap()
                && c.body
                    .ops
                    .iter()
                    .any(|o| matches!(o, Op::EditDocument { .. }))
        })
        .unwrap()
        .id;
    b.mark_licence(&mine, "CC0-1.0", 9).unwrap();
    for c in b.changes_in_causal_order() {
        if !a.contains(&c.id) {
            a.insert(&c.bytes).unwrap();
        }
    }
    (a, doc)
}

#[test]
fn archive_round_trip_gives_the_same_state() {
    let (a, doc) = sample();
    let bytes = a.export_archive();
    let imported = Commons::import_archive(&bytes, None).unwrap();
    assert_eq!(imported.id(), a.id());
    assert_eq!(imported.len(), a.len());
    assert_eq!(imported.state_hash(), a.state_hash());
    assert_eq!(imported.ledger(), a.ledger());
    assert_eq!(imported.credits(&doc), a.credits(&doc));
    assert_eq!(imported.export_archive(), bytes, "deterministic bytes");
    // An imported replica with an identity can keep writing.
    let mut w = Commons::import_archive(&bytes, Some((Identity::from_secret([3; 32]), 3))).unwrap();
    w.edit_text(&doc, 0, 0, "> ").unwrap();
    assert_eq!(w.flush(10).unwrap().len(), 1);
}

#[test]
fn merge_adds_what_is_missing_and_nothing_twice() {
    let (a, _) = sample();
    let all: Vec<Change> = a.changes_in_causal_order().cloned().collect();
    let mut partial = Commons::join(a.id(), None);
    for c in &all[..all.len() / 2] {
        partial.insert(&c.bytes).unwrap();
    }
    let before = partial.len() as u64;
    let report = partial.merge_archive(&a.export_archive()).unwrap();
    assert_eq!(report.changes, all.len() as u64);
    assert_eq!(report.new, all.len() as u64 - before);
    assert_eq!(partial.state_hash(), a.state_hash());
    let again = partial.merge_archive(&a.export_archive()).unwrap();
    assert_eq!((again.new, again.applied), (0, 0));
    // A partial archive whose dependencies the replica holds merges too.
    let tail = write_archive(a.id(), all[all.len() / 2..].iter());
    let mut half = Commons::join(a.id(), None);
    for c in &all[..all.len() / 2] {
        half.insert(&c.bytes).unwrap();
    }
    half.merge_archive(&tail).unwrap();
    assert_eq!(half.state_hash(), a.state_hash());
    assert!(matches!(
        Commons::import_archive(&tail, None),
        Err(ArchiveError::MissingDependency { index: 0, .. })
    ));
}

/// Refusal leaves a replica exactly as it was.
fn assert_refused_untouched(target: &mut Commons, bytes: &[u8]) -> ArchiveError {
    let (hash, len) = (target.state_hash(), target.len());
    let err = target.merge_archive(bytes).unwrap_err();
    assert_eq!(
        (target.state_hash(), target.len()),
        (hash, len),
        "nothing imported: {err}"
    );
    err
}

/// Recomputes the trailing checksum, as a deliberate forger would.
fn reseal(bytes: &mut Vec<u8>) {
    let n = bytes.len() - 32;
    bytes.truncate(n);
    let mut h = blake3::Hasher::new_derive_key("peer-commons archive v1 checksum");
    h.update(bytes);
    let sum = *h.finalize().as_bytes();
    bytes.extend_from_slice(&sum);
}

#[test]
fn tampered_archives_are_refused_with_nothing_imported() {
    let (a, _) = sample();
    let good = a.export_archive();
    let genesis = a.changes_in_causal_order().next().unwrap().clone();
    let mut target = Commons::join(a.id(), None);
    target.insert(&genesis.bytes).unwrap();
    // Any flipped byte breaks the checksum.
    for i in (0..good.len()).step_by(good.len() / 97 + 1) {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        let err = assert_refused_untouched(&mut target, &bad);
        assert!(
            matches!(
                err,
                ArchiveError::ChecksumMismatch
                    | ArchiveError::NotAnArchive
                    | ArchiveError::UnsupportedVersion { .. }
            ),
            "byte {i}: {err:?}"
        );
        assert!(Commons::import_archive(&bad, None).is_err());
    }
    // A forger who recomputes the checksum still meets every signature: alter a change's body
    // (the last record's last byte, inside its signed body).
    let mut forged = good.clone();
    let at = forged.len() - 33;
    forged[at] ^= 0x01;
    reseal(&mut forged);
    assert!(matches!(
        assert_refused_untouched(&mut target, &forged),
        ArchiveError::BadChange { .. }
    ));
    // Dropping a record leaves a later change without its dependency.
    let changes: Vec<Change> = a.changes_in_causal_order().cloned().collect();
    let mut gap: Vec<&Change> = changes.iter().collect();
    gap.remove(2);
    let holed = write_archive(a.id(), gap.into_iter());
    assert!(matches!(
        assert_refused_untouched(&mut target, &holed),
        ArchiveError::MissingDependency { .. }
    ));
    // A repeated record is refused too.
    let twice = write_archive(a.id(), changes.iter().chain(changes.last()));
    assert!(matches!(
        assert_refused_untouched(&mut target, &twice),
        ArchiveError::Duplicate { .. }
    ));
    // A lying count cannot make the importer allocate or read past the end.
    let mut count = good.clone();
    count[44..52].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal(&mut count);
    assert!(matches!(
        assert_refused_untouched(&mut target, &count),
        ArchiveError::Malformed(_)
    ));
}

#[test]
fn truncated_archives_are_refused() {
    let (a, _) = sample();
    let good = a.export_archive();
    for cut in [
        0,
        5,
        8,
        20,
        51,
        84,
        good.len() / 2,
        good.len() - 33,
        good.len() - 1,
    ] {
        let err = Commons::import_archive(&good[..cut], None).err().unwrap();
        assert!(
            matches!(
                err,
                ArchiveError::Truncated | ArchiveError::ChecksumMismatch
            ),
            "cut at {cut}: {err:?}"
        );
    }
    assert_eq!(
        Commons::import_archive(b"PK\x03\x04 not ours", None).err(),
        Some(ArchiveError::NotAnArchive)
    );
}

#[test]
fn foreign_archives_are_refused() {
    let (a, _) = sample();
    let (mut other, _) =
        Commons::create(Identity::from_secret([9; 32]), 1, charter("Other"), 1).unwrap();
    other.create_document("X", "x", 2).unwrap();
    let err = assert_refused_untouched(&mut other, &a.export_archive());
    assert!(matches!(err, ArchiveError::ForeignCommons { .. }));
    // Changes of another commons smuggled under this commons' header are refused as well.
    let theirs: Vec<Change> = other.changes_in_causal_order().cloned().collect();
    let smuggled = write_archive(a.id(), theirs.iter());
    let mut target = Commons::join(a.id(), None);
    let err = assert_refused_untouched(&mut target, &smuggled);
    assert!(matches!(err, ArchiveError::ForeignChange { index: 0 }));
}

/// Files of a zip, by name.
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            (f.name().unwrap().to_string(), s)
        })
        .collect()
}

#[test]
fn markdown_export_has_text_licence_and_link_free_credits() {
    let (a, doc) = sample();
    let zip = a.export_markdown().unwrap();
    let files = unzip(&zip);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let root = format!("round-trip-{}", a.id().short());
    for f in [
        "README.md",
        "LICENCE.md",
        "CREDITS.md",
        "ledger.csv",
        "ledger.json",
    ] {
        assert!(
            names.contains(&format!("{root}/{f}").as_str()),
            "{f} in {names:?}"
        );
    }
    let notes_path = format!("{root}/documents/notes-{}.md", doc.short());
    let notes = &files.iter().find(|(n, _)| *n == notes_path).unwrap().1;
    assert!(notes.starts_with("# Notes\n\nfirst line\nbob was here"));
    assert!(
        notes.contains("Creative Commons Attribution-ShareAlike 4.0 International (CC-BY-SA-4.0)")
    );
    assert!(notes.contains("- CC0-1.0: changes by `Bo'b`"));
    let credits = &notes[notes.find("## Credits").unwrap()..];
    assert!(
        credits.contains("`Ana [site](http://x.example)`"),
        "name is a code span: {credits}"
    );
    assert!(!credits.contains("](http") || credits.contains("`Ana [site](http://x.example)`"));
    let ana = a
        .credits(&doc)
        .unwrap()
        .authors
        .iter()
        .find(|x| x.name.as_deref().is_some_and(|n| n.starts_with("Ana")))
        .cloned()
        .unwrap();
    assert!(credits.contains(&format!(
        "| `{}` | {} | {} |",
        ana.author, ana.changes, ana.text.surviving
    )));
    assert!(names.iter().any(|n| n.contains("documents/other-piped-")));
    let licence = &files
        .iter()
        .find(|(n, _)| n.ends_with("LICENCE.md"))
        .unwrap()
        .1;
    assert!(licence.contains("share-alike"));
    let readme = &files
        .iter()
        .find(|(n, _)| n.ends_with("README.md"))
        .unwrap()
        .1;
    assert!(readme.contains(&a.state_hash_hex()));
    // The same changes export the same zip, byte for byte.
    let b = Commons::import_archive(&a.export_archive(), None).unwrap();
    assert_eq!(b.export_markdown().unwrap(), zip);
}
