//! After a panic the module's state cannot be trusted (a panic in wasm aborts mid-call, leaving
//! borrows held and structures half updated), so the instance is *poisoned*: every later call
//! into the API fails at once with [`CRASHED`] instead of waiting forever for a runtime that will
//! never be free. What was stored before the panic is intact; a reload starts a fresh instance.

use std::sync::atomic::{AtomicBool, Ordering};

static POISONED: AtomicBool = AtomicBool::new(false);

/// The error every call gets once the instance is poisoned.
pub const CRASHED: &str = "peer-commons stopped after an internal error (a bug; the details are \
    in the browser console): reload the page to continue. What was already saved is safe.";

/// Installs the panic hook: poison the instance, then print the panic to the console.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        POISONED.store(true, Ordering::SeqCst);
        console_error_panic_hook::hook(info);
    }));
}

/// Whether a panic happened in this instance.
pub fn poisoned() -> bool {
    POISONED.load(Ordering::SeqCst)
}

/// Poisons the instance without a panic: for tests of what callers see afterwards (a real
/// panic aborts the test that raises it).
#[doc(hidden)]
pub fn poison_for_tests() {
    POISONED.store(true, Ordering::SeqCst);
}

/// `Err(CRASHED)` once poisoned.
pub fn check() -> Result<(), String> {
    if poisoned() {
        Err(CRASHED.to_string())
    } else {
        Ok(())
    }
}
