//! Small bindings to the browser the runtime needs: the clock, secure random bytes, timers that
//! work in windows and workers alike, and logging.

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Milliseconds since the Unix epoch (the clock the runtime gives the sans-IO core).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// `N` bytes from the browser's secure random source.
pub fn random<const N: usize>() -> Result<[u8; N], JsError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        JsError::new(&format!(
            "this browser offers no secure random numbers (crypto.getRandomValues: {e}); \
             use a current browser over http://localhost or https"
        ))
    })?;
    Ok(bytes)
}

/// Logs a warning to the console (for things a developer, not the person, should see).
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("peer-commons: {message}")));
}

/// A pending `setTimeout`, cancelled when dropped.
pub struct Timer {
    id: JsValue,
    _handler: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `f` once after `ms` milliseconds (unless the timer is dropped first).
    pub fn once(ms: u64, f: impl FnOnce() + 'static) -> Timer {
        let mut f = Some(f);
        let handler = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let id = set_timeout(handler.as_ref().unchecked_ref(), ms as f64);
        Timer {
            id,
            _handler: handler,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// Lets other microtasks run (used when the runtime is borrowed by a caller up the stack).
pub async fn yield_now() {
    let resolved = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    let _ = wasm_bindgen_futures::JsFuture::from(resolved).await;
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, ms as f64);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
