//! Sync benchmarks: two replicas of n changes that differ by d, synced by two sessions in one
//! process. Prints, for each (n, d), the bytes each way, the one-way flights (round trips are
//! half of them), the lower bound (the bytes of the d missing changes) and, as a reference, what
//! listing every id would cost; criterion then times the whole sync.
//!
//! `cargo bench --bench sync` (all sizes) or `cargo bench --bench sync -- 10000` (one n).
//! The changes are real signed changes (one writer typing), made once per run.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use peer_commons::change::{ChangeId, Charter, GovernanceParams};
use peer_commons::commons::Commons;
use peer_commons::identity::Identity;
use peer_commons::sync::{
    ChangeSource, Event, Input, Local, Output, Session, SessionConfig, SyncIndex, SyncKeys, View,
};

/// Real changes: bytes and depth by id, in the order they were written.
struct History {
    commons: ChangeId,
    order: Vec<ChangeId>,
    bytes: HashMap<ChangeId, Vec<u8>>,
    depth: HashMap<ChangeId, u64>,
}

fn history(n: usize) -> History {
    let charter = Charter {
        title: "bench".into(),
        purpose: String::new(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    };
    let (mut c, genesis) =
        Commons::create(Identity::from_secret([7; 32]), 1, charter, 0).expect("genesis");
    let doc = c.create_document("d", "", 1).expect("doc")[0].id;
    let mut made = 2;
    let mut t = 2;
    while made < n {
        // Typing at the end of the text, one short burst per change.
        let len = c.document(&doc).map_or(0, |d| d.len_utf16());
        c.edit_text(&doc, len, 0, "typing ").expect("edit");
        made += c.flush(t).expect("flush").len();
        t += 1;
    }
    let items: Vec<(u64, ChangeId)> = c.sync_items().collect();
    let mut h = History {
        commons: genesis.id,
        order: Vec::with_capacity(items.len()),
        bytes: HashMap::new(),
        depth: HashMap::new(),
    };
    for (depth, id) in items.into_iter().take(n) {
        h.order.push(id);
        h.depth.insert(id, depth);
        h.bytes
            .insert(id, c.change_bytes(&id).expect("held").to_vec());
    }
    h
}

/// A replica as the session sees it: ids, depths and bytes, no verification.
#[derive(Clone)]
struct Store {
    changes: BTreeMap<ChangeId, Vec<u8>>,
    index: SyncIndex,
}

impl ChangeSource for Store {
    fn change_bytes(&self, id: &ChangeId) -> Option<&[u8]> {
        self.changes.get(id).map(Vec::as_slice)
    }
}

impl Store {
    fn of(h: &History, ids: &[ChangeId]) -> Store {
        let changes: BTreeMap<_, _> = ids.iter().map(|id| (*id, h.bytes[id].clone())).collect();
        let index = SyncIndex::from_items(ids.iter().map(|id| (h.depth[id], *id)));
        Store { changes, index }
    }

    fn view(&self) -> View<'_> {
        View {
            index: &self.index,
            changes: self,
        }
    }
}

struct Side<'h> {
    session: Session,
    store: Store,
    history: &'h History,
    sent: u64,
}

impl Side<'_> {
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            self.store.index.flush();
            match self.session.poll_output(self.store.view()) {
                Output::Transmit(c) => {
                    self.sent += c.len() as u64;
                    out.push(c);
                }
                Output::Event(Event::Changes { changes, .. }) => {
                    for (id, bytes) in changes {
                        if let Some(d) = self.history.depth.get(&id) {
                            self.store.index.insert(*d, id);
                            self.store.changes.insert(id, bytes);
                        }
                    }
                }
                Output::Event(_) => {}
                Output::Timeout(_) => return out,
            }
        }
    }
}

struct Outcome {
    a_to_b: u64,
    b_to_a: u64,
    flights: u32,
    a_len: usize,
    b_len: usize,
    /// The stores, handed back so that criterion drops them outside the timing.
    _stores: (Store, Store),
}

/// Syncs `a` and `b` in lockstep until both are quiet; `a_dials` says which side dialed.
fn sync(h: &History, a: Store, b: Store, a_dials: bool) -> Outcome {
    let cfg = SessionConfig::default();
    let local = |n: u8, store: &Store| Local {
        keys: SyncKeys::new(Identity::from_secret([n; 32]), [n; 32]),
        nonce: [n; 32],
        commons: h.commons,
        items: store.index.len() as u64,
    };
    let (la, lb) = (local(1, &a), local(2, &b));
    let mut x = Side {
        session: Session::new(cfg.clone(), la, a_dials, 0),
        store: a,
        history: h,
        sent: 0,
    };
    let mut y = Side {
        session: Session::new(cfg, lb, !a_dials, 0),
        store: b,
        history: h,
        sent: 0,
    };
    let mut now = 0;
    let mut flights = 0;
    loop {
        let to_y = x.drain();
        let to_x = y.drain();
        if to_y.is_empty() && to_x.is_empty() {
            break;
        }
        flights += 1;
        now += 1;
        for c in &to_y {
            y.session
                .handle_input(now, Input::Receive(c), y.store.view());
        }
        for c in &to_x {
            x.session
                .handle_input(now, Input::Receive(c), x.store.view());
        }
        x.session
            .handle_input(now, Input::Buffered(0), x.store.view());
        y.session
            .handle_input(now, Input::Buffered(0), y.store.view());
    }
    Outcome {
        a_to_b: x.sent,
        b_to_a: y.sent,
        flights,
        a_len: x.store.changes.len(),
        b_len: y.store.changes.len(),
        _stores: (x.store, y.store),
    }
}

fn sizes() -> Vec<usize> {
    let filter: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    [10_000, 100_000]
        .into_iter()
        .filter(|n| filter.is_none_or(|f| f == *n))
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in sizes() {
        let h = history(n);
        let full = Store::of(&h, &h.order);
        for d in [0usize, 1, 100, 10_000] {
            // "behind": B lacks the last d changes (a peer that was away); "diverged": each
            // lacks d/2 changes the other has (two peers that wrote apart).
            let tail = &h.order[n - d..];
            let (first, second) = tail.split_at(d / 2);
            let shared = &h.order[..n - d];
            let cases = [
                ("behind", full.clone(), Store::of(&h, shared)),
                (
                    "diverged",
                    Store::of(&h, &[shared, first].concat()),
                    Store::of(&h, &[shared, second].concat()),
                ),
            ];
            let bound: u64 = tail.iter().map(|id| h.bytes[id].len() as u64).sum();
            for (case, a, b) in &cases {
                if *case == "diverged" && d < 2 {
                    continue;
                }
                let o = sync(&h, a.clone(), b.clone(), false);
                assert_eq!(
                    o.a_len + o.b_len,
                    2 * n,
                    "sync incomplete: n={n} d={d} {case}"
                );
                let total = o.a_to_b + o.b_to_a;
                println!(
                    "sync-figures n={n} d={d} {case}: {total} bytes ({} + {}); lower bound \
                     {bound}; overhead {}; {} one-way flights = {:.1} round trips \
                     (listing all ids would cost {} bytes)",
                    o.a_to_b,
                    o.b_to_a,
                    total.saturating_sub(bound),
                    o.flights,
                    f64::from(o.flights) / 2.0,
                    32 * n
                );
                let mut group = c.benchmark_group(format!("sync n={n} {case}"));
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(if n > 10_000 { 20 } else { 5 }));
                group.bench_function(format!("d={d}"), |bench| {
                    bench.iter_batched(
                        || (a.clone(), b.clone()),
                        |(a, b)| sync(&h, a, b, false),
                        BatchSize::LargeInput,
                    )
                });
                if *case == "behind" {
                    // Reference, same run: only moving the missing changes into the other store.
                    let missing: Vec<(ChangeId, Vec<u8>)> =
                        tail.iter().map(|id| (*id, h.bytes[id].clone())).collect();
                    group.bench_function(
                        format!("d={d} reference: copy the missing changes"),
                        |bench| {
                            bench.iter_batched(
                                || (b.clone(), missing.clone()),
                                |(mut b, missing)| {
                                    for (id, bytes) in missing {
                                        b.index.insert(h.depth[&id], id);
                                        b.changes.insert(id, bytes);
                                    }
                                    b.index.flush();
                                    b
                                },
                                BatchSize::LargeInput,
                            )
                        },
                    );
                }
                group.finish();
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
