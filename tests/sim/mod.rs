//! A deterministic network simulator for the sync node.
//!
//! Every source of variation (latency jitter, loss, duplication, who edits what and when) comes
//! from one ChaCha RNG seeded per run, time is simulated, and events are ordered by (time,
//! insertion): a run is a pure function of its seed. [`for_seeds`] runs a scenario over seeds and
//! prints the failing seed with the command that replays it.
//!
//! Peers are real [`Node`]s over real [`Commons`] replicas, with a thin shell written the way the
//! browser's will be: it answers dial and signal events, and moves bytes. Signalling between
//! peers that share a neighbour goes through that neighbour; otherwise through a simulated relay.

#![allow(dead_code)]

pub mod garbage;
mod net;
mod world;

#[allow(unused_imports)]
pub use net::{breakdown, LinkSpec, Time};
#[allow(unused_imports)]
pub use world::{Slot, World, WorldConfig};

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Seeds to run: `SIM_SEED=n` replays one; `SIM_SEEDS=k` runs k seeds from `SIM_SEED_BASE`
/// (default 1); else `default_count` seeds from 1.
pub fn seeds(default_count: u64) -> Vec<u64> {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(s) = env("SIM_SEED") {
        return vec![s];
    }
    let base = env("SIM_SEED_BASE").unwrap_or(1);
    let count = env("SIM_SEEDS").unwrap_or(default_count);
    (base..base + count).collect()
}

/// Runs `scenario` for each seed; prints every failing seed with the command that replays it,
/// then fails if any did.
pub fn for_seeds(name: &str, default_count: u64, scenario: impl Fn(u64)) {
    let test = std::env::args()
        .next()
        .and_then(|p| {
            let file = std::path::Path::new(&p).file_name()?.to_str()?.to_string();
            Some(
                file.rsplit_once('-')
                    .map_or(file.clone(), |(n, _)| n.to_string()),
            )
        })
        .unwrap_or_else(|| "sim_scenarios".into());
    let mut failed = Vec::new();
    for seed in seeds(default_count) {
        if catch_unwind(AssertUnwindSafe(|| scenario(seed))).is_err() {
            eprintln!(
                "\nscenario `{name}` FAILED with seed {seed}; replay with:\n  \
                 SIM_SEED={seed} cargo test --test {test} {name} -- --nocapture\n"
            );
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "`{name}` failed for seeds {failed:?}");
}
