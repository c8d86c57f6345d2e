//! Scale: 1,000 peers with max_peers 8 converge after a burst of edits.
//!
//! `editors` peers (default 100) each write one change at the same moment, twice: the first
//! burst is the first change each of them ever sends (gossip has no tree for these authors yet,
//! so it floods and prunes), the second shows the steady state. For each burst the test prints
//! rounds (simulated time over the one-way link latency), simulated time, and bytes sent
//! against the minimum (each change delivered once to each peer that lacks it).
//! `SIM_PEERS` and `SIM_BURST` change the sizes.

mod sim;

use peer_commons::change::ChangeId;
use peer_commons::sync::NodeConfig;
use rand::seq::SliceRandom;
use rand::Rng;
use sim::{for_seeds, LinkSpec, World, WorldConfig};

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const LATENCY: u64 = 20;

/// Builds the mesh: peers join one after another, each learning a few earlier ones from the
/// relay, then the mesh settles.
fn build(seed: u64, n: usize) -> World {
    let cfg = WorldConfig {
        link: LinkSpec {
            latency_ms: LATENCY,
            jitter_ms: 0,
            ..LinkSpec::default()
        },
        node: NodeConfig {
            max_peers: 8,
            ..NodeConfig::default()
        },
        ..WorldConfig::default()
    };
    let mut w = World::new(seed, cfg, n);
    for i in 1..n {
        for _ in 0..w.cfg.bootstrap.min(i) {
            let j = w.rng.gen_range(0..i);
            w.discover(i, j);
        }
        w.run_until(w.now + 5);
    }
    w.run_until(w.now + 30_000);
    w
}

/// One burst: every editor writes one change at once; returns a report line.
fn burst(w: &mut World, editors: &[usize], label: &str) -> String {
    let n = w.honest_indices().len() as u64;
    let before_bytes = w.bytes_sent();
    let before_types = w.net.by_type.clone();
    let start = w.now;
    let ids: Vec<ChangeId> = editors.iter().flat_map(|&i| w.edit(i)).collect();
    let done = w.run_until_converged(10, w.now + 120_000);
    let done = done.unwrap_or_else(|| panic!("{label} burst did not converge"));
    w.assert_converged();
    let r = w.honest(0).map(|h| h.node.replica()).expect("peer 0");
    let sizes: u64 = ids
        .iter()
        .filter_map(|id| r.change_bytes(id))
        .map(|b| b.len() as u64)
        .sum();
    let minimum = sizes * (n - 1);
    let sent = w.bytes_sent() - before_bytes;
    let mut delta = w.net.by_type.clone();
    for (k, v) in before_types {
        *delta.entry(k).or_default() -= v;
    }
    let elapsed = done - start;
    format!(
        "{label}: {} changes ({sizes} bytes) converged in {elapsed} ms = {:.1} rounds of \
         {LATENCY} ms; {sent} bytes sent vs minimum {minimum} ({:.2}x); by type: {}",
        ids.len(),
        elapsed as f64 / LATENCY as f64,
        sent as f64 / minimum as f64,
        sim::breakdown(&delta)
    )
}

#[test]
fn thousand_peers_converge_after_a_burst() {
    for_seeds("thousand_peers_converge_after_a_burst", 1, |seed| {
        let n = env_or("SIM_PEERS", 1000);
        let mut w = build(seed, n);
        let degrees: Vec<usize> = w
            .honest_indices()
            .iter()
            .filter_map(|&i| w.honest(i).map(|h| h.node.neighbours().len()))
            .collect();
        let max_degree = degrees.iter().copied().max().unwrap_or(0);
        let isolated = degrees.iter().filter(|d| **d == 0).count();
        assert!(max_degree <= 8, "a node kept {max_degree} connections");
        assert_eq!(isolated, 0, "{isolated} peers have no neighbour");

        let mut everyone = w.honest_indices();
        everyone.shuffle(&mut w.rng);
        let editors: Vec<usize> = everyone
            .into_iter()
            .take(env_or("SIM_BURST", 100))
            .collect();
        let cold = burst(&mut w, &editors, "first burst (no gossip tree yet)");
        w.run_until(w.now + 2_000);
        let warm = burst(&mut w, &editors, "second burst (trees built)");
        let tree_links = w.tree_links(editors[0]);
        println!(
            "seed {seed}: {n} peers, degree max {max_degree}, mean {:.1}\n  {cold}\n  {warm}\n  \
             gossip tree of one author: {tree_links} links (a spanning tree has {})",
            degrees.iter().sum::<usize>() as f64 / n as f64,
            n - 1
        );
    });
}
