//! Criterion benches of the core, one group per concern (`cargo bench --bench core`; a single
//! group: `cargo bench --bench core -- identity`). Figures go to docs/PERFORMANCE.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peer_commons::identity::Identity;
use std::hint::black_box;

/// Message sizes: a small op, and a batched change of a short typing burst.
const MESSAGE_SIZES: [usize; 2] = [64, 1024];

/// Signing and verifying cost per change: the throughput bound of producing and receiving changes.
fn identity(c: &mut Criterion) {
    let id = Identity::from_secret([7; 32]);
    let author = id.author();
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
    }
    group.finish();
}

criterion_group!(benches, identity);
criterion_main!(benches);
