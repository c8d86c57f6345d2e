//! Criterion benches of the core, one group per concern (`cargo bench --bench core`; a single
//! group: `cargo bench --bench core -- identity`). Figures go to docs/PERFORMANCE.md.
//!
//! Each group carries a reference measured in the same run (here: ed25519-dalek called directly),
//! so a figure taken on a busy machine can still be read against something.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use peer_commons::identity::Identity;
use std::hint::black_box;

/// Message sizes: a small op, and a batched change of a short typing burst.
const MESSAGE_SIZES: [usize; 2] = [64, 1024];

/// Signing and verifying cost per change: the throughput bound of producing and receiving changes.
fn identity(c: &mut Criterion) {
    let id = Identity::from_secret([7; 32]);
    let author = id.author();
    let reference = SigningKey::from_bytes(&[7; 32]);
    let mut group = c.benchmark_group("identity");
    group.throughput(Throughput::Elements(1));
    for size in MESSAGE_SIZES {
        let message = vec![0xa5u8; size];
        let signature = id.sign(&message);
        assert!(author.verify(&message, &signature).is_ok());
        group.bench_with_input(BenchmarkId::new("sign", size), &message, |b, m| {
            b.iter(|| id.sign(black_box(m)))
        });
        group.bench_with_input(BenchmarkId::new("verify", size), &message, |b, m| {
            b.iter(|| author.verify(black_box(m), black_box(&signature)))
        });
        // Reference: the library itself, without the Identity wrapper.
        let dalek_signature = reference.sign(&message);
        let dalek_key = reference.verifying_key();
        group.bench_with_input(BenchmarkId::new("dalek-sign", size), &message, |b, m| {
            b.iter(|| reference.sign(black_box(m)))
        });
        group.bench_with_input(BenchmarkId::new("dalek-verify", size), &message, |b, m| {
            b.iter(|| dalek_key.verify(black_box(m), black_box(&dalek_signature)))
        });
    }
    group.finish();
}

criterion_group!(benches, identity);
criterion_main!(benches);
