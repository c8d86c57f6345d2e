//! Required sync scenarios in the deterministic simulator. Each runs over a few seeds; a failure
//! prints its seed and the command that replays it (`SIM_SEED=n`). `pkg-scripts/soak` runs many
//! more seeds (`SIM_SEEDS=k`).
//!
//! Every scenario ends with the same checks: every live honest replica holds every change an
//! honest peer wrote, nothing else, and the same state hash.

mod sim;

use peer_commons::sync::NodeConfig;
use sim::garbage::Mode;
use sim::{for_seeds, LinkSpec, World, WorldConfig};

/// Lets every honest peer learn a few others, as the relay would.
fn bootstrap_all(w: &mut World) {
    let k = w.cfg.bootstrap;
    for i in w.honest_indices() {
        w.bootstrap(i, k);
    }
}

/// Every honest peer edits `edits` times at random moments within `span` ms.
fn edit_randomly(w: &mut World, edits: usize, span: u64) {
    use rand::Rng;
    let peers = w.honest_indices();
    let mut plan: Vec<(u64, usize)> = Vec::new();
    for &i in &peers {
        for _ in 0..edits {
            let t = w.now + w.rng.gen_range(0..span);
            plan.push((t, i));
        }
    }
    plan.sort_unstable();
    for (t, i) in plan {
        w.run_until(t);
        if w.honest(i).is_some() {
            w.edit(i);
        }
    }
}

fn converge(w: &mut World, limit: u64) -> u64 {
    let t = w.run_until_converged(200, w.now + limit);
    let t = t.unwrap_or_else(|| {
        let counts: Vec<usize> = w
            .honest_indices()
            .iter()
            .filter_map(|&i| w.honest(i).map(|h| h.node.replica().len()))
            .collect();
        panic!(
            "no convergence by t={} ms; want {} changes, replicas hold {counts:?}",
            w.now,
            w.written.len()
        )
    });
    w.assert_converged();
    t
}

#[test]
fn smoke_three_peers_converge() {
    for_seeds("smoke_three_peers_converge", 3, |seed| {
        let mut w = World::new(seed, WorldConfig::default(), 3);
        bootstrap_all(&mut w);
        w.run_until(2_000);
        for i in 0..3 {
            w.edit(i);
        }
        converge(&mut w, 60_000);
    });
}

/// Two peers write large histories apart, then meet: each gets all of the other's, and the bytes
/// exchanged stay close to the size of what was missing.
#[test]
fn two_peers_with_large_disjoint_histories() {
    for_seeds("two_peers_with_large_disjoint_histories", 2, |seed| {
        let mut w = World::new(seed, WorldConfig::default(), 2);
        for _ in 0..600 {
            w.edit(0);
            w.edit(1);
        }
        let size_of = |w: &World, i: usize| -> u64 {
            let r = w.honest(i).map(|h| h.node.replica()).expect("honest");
            r.sync_items()
                .filter_map(|(_, id)| r.change_bytes(&id))
                .map(|b| b.len() as u64)
                .sum()
        };
        let genesis = w.genesis.len() as u64;
        let missing = size_of(&w, 0) + size_of(&w, 1) - 2 * genesis;
        let before = w.bytes_sent();
        w.discover(1, 0);
        let t = converge(&mut w, 120_000);
        let sent = w.bytes_sent() - before;
        println!(
            "seed {seed}: 2 x 600 changes, {missing} bytes missing, {sent} bytes sent \
             ({:.3}x), converged at {t} ms",
            sent as f64 / missing as f64
        );
        assert!(
            sent < missing + missing / 4 + 64 * 1024,
            "sent {sent} bytes to sync {missing} bytes of changes"
        );
    });
}

/// Fifty peers edit concurrently over links that lose 5% of chunks, reorder and duplicate them.
#[test]
fn fifty_peers_editing_under_loss_and_reordering() {
    for_seeds("fifty_peers_editing_under_loss_and_reordering", 2, |seed| {
        let cfg = WorldConfig {
            link: LinkSpec {
                latency_ms: 30,
                jitter_ms: 40,
                loss: 0.05,
                dup: 0.02,
                ..LinkSpec::default()
            },
            ..WorldConfig::default()
        };
        let mut w = World::new(seed, cfg, 50);
        bootstrap_all(&mut w);
        w.run_until(5_000);
        edit_randomly(&mut w, 3, 10_000);
        let t = converge(&mut w, 300_000);
        println!(
            "seed {seed}: 50 peers, {} changes, converged at {t} ms, {} bytes on the wire ({})",
            w.written.len(),
            w.bytes_sent(),
            w.net.breakdown()
        );
    });
}

/// Peers split in two halves that keep editing, then the partition heals.
#[test]
fn partition_heals() {
    for_seeds("partition_heals", 2, partition_then_heal);
}

/// Seeds the soak found failing before dial retries stopped going through neighbours that
/// could not reach the peer (after the heal, the halves never reconnected).
#[test]
fn partition_heals_on_seeds_that_once_failed() {
    for seed in [2000, 2010, 2014, 2015] {
        partition_then_heal(seed);
    }
}

fn partition_then_heal(seed: u64) {
    let cfg = WorldConfig {
        node: NodeConfig {
            rotate_ms: 10_000,
            ..NodeConfig::default()
        },
        ..WorldConfig::default()
    };
    let n = 16;
    let mut w = World::new(seed, cfg, n);
    bootstrap_all(&mut w);
    w.run_until(5_000);
    let sides: Vec<(usize, u32)> = (0..n).map(|i| (i, u32::from(i >= n / 2))).collect();
    w.partition(&sides);
    edit_randomly(&mut w, 3, 20_000);
    w.run_until(w.now + 30_000);
    assert!(
        !w.converged(),
        "the halves cannot have converged while apart"
    );
    w.heal();
    let t = converge(&mut w, 600_000);
    println!("seed {seed}: partition healed, converged at {t} ms");
}

/// A peer crashes while it downloads a long history, and restarts from what it had stored.
#[test]
fn restart_mid_sync() {
    for_seeds("restart_mid_sync", 2, |seed| {
        let cfg = WorldConfig {
            link: LinkSpec {
                bandwidth: 100,
                ..LinkSpec::default()
            },
            ..WorldConfig::default()
        };
        let mut w = World::new(seed, cfg, 4);
        for _ in 0..400 {
            w.edit(0);
        }
        bootstrap_all(&mut w);
        // Let peer 3 get part of the history, then crash it.
        let total = w.written.len();
        let mut held = 0;
        while held < total / 3 {
            w.run_until(w.now + 50);
            held = w.honest(3).map_or(0, |h| h.node.replica().len());
        }
        assert!(held < total, "crash happens mid-sync");
        w.crash(3);
        w.run_until(w.now + 2_000);
        w.restart(3);
        let restored = w.honest(3).map_or(0, |h| h.node.replica().len());
        assert!(restored >= held, "stored changes survive the crash");
        converge(&mut w, 600_000);
    });
}

/// Garbage peers flood honest ones with noise, invalid changes and floods of useless messages;
/// honest peers ban the ones that authenticated (by their keys), drop the noise peer's channels
/// (it never authenticates, so nobody can be blamed), and converge on their own changes, none
/// of the garbage.
#[test]
fn flood_of_invalid_data() {
    for_seeds("flood_of_invalid_data", 2, |seed| {
        let mut w = World::new(seed, WorldConfig::default(), 10);
        let noise = w.add_garbage(Mode::Noise);
        let forger = w.add_garbage(Mode::BadChanges);
        let spammer = w.add_garbage(Mode::Spam);
        bootstrap_all(&mut w);
        w.run_until(5_000);
        edit_randomly(&mut w, 3, 10_000);
        converge(&mut w, 120_000);
        let noise_id = w.id_of(noise).expect("noise peer");
        let noise_closed: usize = w
            .closes
            .iter()
            .filter(|((p, _), _)| *p == noise_id)
            .map(|(_, n)| *n)
            .sum();
        assert!(
            noise_closed > 0,
            "the noise peer's channels were never closed"
        );
        assert_eq!(w.banned_by(noise), 0, "noise before a hello bans nobody");
        for g in [forger, spammer] {
            let banned_by = w.banned_by(g);
            println!(
                "seed {seed}: garbage peer {g} sent {} chunks, was banned by {banned_by} peers",
                w.garbage_sent(g)
            );
            assert!(banned_by > 0, "garbage peer {g} was never banned");
        }
        for i in w.honest_indices() {
            let h = w.honest(i).expect("honest");
            assert!(
                h.node.connection_count() > 0,
                "peer {i} lost all its neighbours"
            );
        }
    });
}

/// The same seed gives the same run, event for event: same bytes by message type, same
/// convergence time, same state.
#[test]
fn runs_are_reproducible_from_their_seed() {
    let run = |seed: u64| {
        let cfg = WorldConfig {
            link: LinkSpec {
                loss: 0.05,
                dup: 0.02,
                jitter_ms: 30,
                ..LinkSpec::default()
            },
            ..WorldConfig::default()
        };
        let mut w = World::new(seed, cfg, 8);
        bootstrap_all(&mut w);
        w.run_until(3_000);
        edit_randomly(&mut w, 2, 5_000);
        let t = converge(&mut w, 120_000);
        let hash = w.honest(0).map(|h| h.node.replica().state_hash());
        (t, w.bytes_sent(), w.net.by_type.clone(), hash)
    };
    for_seeds("runs_are_reproducible_from_their_seed", 2, |seed| {
        assert_eq!(run(seed), run(seed));
    });
    assert_ne!(
        run(1).1,
        run(2).1,
        "different seeds should give different runs"
    );
}

/// Cursors (presence) reach every peer through the mesh under loss, stay while refreshed, are
/// gone everywhere once a vanished peer's last record expires, and never touch the replica.
#[test]
fn presence_spreads_and_expires() {
    for_seeds("presence_spreads_and_expires", 2, |seed| {
        let cfg = WorldConfig {
            link: LinkSpec {
                latency_ms: 30,
                jitter_ms: 40,
                loss: 0.05,
                ..LinkSpec::default()
            },
            ..WorldConfig::default()
        };
        let n = 20;
        let mut w = World::new(seed, cfg, n);
        bootstrap_all(&mut w);
        w.run_until(5_000);
        let hash = |w: &World| w.honest(1).map(|h| h.node.replica().state_hash());
        let before = hash(&w);
        let doc = [7u8; 32];
        // Every peer shows a cursor, republished every 10 s as the browser shell does.
        let refresh = |w: &mut World, seq: u64| {
            for i in w.honest_indices() {
                w.publish_presence(i, seq, Some(doc));
            }
            w.run_until(w.now + 10_000);
        };
        for seq in 1..=3 {
            refresh(&mut w, seq);
        }
        let everyone: std::collections::BTreeSet<[u8; 32]> =
            (0..n).map(|i| w.author_of(i)).collect();
        for i in w.honest_indices() {
            let mut others = everyone.clone();
            others.remove(&w.author_of(i));
            assert_eq!(
                w.presence_seen(i),
                others,
                "peer {i} sees every other cursor"
            );
        }
        assert_eq!(hash(&w), before, "presence is not part of the commons");
        // Peer 0 vanishes without clearing its cursor: it expires everywhere.
        w.crash(0);
        for seq in 4..=7 {
            refresh(&mut w, seq);
        }
        let gone = w.author_of(0);
        for i in w.honest_indices() {
            let seen = w.presence_seen(i);
            assert!(
                !seen.contains(&gone),
                "peer {i} still shows a vanished cursor"
            );
            assert_eq!(seen.len(), n - 2, "peer {i} sees the other live cursors");
        }
    });
}

/// An equivocating author (one key on two devices, reusing one session nonce) hands two honest
/// peers two different edits claiming the same CRDT ids: each peer applies and gossips its own
/// first. Both changes are valid and must reach everyone; the claim first in causal order wins.
fn equivocate(w: &mut World, author: &peer_commons::identity::Identity, i: usize, j: usize) {
    use peer_commons::change::{client_id, Change, ChangeBody, Op, TextEdit};
    use peer_commons::sync::NodeInput;
    use sim::Slot;
    use yrs::updates::decoder::Decode;
    use yrs::{Text, Transact};
    let Some(r) = w.honest(i).map(|h| h.node.replica()) else {
        return;
    };
    let Some(doc) = r.documents().first().map(|d| d.id) else {
        return;
    };
    let Some(state) = r.document(&doc).map(|d| d.encode_state()) else {
        return;
    };
    let mut deps = r.heads();
    deps.sort();
    deps.truncate(peer_commons::change::limits::MAX_DEPS_PER_CHANGE);
    let (commons, seq, now) = (w.commons, w.now, w.now);
    let client = client_id(&author.author(), 0);
    let sign = |text: &str| {
        let mut opts = yrs::Options::with_client_id(yrs::block::ClientID::new(client));
        opts.offset_kind = yrs::OffsetKind::Utf16;
        opts.skip_gc = true;
        let d = yrs::Doc::with_options(opts);
        let t = d.get_or_insert_text("text");
        d.transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).expect("own state"))
            .expect("own state");
        let update = {
            let mut txn = d.transact_mut();
            t.insert(&mut txn, 0, text);
            txn.encode_update_v2()
        };
        Change::sign(
            author,
            ChangeBody {
                format: 1,
                commons: Some(commons),
                author: author.author(),
                seq,
                deps: deps.clone(),
                time: now,
                ops: vec![Op::EditDocument {
                    doc,
                    edit: TextEdit { nonce: 0, update },
                }],
            },
        )
    };
    let pair = [sign("TRUTH "), sign("LIES ")];
    for (peer, c) in [i, j].into_iter().zip(pair) {
        let Slot::Honest(h) = &mut w.slots[peer] else {
            continue;
        };
        if h.node.replica_mut().insert(&c.bytes).is_err() {
            continue;
        }
        h.disk.push(c.bytes.clone());
        w.written.insert(c.id);
        w.input(peer, NodeInput::Local(&[c.id]));
    }
}

/// A few equivocating authors among honest peers, under loss: every replica converges to one
/// state hash, with the same changes voided and the equivocators flagged.
#[test]
fn equivocating_authors_under_loss_converge() {
    use rand::Rng;
    for_seeds("equivocating_authors_under_loss_converge", 2, |seed| {
        let cfg = WorldConfig {
            link: LinkSpec {
                latency_ms: 30,
                jitter_ms: 40,
                loss: 0.05,
                dup: 0.02,
                ..LinkSpec::default()
            },
            ..WorldConfig::default()
        };
        let mut w = World::new(seed, cfg, 20);
        bootstrap_all(&mut w);
        w.run_until(5_000);
        edit_randomly(&mut w, 1, 5_000);
        let liars: Vec<peer_commons::identity::Identity> = (0..3u8)
            .map(|k| peer_commons::identity::Identity::from_secret([200 + k; 32]))
            .collect();
        for round in 0..6 {
            w.run_until(w.now + 1_000);
            let peers = w.honest_indices();
            let i = peers[w.rng.gen_range(0..peers.len())];
            let j = peers[w.rng.gen_range(0..peers.len())];
            equivocate(&mut w, &liars[round % liars.len()], i, j);
            w.edit(i);
        }
        converge(&mut w, 300_000);
        let peers = w.honest_indices();
        let first = w
            .honest(peers[0])
            .map(|h| h.node.replica())
            .expect("honest");
        let voided: Vec<_> = w.written.iter().filter(|id| first.is_voided(id)).collect();
        assert!(!voided.is_empty(), "the equivocations were not detected");
        for &p in &peers {
            let r = w.honest(p).map(|h| h.node.replica()).expect("honest");
            for id in &w.written {
                assert_eq!(r.is_voided(id), first.is_voided(id), "peer {p}");
            }
            for l in &liars {
                assert_eq!(
                    r.is_equivocating(&l.author()),
                    first.is_equivocating(&l.author())
                );
            }
        }
        println!(
            "seed {seed}: {} changes, {} voided, converged at {} ms",
            w.written.len(),
            voided.len(),
            w.now
        );
    });
}
