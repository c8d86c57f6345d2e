//! `peer-commons-relay --listen ADDR [--www DIR]`.
//!
//! For now only a static file server for the web app (the signalling relay proper is its own
//! issue and replaces this file, keeping this command line and the `listening on` line, which
//! scripts and tests parse to learn the port when `--listen` asks for port 0).

// The relay is native only, but `cargo test --target wasm32-unknown-unknown` builds every binary
// of the package: on wasm32 it is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::Arc;

    use axum::extract::State;
    use axum::http::{header, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use axum::Router;
    use clap::Parser;

    /// Command line of the relay.
    #[derive(Parser, Debug)]
    #[command(
        version,
        about = "peer-commons relay (currently: static server for the web app)"
    )]
    struct Args {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long)]
        listen: SocketAddr,
        /// Directory of the static web app to serve (e.g. dist).
        #[arg(long)]
        www: Option<PathBuf>,
    }

    #[tokio::main]
    pub async fn main() -> ExitCode {
        let args = Args::parse();
        match serve(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("peer-commons-relay: {e}");
                ExitCode::FAILURE
            }
        }
    }

    async fn serve(args: Args) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        // The one line callers parse: it carries the port actually bound.
        println!("listening on http://{}", listener.local_addr()?);
        let app = Router::new()
            .fallback(static_file)
            .with_state(Arc::new(args.www));
        axum::serve(listener, app).await
    }

    /// Serves `GET /path` from the www directory; `/` and `dir/` mean `index.html`.
    async fn static_file(State(www): State<Arc<Option<PathBuf>>>, uri: Uri) -> Response {
        let Some(root) = www.as_deref() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let Some(file) = resolve(root, uri.path()) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match tokio::fs::read(&file).await {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, mime_type(&file)),
                    // The app changes with every build: always revalidate.
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }

    /// Maps a URL path to a file under `root`, refusing anything that could climb out of it.
    fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
        let mut file = root.to_path_buf();
        for part in url_path.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." || part.contains(['\\', '%', '\0']) {
                return None;
            }
            file.push(part);
        }
        if url_path.ends_with('/') {
            file.push("index.html");
        }
        Some(file)
    }

    /// The content types the app needs; browsers insist on the right one for modules and wasm.
    fn mime_type(file: &Path) -> &'static str {
        match file.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js" | "mjs") => "text/javascript; charset=utf-8",
            Some("wasm") => "application/wasm",
            Some("css") => "text/css; charset=utf-8",
            Some("json") => "application/json",
            Some("svg") => "image/svg+xml",
            Some("ts") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        }
    }
}
