//! `peer-commons-relay --listen ADDR [--www DIR]`: the signalling relay, and optionally the web
//! app, on one port. Prints `listening on http://ADDR` (the bound address, so `:0` works) on
//! stdout once ready; logs go to stderr (`RUST_LOG` filters them).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

/// The relay is a native server: for wasm32 (where `cargo build` builds every binary too) this
/// binary is empty.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::PathBuf;
    use std::process::ExitCode;

    use clap::Parser;
    use ipnet::IpNet;
    use peer_commons::relay::{self, forwarded, security_headers, Config, Limits};
    use tokio::net::TcpListener;

    /// The peer-commons signalling relay (y-webrtc signalling protocol over WebSocket).
    #[derive(Debug, Parser)]
    #[command(name = "peer-commons-relay", version, about)]
    struct Cli {
        /// Address to listen on, e.g. 127.0.0.1:4444 (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: String,

        /// Directory of the static web app to serve on plain HTTP GET requests.
        #[arg(long)]
        www: Option<PathBuf>,

        #[command(flatten)]
        limits: Limits,

        /// A reverse proxy (address or CIDR block, repeatable) whose X-Forwarded-For is
        /// believed: for connections from it, the nearest hop that is not a trusted proxy is
        /// the client that per-address limits count. Off by default (the TCP peer is the client).
        #[arg(long = "trusted-proxy", value_name = "IP_OR_CIDR",
              value_parser = forwarded::parse_trusted_proxy)]
        trusted_proxies: Vec<IpNet>,

        /// CSP frame-ancestors sources: who may embed the app in a frame, e.g.
        /// "'self' https://example.org" or "*"; "'none'" forbids framing.
        #[arg(long, default_value = security_headers::DEFAULT_FRAME_ANCESTORS)]
        frame_ancestors: String,
    }

    #[tokio::main]
    pub async fn main() -> ExitCode {
        let cli = Cli::parse();
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .init();

        let listener = match TcpListener::bind(&cli.listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("peer-commons-relay: cannot listen on {}: {err}", cli.listen);
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            // The one line test harnesses parse to learn the port.
            Ok(addr) => println!("listening on http://{addr}"),
            Err(err) => {
                eprintln!("peer-commons-relay: {err}");
                return ExitCode::FAILURE;
            }
        }
        tracing::info!(listen = %cli.listen, www = ?cli.www, limits = ?cli.limits,
            trusted_proxies = ?cli.trusted_proxies, frame_ancestors = %cli.frame_ancestors,
            "relay starting");

        let config = Config {
            www: cli.www,
            limits: cli.limits,
            trusted_proxies: cli.trusted_proxies,
            frame_ancestors: cli.frame_ancestors,
        };
        match relay::serve(config, listener, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("peer-commons-relay: {err}");
                ExitCode::FAILURE
            }
        }
    }

    /// Resolves on SIGINT (Ctrl-C) or SIGTERM.
    async fn shutdown_signal() {
        let interrupt = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
}
