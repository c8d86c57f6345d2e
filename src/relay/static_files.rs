//! Serving the static web app from `--www DIR`: MIME types by extension, and no way out of DIR.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

/// What `GET /` answers when the relay serves no web app.
pub const NO_WWW_TEXT: &str =
    "peer-commons signalling relay: connect a WebSocket to any path (y-webrtc signalling protocol)\n";

/// The MIME type for a file name, by its extension.
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Why a request path does not name a file inside DIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Percent-encoding that does not decode to UTF-8.
    #[error("path is not valid percent-encoded UTF-8")]
    BadEncoding,
    /// A `..`, `.`, hidden (dot) segment, backslash or NUL: refused rather than interpreted.
    #[error("path segment not allowed")]
    Forbidden,
}

/// Maps a URL path to a path under `root`, refusing anything that could leave it.
///
/// Only plain segments are joined, so the result stays under `root` lexically; symbolic links
/// are checked separately in [`respond`]: the final file, after canonicalising, must lie under
/// `root`.
pub fn resolve(root: &Path, url_path: &str) -> Result<PathBuf, PathError> {
    let decoded = percent_decode_str(url_path)
        .decode_utf8()
        .map_err(|_| PathError::BadEncoding)?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        let refused = segment.starts_with('.') || segment.contains(['\\', '\0', ':']);
        if refused {
            return Err(PathError::Forbidden);
        }
        path.push(segment);
    }
    Ok(path)
}

/// Answers a plain GET for `url_path`: the file under `root` (`index.html` for a directory), or
/// the short relay text on `/` when there is no `root`.
pub async fn respond(root: Option<&Path>, url_path: &str) -> Response {
    let Some(root) = root else {
        return if url_path == "/" {
            text(StatusCode::OK, NO_WWW_TEXT)
        } else {
            not_found()
        };
    };
    let path = match resolve(root, url_path) {
        Ok(path) => path,
        Err(PathError::BadEncoding) => return text(StatusCode::BAD_REQUEST, "bad path\n"),
        Err(PathError::Forbidden) => return not_found(),
    };
    let Some(real) = inside(root, &path).await else {
        return not_found();
    };
    let is_dir = tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_dir());
    let file = if is_dir {
        if !url_path.ends_with('/') {
            // Relative links in the directory's index.html need the trailing slash.
            return redirect(&format!("{url_path}/"));
        }
        // The index may itself be a symbolic link: the file finally read is checked too.
        let Some(index) = inside(root, &real.join("index.html")).await else {
            return not_found();
        };
        index
    } else {
        real
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => file_response(&file, bytes),
        Err(_) => not_found(),
    }
}

/// The canonical form of `path` (symbolic links followed) when it exists and lies under `root`
/// (itself canonicalised at start-up); `None` otherwise.
async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    real.starts_with(root).then_some(real)
}

fn file_response(file: &Path, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime_type(file)),
    );
    // The app is small and changes with each build: revalidate rather than serve stale wasm.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, value)]).into_response(),
        Err(_) => not_found(),
    }
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_by_extension() {
        for (name, mime) in [
            ("a.wasm", "application/wasm"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.HTML", "text/html; charset=utf-8"),
            ("a.json", "application/json"),
            ("a", "application/octet-stream"),
        ] {
            assert_eq!(mime_type(Path::new(name)), mime, "{name}");
        }
    }

    #[test]
    fn resolve_keeps_plain_paths_under_root() {
        let root = Path::new("/srv/www");
        assert_eq!(resolve(root, "/"), Ok(PathBuf::from("/srv/www")));
        assert_eq!(
            resolve(root, "/pkg/app.wasm"),
            Ok(PathBuf::from("/srv/www/pkg/app.wasm"))
        );
        assert_eq!(
            resolve(root, "//a%20b.js"),
            Ok(PathBuf::from("/srv/www/a b.js"))
        );
    }

    #[test]
    fn resolve_refuses_every_escape() {
        let root = Path::new("/srv/www");
        for bad in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/a/%2e%2e%2f%2e%2e%2fetc",
            "/..%5c..%5cetc",
            "/.git/config",
            "/./index.html",
            "/a%00b",
            "/C:/x",
        ] {
            assert_eq!(resolve(root, bad), Err(PathError::Forbidden), "{bad}");
        }
        assert_eq!(resolve(root, "/%ff"), Err(PathError::BadEncoding));
    }
}
