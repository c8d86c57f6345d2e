//! Who the client is behind a reverse proxy (`--trusted-proxy`).
//!
//! Behind a proxy every connection comes from the proxy's address, so per-address limits would
//! count all clients as one. A proxy appends the address it received the request from to
//! `X-Forwarded-For`; everything to the left of that was written by the client and may be forged.
//! So only when the connection comes from a trusted proxy is the header read, from the right:
//! trusted hops are skipped, and the first hop that is not trusted is the client.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The `X-Forwarded-For` header name.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed; empty (the default) believes nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts every address inside `nets`.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client a request from `peer` with `headers` stands for.
    ///
    /// `peer` itself unless it is a trusted proxy; then the nearest hop of `X-Forwarded-For`
    /// that is not trusted. A hop that is not an address ends the walk at the last good one:
    /// garbage there can only have come from the client side, left of a proxy's entry.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        // Several header lines read as one list, in order; the nearest hop is the last.
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("\u{0}").split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// Parses one hop of `X-Forwarded-For`: an address, or an address with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Parses `--trusted-proxy`: an address (a single host) or a CIDR block.
pub fn parse_trusted_proxy(arg: &str) -> Result<IpNet, String> {
    if let Ok(net) = arg.parse::<IpNet>() {
        return Ok(net);
    }
    arg.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{arg:?} is neither an IP address nor a CIDR block"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                FORWARDED_FOR,
                HeaderValue::from_str(line).expect("header value"),
            );
        }
        headers
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            nets.iter()
                .map(|n| parse_trusted_proxy(n).expect("net"))
                .collect(),
        )
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let headers = forwarded(&["198.51.100.1"]);
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["198.51.100.1"]);
        assert_eq!(trusted.client(ip("192.0.2.5"), &headers), ip("192.0.2.5"));
    }

    #[test]
    fn the_last_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "2001:db8::1"]);
        let peer = ip("10.0.0.1");
        let cases = [
            (vec!["198.51.100.1"], "198.51.100.1"),
            (vec!["203.0.113.9, 198.51.100.1"], "198.51.100.1"),
            (vec!["203.0.113.9, 198.51.100.1, 10.1.1.1"], "198.51.100.1"),
            (
                vec!["203.0.113.9", "198.51.100.1, 10.2.2.2"],
                "198.51.100.1",
            ),
            (vec!["198.51.100.1:4711"], "198.51.100.1"),
            (vec!["[2001:db8::9]:4711, 2001:db8::1"], "2001:db8::9"),
            (vec!["::ffff:198.51.100.1"], "198.51.100.1"),
            // Garbage stops the walk at the last good hop (here a trusted one).
            (vec!["198.51.100.1, junk, 10.3.3.3"], "10.3.3.3"),
            (vec!["junk"], "10.0.0.1"),
            (vec![], "10.0.0.1"),
            (vec!["10.4.4.4, 10.5.5.5"], "10.4.4.4"),
        ];
        for (lines, client) in cases {
            assert_eq!(
                trusted.client(peer, &forwarded(&lines)),
                ip(client),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn a_non_text_header_is_ignored() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let mut headers = HeaderMap::new();
        headers.insert(
            FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff198.51.100.1").expect("opaque header"),
        );
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_proxy_flag_takes_an_address_or_a_block() {
        assert_eq!(
            parse_trusted_proxy("10.0.0.1"),
            Ok("10.0.0.1/32".parse().expect("net"))
        );
        assert_eq!(
            parse_trusted_proxy("fd00::/8"),
            Ok("fd00::/8".parse().expect("net"))
        );
        assert!(parse_trusted_proxy("10.0.0.0/99").is_err());
        assert!(parse_trusted_proxy("proxy.example").is_err());
    }
}
