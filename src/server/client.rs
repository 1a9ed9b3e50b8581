//! Who is asking: the TCP peer, the client address we believe, and the scheme the client used.
//!
//! `X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the peer is one of
//! `server.trusted_proxies`; by default nobody is, so a forged `X-Forwarded-For: 127.0.0.1`
//! changes nothing. Every "is this the machine itself?" and "http or https?" decision reads
//! [`ClientInfo`], never a header.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use warp::http::HeaderMap;

/// How the client reached us (as far as we know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The client of one request, as decided by the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The TCP peer (the client itself, or the last proxy). `None` only outside the edge
    /// (routes served directly in tests).
    pub peer: Option<SocketAddr>,
    /// The client's address: the peer, or what a trusted proxy says the client was.
    pub address: Option<IpAddr>,
    /// The scheme the client used: https when this connection is TLS, or when a trusted proxy
    /// says so.
    pub scheme: Scheme,
}

impl ClientInfo {
    /// What routes see when they are served without the edge: nobody in particular.
    pub fn unknown() -> ClientInfo {
        ClientInfo {
            peer: None,
            address: None,
            scheme: Scheme::Http,
        }
    }

    /// Decide who the client is for a request from `peer` on a connection that is TLS or not.
    pub fn decide(
        peer: SocketAddr,
        tls: bool,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
    ) -> ClientInfo {
        let peer_ip = peer.ip().to_canonical();
        let mut info = ClientInfo {
            peer: Some(peer),
            address: Some(peer_ip),
            scheme: if tls { Scheme::Https } else { Scheme::Http },
        };
        if !trusted.contains(peer_ip) {
            return info;
        }
        info.address = Some(trusted.client_behind(peer_ip, headers));
        if !tls
            && let Some(proto) = last_forwarded_value(headers, "x-forwarded-proto")
            && proto.eq_ignore_ascii_case("https")
        {
            info.scheme = Scheme::Https;
        }
        info
    }

    /// The request comes from this machine itself (the believed client is loopback).
    pub fn is_local(&self) -> bool {
        self.address.is_some_and(|a| a.is_loopback())
    }
}

/// `server.trusted_proxies`, parsed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// An IP address (a single host) or a CIDR.
pub fn parse_proxy(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

impl TrustedProxies {
    /// Parse the configured list; entries were checked when the config was loaded.
    pub fn parse(entries: &[String]) -> TrustedProxies {
        TrustedProxies(entries.iter().filter_map(|e| parse_proxy(e)).collect())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client a trusted peer speaks for: walk `X-Forwarded-For` from the right (nearest
    /// hop first) past every trusted proxy; the first address that is not a trusted proxy is
    /// the client. A malformed entry stops the walk at the last good hop.
    fn client_behind(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// The value the nearest proxy set, for a header proxies may append to.
fn last_forwarded_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                warp::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_change_nothing() {
        let h = headers(&[
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let info = ClientInfo::decide(
            peer("203.0.113.9:4000"),
            false,
            &h,
            &TrustedProxies::default(),
        );
        assert_eq!(info.address, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(info.scheme, Scheme::Http);
        assert!(!info.is_local());
    }

    #[test]
    fn a_trusted_proxy_speaks_for_its_client() {
        let trusted = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]);
        // The client forged the leftmost entry; the walk stops at the first untrusted hop.
        let h = headers(&[
            ("x-forwarded-for", "127.0.0.1, 198.51.100.7"),
            ("x-forwarded-for", "10.1.2.3"),
            ("x-forwarded-proto", "https"),
        ]);
        let info = ClientInfo::decide(peer("127.0.0.1:5000"), false, &h, &trusted);
        assert_eq!(info.address, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(info.scheme, Scheme::Https);
        assert!(!info.is_local());
        // A local proxy with no header: the proxy itself is the client.
        let info = ClientInfo::decide(peer("127.0.0.1:5000"), false, &HeaderMap::new(), &trusted);
        assert!(info.is_local());
        // Ports and brackets are allowed; garbage stops the walk.
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443, nonsense")]);
        let info = ClientInfo::decide(peer("127.0.0.1:5000"), false, &h, &trusted);
        assert_eq!(info.address, Some("127.0.0.1".parse().unwrap()));
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        let info = ClientInfo::decide(peer("127.0.0.1:5000"), false, &h, &trusted);
        assert_eq!(info.address, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn tls_connections_are_https_and_mapped_addresses_are_plain() {
        let info = ClientInfo::decide(
            peer("[::ffff:127.0.0.1]:1"),
            true,
            &HeaderMap::new(),
            &TrustedProxies::default(),
        );
        assert_eq!(info.scheme, Scheme::Https);
        assert!(info.is_local());
        assert!(parse_proxy("10.0.0.0/8").is_some());
        assert!(parse_proxy("::1").is_some());
        assert!(parse_proxy("10.0.0.0/33").is_none());
        assert!(parse_proxy("proxy.example").is_none());
    }
}
