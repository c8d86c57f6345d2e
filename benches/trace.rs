//! Replays a real editing trace (automerge-paper: 259,778 single-character edits) through the core
//! the way a person types — edits batched into one signed change per typing pause — and beside it,
//! the same trace applied straight to yrs (the reference: the raw CRDT library, no signing).
//!
//! Run: `cargo bench --bench trace`. Extra figures (sizes, memory) are printed to stderr.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use peer_commons::change::{Change, Charter, GovernanceParams};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use yrs::{GetString, Text, Transact};

/// Counts live heap bytes, to report the memory a replica holds.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
}
#[global_allocator]
static A: Counting = Counting;

/// Edits per change: a typing pause every 32 keystrokes (about 6 s of typing).
const EDITS_PER_CHANGE: usize = 32;

struct Trace {
    edits: Vec<(u32, u32, String)>,
    end: String,
}

fn load_trace() -> Trace {
    let path = std::env::var("TRACE").unwrap_or_else(|_| {
        format!(
            "{}/../shared/data/automerge-paper.json.gz",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("trace {path}: {e}"));
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("gzip");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let mut edits = Vec::new();
    for txn in v["txns"].as_array().expect("txns") {
        for p in txn["patches"].as_array().expect("patches") {
            edits.push((
                p[0].as_u64().expect("pos") as u32,
                p[1].as_u64().expect("del") as u32,
                p[2].as_str().expect("ins").to_string(),
            ));
        }
    }
    Trace {
        edits,
        end: v["endContent"].as_str().expect("end").to_string(),
    }
}

fn charter() -> Charter {
    Charter {
        title: "trace".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// Types the whole trace as one author; returns the replica and every change made.
fn write_trace(t: &Trace) -> (Commons, Vec<Change>) {
    let (mut c, genesis) =
        Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0).unwrap();
    let mut changes = vec![genesis];
    changes.extend(c.create_document("paper", "", 0).unwrap());
    let doc = changes.last().unwrap().id;
    for (i, (pos, del, ins)) in t.edits.iter().enumerate() {
        c.edit_text(&doc, u64::from(*pos), u64::from(*del), ins)
            .unwrap();
        if (i + 1) % EDITS_PER_CHANGE == 0 {
            changes.extend(c.flush(i as u64).unwrap());
        }
    }
    changes.extend(c.flush(u64::MAX).unwrap());
    (c, changes)
}

fn read_trace(changes: &[Change]) -> Commons {
    let mut r = Commons::join(changes[0].id, None);
    for ch in changes {
        r.insert(&ch.bytes).unwrap();
    }
    r
}

fn yrs_direct(t: &Trace, per_txn: usize) -> yrs::Doc {
    let doc = yrs::Doc::with_options(yrs::Options {
        offset_kind: yrs::OffsetKind::Utf16,
        ..Default::default()
    });
    let text = doc.get_or_insert_text("text");
    for chunk in t.edits.chunks(per_txn) {
        let mut txn = doc.transact_mut();
        for (pos, del, ins) in chunk {
            if *del > 0 {
                text.remove_range(&mut txn, *pos, *del);
            }
            if !ins.is_empty() {
                text.insert(&mut txn, *pos, ins);
            }
        }
    }
    doc
}

fn report(t: &Trace) {
    let n = t.edits.len();
    let (w, changes) = once("core: type, batch and sign", n, || write_trace(t));
    let doc = changes[1].id;
    assert_eq!(
        w.text(&doc).unwrap(),
        t.end,
        "replay must give the trace's final text"
    );
    let before = LIVE.load(Ordering::Relaxed);
    let r = once("core: verify and apply on a fresh replica", n, || {
        read_trace(&changes)
    });
    let replica_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(r.state_hash(), w.state_hash());
    let before = LIVE.load(Ordering::Relaxed);
    let y = once("reference yrs: one transaction per edit", n, || {
        yrs_direct(t, 1)
    });
    let yrs_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(
        y.get_or_insert_text("text").get_string(&y.transact()),
        t.end
    );
    let encoded: usize = changes.iter().map(|c| c.bytes.len()).sum();
    let ystate = r.document(&doc).unwrap().encode_state().len();
    let inserted: usize = t.edits.iter().map(|e| e.2.len()).sum();
    eprintln!(
        "trace: {} edits, {} changes ({} edits per change)",
        t.edits.len(),
        changes.len(),
        EDITS_PER_CHANGE
    );
    eprintln!("sizes: all signed changes {encoded} B; yrs state of the final doc {ystate} B; inserted text {inserted} B; final text {} B", t.end.len());
    eprintln!("memory: replica holding all changes {replica_bytes} B; bare yrs doc {yrs_bytes} B");
}

/// Times one full pass of `f`.
fn once<T>(label: &str, edits: usize, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let s = start.elapsed().as_secs_f64();
    eprintln!(
        "full trace, {label}: {s:.2} s, {:.0} edits/s",
        edits as f64 / s
    );
    out
}

fn bench(c: &mut Criterion) {
    let full = load_trace();
    report(&full);
    // One timed pass over the whole trace per phase (a pass takes seconds to minutes: too long
    // for criterion's repeated sampling)...
    let n = full.edits.len();
    let (_, changes) = once("core: type, batch and sign", n, || write_trace(&full));
    once("core: verify and apply on a fresh replica", n, || {
        read_trace(&changes)
    });
    once("reference yrs: one transaction per edit", n, || {
        yrs_direct(&full, 1)
    });
    once("reference yrs: one transaction per 32 edits", n, || {
        yrs_direct(&full, EDITS_PER_CHANGE)
    });
    // ...and criterion on the first 20,000 edits.
    let prefix = Trace {
        edits: full.edits[..20_000].to_vec(),
        end: String::new(),
    };
    let (_, changes) = write_trace(&prefix);
    let mut g = c.benchmark_group("automerge-paper first 20k edits");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(criterion::Throughput::Elements(prefix.edits.len() as u64));
    g.bench_function("core: type, batch and sign", |b| {
        b.iter(|| write_trace(&prefix))
    });
    g.bench_function("core: verify and apply on a fresh replica", |b| {
        b.iter(|| read_trace(&changes))
    });
    g.bench_function("reference yrs: one transaction per edit", |b| {
        b.iter(|| yrs_direct(&prefix, 1))
    });
    g.bench_function("reference yrs: one transaction per 32 edits", |b| {
        b.iter(|| yrs_direct(&prefix, EDITS_PER_CHANGE))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
