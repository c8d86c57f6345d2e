//! Security headers on every HTTP answer: a Content-Security-Policy fit for the web app,
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//!
//! What the app needs, and so what the policy allows: its own scripts and the wasm module
//! (`'wasm-unsafe-eval'` compiles WebAssembly without allowing `eval`), its service worker
//! (`worker-src 'self'`), WebSocket relays anywhere (`connect-src 'self' ws: wss:`; WebRTC itself
//! is outside CSP), its own styles only (the app sets element styles through the CSSOM, which CSP
//! does not govern, so no `'unsafe-inline'`), and `data:` images (the test page's empty icon).
//! Who may frame the app is the operator's choice (`--frame-ancestors`).

use axum::http::{header, HeaderMap, HeaderValue};

/// Default of `--frame-ancestors`: only pages of the relay's own origin may embed the app.
pub const DEFAULT_FRAME_ANCESTORS: &str = "'self'";

/// Why a `--frame-ancestors` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--frame-ancestors {0:?}: give space-separated CSP sources (no `;`, `,` or control characters)"
)]
pub struct InvalidFrameAncestors(pub String);

/// The headers added to every answer, built once at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    /// The headers with `frame_ancestors` as the CSP `frame-ancestors` sources.
    ///
    /// Refuses a value that would end the directive and start another (`;`), start another
    /// policy (`,`), or break the header.
    pub fn new(frame_ancestors: &str) -> Result<Self, InvalidFrameAncestors> {
        let sources = frame_ancestors.trim();
        let acceptable = !sources.is_empty()
            && sources
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b';' && b != b',');
        if !acceptable {
            return Err(InvalidFrameAncestors(frame_ancestors.to_owned()));
        }
        let policy = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
             connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors {sources}"
        );
        let csp = HeaderValue::from_str(&policy)
            .map_err(|_| InvalidFrameAncestors(frame_ancestors.to_owned()))?;
        Ok(SecurityHeaders { csp })
    }

    /// Adds the headers to an answer (replacing any of the same name).
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_what_the_app_needs_and_the_ancestors() {
        let headers = SecurityHeaders::new("'self' https://a.example").expect("valid");
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        let csp = map[header::CONTENT_SECURITY_POLICY].to_str().expect("text");
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(csp.ends_with("frame-ancestors 'self' https://a.example"));
        assert_eq!(map[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(map[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn refuses_values_that_would_inject_directives() {
        for bad in ["", "  ", "'self'; script-src *", "a, b", "a\nb", "é"] {
            assert!(SecurityHeaders::new(bad).is_err(), "{bad:?}");
        }
        assert!(SecurityHeaders::new("'none'").is_ok());
        assert!(SecurityHeaders::new("*").is_ok());
    }
}
