//! Helpers shared by the governance tests: replicas, sync, shuffled delivery, and a snapshot of
//! everything governance derives (for comparing replicas).
#![allow(dead_code)]

use std::collections::BTreeMap;

use peer_commons::change::{Change, ChangeId, Charter, GovernanceParams};
use peer_commons::commons::Commons;
use peer_commons::identity::{AuthorId, Identity};
use rand::seq::SliceRandom;
use rand::Rng;

/// The default charter.
pub fn charter() -> Charter {
    Charter {
        title: "Commons".into(),
        purpose: "tests".into(),
        licence: "CC-BY-SA-4.0".into(),
        params: GovernanceParams::default(),
        fork_of: None,
    }
}

/// A founder's replica (secret 1).
pub fn founder() -> Commons {
    Commons::create(Identity::from_secret([1; 32]), 1, charter(), 0)
        .expect("genesis")
        .0
}

/// A writer's replica holding everything `of` holds.
pub fn join(of: &Commons, secret: u8) -> Commons {
    let mut r = writer(of.id(), secret);
    sync(of, &mut r);
    r
}

/// A writer's empty replica.
pub fn writer(id: ChangeId, secret: u8) -> Commons {
    Commons::join(
        id,
        Some((Identity::from_secret([secret; 32]), u32::from(secret))),
    )
}

/// The key of the identity made from `secret`.
pub fn key(secret: u8) -> AuthorId {
    Identity::from_secret([secret; 32]).author()
}

/// Delivers every change `from` holds to `to`.
pub fn sync(from: &Commons, to: &mut Commons) {
    let all: Vec<Change> = from.changes_in_causal_order().cloned().collect();
    for c in all {
        to.insert(&c.bytes).expect("valid change");
    }
}

/// The union of the changes of several replicas.
pub fn union(replicas: &[&Commons]) -> Vec<Change> {
    let mut m: BTreeMap<ChangeId, Change> = BTreeMap::new();
    for r in replicas {
        for c in r.changes_in_causal_order() {
            m.entry(c.id).or_insert_with(|| c.clone());
        }
    }
    m.into_values().collect()
}

/// A read-only replica fed `changes` in a random order, some twice.
pub fn shuffled_replica(id: ChangeId, changes: &[Change], rng: &mut impl Rng) -> Commons {
    let mut v: Vec<&Change> = changes.iter().collect();
    v.shuffle(rng);
    let mut r = Commons::join(id, None);
    for c in &v {
        r.insert(&c.bytes).expect("valid change");
        if rng.gen_bool(0.05) {
            assert!(r.insert(&c.bytes).expect("duplicate is fine").duplicate);
        }
    }
    assert_eq!(r.dag().pending_len(), 0, "every change applied");
    r
}

/// Asserts two snapshots are equal, naming the first part that differs.
pub fn assert_same(a: &str, b: &str, ctx: &str) {
    if a == b {
        return;
    }
    let va: serde_json::Value = serde_json::from_str(a).expect("json");
    let vb: serde_json::Value = serde_json::from_str(b).expect("json");
    let (Some(ma), Some(mb)) = (va.as_object(), vb.as_object()) else {
        panic!("{ctx}: snapshots differ");
    };
    for (k, x) in ma {
        let y = &mb[k];
        if x != y {
            if let (Some(xs), Some(ys)) = (x.as_array(), y.as_array()) {
                for (i, (p, q)) in xs.iter().zip(ys).enumerate() {
                    if p != q {
                        panic!("{ctx}: '{k}'[{i}] differs:\n{p}\n{q}");
                    }
                }
                panic!("{ctx}: '{k}' lengths differ: {} vs {}", xs.len(), ys.len());
            }
            panic!("{ctx}: '{k}' differs:\n{x}\n{y}");
        }
    }
    panic!("{ctx}: snapshots differ");
}

/// Everything governance derives, as JSON, plus the state hash.
pub fn snapshot(c: &Commons) -> String {
    let validations: Vec<_> = c
        .changes_in_causal_order()
        .filter_map(|ch| c.validation(&ch.id))
        .collect();
    serde_json::json!({
        "hash": c.state_hash_hex(),
        "members": c.members(),
        "proposals": c.proposals(),
        "blocked": c.blocked_keys(),
        "charter": c.charter(),
        "participants": c.participant_views(),
        "validations": validations,
        "documents": c.documents().iter().map(|d| (d.id.to_hex(), d.title.clone(), c.text(&d.id))).collect::<Vec<_>>(),
    })
    .to_string()
}
