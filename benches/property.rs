//! Benchmarks of peer property and social accounting (docs/PERFORMANCE.md, "Property and
//! accounting"): `cargo bench --bench property`.
//!
//! - The ledger over the automerge-paper trace (259,778 edits) split among 50 authors, one
//!   signed change per 50 edits, authors taking turns; beside it, in the same run, the raw yrs
//!   apply of the same updates into a bare document and a replica applying the signed changes.
//! - The portable archive of 100,000 signed changes (50 authors, small edits and endorsements):
//!   export, and import (verify every signature, then apply); beside it, bare ed25519
//!   verification of the same 100,000 signatures, the floor of any verifying import.

use std::io::Read;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use peer_commons::change::{
    client_id, Change, ChangeBody, ChangeId, Charter, GovernanceParams, Op, TextEdit, CHANGE_FORMAT,
};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Options, ReadTxn, Text, Transact, Update};

const AUTHORS: usize = 50;
const EDITS_PER_CHANGE: usize = 50;
const ARCHIVE_CHANGES: usize = 100_000;

/// One patch of the trace: position and deletion in code points (ASCII here), inserted text.
type Patch = (u32, u32, String);

fn trace() -> Vec<Patch> {
    // PEER_COMMONS_TRACE overrides where the trace is read from.
    let path = std::env::var("PEER_COMMONS_TRACE")
        .unwrap_or_else(|_| "/work/shared/data/automerge-paper.json.gz".into());
    let mut json = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("trace file"))
        .read_to_string(&mut json)
        .expect("gzip");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let mut out = Vec::new();
    for txn in v["txns"].as_array().expect("txns") {
        for p in txn["patches"].as_array().expect("patches") {
            out.push((
                p[0].as_u64().expect("pos") as u32,
                p[1].as_u64().expect("del") as u32,
                p[2].as_str().expect("ins").to_string(),
            ));
        }
    }
    out
}

fn identity(i: usize) -> Identity {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    Identity::from_secret(s)
}

/// A yrs document writing under `author`'s CRDT client, as the crate's documents do.
fn ydoc(author: &Identity, nonce: u32) -> Doc {
    let client = client_id(&author.author(), nonce);
    let mut o = Options::with_guid_and_client_id("peer-commons".into(), yrs::ClientID::new(client));
    o.offset_kind = yrs::OffsetKind::Utf16;
    o.skip_gc = true;
    Doc::with_options(o)
}

fn charter() -> Charter {
    Charter {
        title: "Bench".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// Signs one change following `prev` in a linear history.
fn sign(who: &Identity, commons: ChangeId, seq: u64, prev: ChangeId, ops: Vec<Op>) -> Change {
    let body = ChangeBody {
        format: CHANGE_FORMAT,
        commons: Some(commons),
        author: who.author(),
        seq,
        deps: vec![prev],
        time: seq,
        ops,
    };
    Change::sign(who, body)
}

/// The trace as signed changes: author `k % 50` writes change `k`, 50 edits each, after catching
/// up with everyone else's updates. Returns the changes (genesis first) and the text updates.
fn trace_changes(patches: &[Patch]) -> (Vec<Change>, Vec<Vec<u8>>) {
    let ids: Vec<Identity> = (0..AUTHORS).map(identity).collect();
    let (_, genesis) = Commons::create(ids[0].clone(), 1, charter(), 0).expect("genesis");
    let docs: Vec<Doc> = ids.iter().map(|i| ydoc(i, 1)).collect();
    let mut seen = vec![0usize; AUTHORS];
    let mut updates: Vec<Vec<u8>> = Vec::new();
    let mut changes = vec![genesis.clone()];
    let mut doc_id = ChangeId::default();
    for (k, batch) in patches.chunks(EDITS_PER_CHANGE).enumerate() {
        let a = k % AUTHORS;
        let d = &docs[a];
        if seen[a] < updates.len() {
            let merged = yrs::merge_updates_v2(updates[seen[a]..].iter().map(|u| u.as_slice()))
                .expect("merge");
            d.transact_mut()
                .apply_update(Update::decode_v2(&merged).expect("decode"))
                .expect("apply");
        }
        let text = d.get_or_insert_text("text");
        let update = {
            let mut txn = d.transact_mut();
            for (pos, del, ins) in batch {
                if *del > 0 {
                    text.remove_range(&mut txn, *pos, *del);
                }
                if !ins.is_empty() {
                    text.insert(&mut txn, *pos, ins);
                }
            }
            txn.encode_update_v2()
        };
        updates.push(update.clone());
        seen[a] = updates.len();
        let edit = TextEdit { nonce: 1, update };
        let op = if k == 0 {
            Op::CreateDocument {
                title: "Paper".into(),
                edit,
            }
        } else {
            Op::EditDocument { doc: doc_id, edit }
        };
        let prev = changes.last().map_or(genesis.id, |c| c.id);
        let c = sign(&ids[a], genesis.id, k as u64 + 1, prev, vec![op]);
        if k == 0 {
            doc_id = c.id;
        }
        changes.push(c);
    }
    (changes, updates)
}

/// 100,000 changes: each author types into a document of their own (five characters at a
/// pseudo-random place), and every tenth change endorses the change before it.
fn archive_changes() -> Vec<Change> {
    let ids: Vec<Identity> = (0..AUTHORS).map(identity).collect();
    let (_, genesis) = Commons::create(ids[0].clone(), 1, charter(), 0).expect("genesis");
    let docs: Vec<Doc> = ids.iter().map(|i| ydoc(i, 1)).collect();
    let mut doc_ids: Vec<Option<ChangeId>> = vec![None; AUTHORS];
    let mut changes = vec![genesis.clone()];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while changes.len() < ARCHIVE_CHANGES {
        let k = changes.len();
        let a = k % AUTHORS;
        let prev = changes.last().map_or(genesis.id, |c| c.id);
        if k % 10 == 0 {
            let c = sign(
                &ids[a],
                genesis.id,
                k as u64,
                prev,
                vec![Op::Endorse { change: prev }],
            );
            changes.push(c);
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let text = docs[a].get_or_insert_text("text");
        let update = {
            let mut txn = docs[a].transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, (x % (u64::from(len) + 1)) as u32, "words");
            txn.encode_update_v2()
        };
        let edit = TextEdit { nonce: 1, update };
        let op = match doc_ids[a] {
            None => Op::CreateDocument {
                title: format!("Notes {a}"),
                edit,
            },
            Some(doc) => Op::EditDocument { doc, edit },
        };
        let c = sign(&ids[a], genesis.id, k as u64, prev, vec![op]);
        doc_ids[a] = doc_ids[a].or(Some(c.id));
        changes.push(c);
    }
    changes
}

/// Only the signature check of a change: ed25519 over the domain and the id.
fn verify_only(c: &Change) -> bool {
    let mut msg = peer_commons::change::SIGNING_DOMAIN.to_vec();
    msg.extend_from_slice(&c.id.0);
    let sig: &[u8; 64] = c.bytes[..64].try_into().expect("signature");
    c.body.author.verify(&msg, sig).is_ok()
}

fn replica(changes: &[Change]) -> Commons {
    let mut r = Commons::join(changes[0].id, None);
    for c in changes {
        r.insert(&c.bytes).expect("insert");
    }
    r
}

fn ledger_benches(c: &mut Criterion) {
    let patches = trace();
    let (changes, updates) = trace_changes(&patches);
    let r = replica(&changes);
    let text = r.text(&changes[1].id).expect("doc");
    assert_eq!(text.len(), 104_852, "the trace replays to its end content");
    let ledger = r.ledger();
    assert_eq!(ledger.rows.len(), AUTHORS);
    assert_eq!(ledger.totals.surviving, text.len() as u64);
    eprintln!(
        "trace: {} edits, {} signed changes, {} update bytes, final text {} chars",
        patches.len(),
        changes.len() - 1,
        updates.iter().map(Vec::len).sum::<usize>(),
        text.len()
    );
    let mut g = c.benchmark_group("ledger-automerge-paper-50-authors");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.bench_function("reference: raw yrs apply of the same updates", |b| {
        b.iter(|| {
            let d = ydoc(&identity(999), 1);
            let mut txn = d.transact_mut();
            for u in &updates {
                txn.apply_update(Update::decode_v2(u).expect("decode"))
                    .expect("apply");
            }
            drop(txn);
            let n = d.transact().state_vector().len();
            n
        })
    });
    g.bench_function("replica: insert every signed change", |b| {
        b.iter(|| replica(&changes).len())
    });
    g.bench_function("ledger()", |b| b.iter(|| r.ledger().rows.len()));
    g.bench_function("credits(doc)", |b| {
        b.iter(|| r.credits(&changes[1].id).map(|c| c.authors.len()))
    });
    g.bench_function("export_ledger csv", |b| {
        b.iter(|| {
            r.export_ledger(peer_commons::commons::property::LedgerFormat::Csv)
                .len()
        })
    });
    g.bench_function("state_hash (ledger included)", |b| {
        b.iter(|| r.state_hash())
    });
    g.finish();
}

fn archive_benches(c: &mut Criterion) {
    let changes = archive_changes();
    let source = replica(&changes);
    let bytes = source.export_archive();
    eprintln!(
        "archive: {} changes, {} bytes ({} per change)",
        changes.len(),
        bytes.len(),
        bytes.len() / changes.len()
    );
    let mut g = c.benchmark_group("archive-100k-changes");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("export_archive", |b| {
        b.iter(|| source.export_archive().len())
    });
    g.bench_function(
        "reference: bare ed25519 verify of the 100k signatures",
        |b| b.iter(|| changes.iter().filter(|c| verify_only(c)).count()),
    );
    g.bench_function("import_archive (verify all, then apply)", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| Commons::import_archive(&bytes, None).expect("import").len(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
    let copy = Commons::import_archive(&bytes, None).expect("import");
    assert_eq!(copy.state_hash(), source.state_hash());
}

criterion_group!(benches, ledger_benches, archive_benches);
criterion_main!(benches);
