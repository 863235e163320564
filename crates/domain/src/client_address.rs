//! The client's address behind reverse proxies. `X-Forwarded-For` is a list each proxy appends
//! the address it received the request from to; everything left of the last proxy we trust was
//! written by the client and may be forged. So the client is the **right-most hop that is not a
//! trusted proxy**: walk from the direct peer leftwards while the hop is trusted.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

/// The reverse proxies whose `X-Forwarded-For` entries are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    /// Believe the direct peer whatever its address (the old `trust_proxy = true`: one proxy in
    /// front, whose own address need not be listed).
    direct_peer: bool,
    /// Addresses and ranges of trusted proxies.
    nets: Vec<IpNet>,
}

/// A trusted-proxy entry that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("trusted proxy {0:?} is not an IP address or a CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)")]
pub struct BadProxy(pub String);

impl TrustedProxies {
    /// Parses IP addresses (`192.0.2.7`, `2001:db8::7`) and CIDR ranges (`10.0.0.0/8`). Blank
    /// entries are ignored; anything else is refused, naming the entry.
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, BadProxy> {
        let mut nets = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            if e.is_empty() {
                continue;
            }
            let net = match e.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => IpNet::from(e.parse::<IpAddr>().map_err(|_| BadProxy(e.to_owned()))?.to_canonical()),
            };
            nets.push(net);
        }
        Ok(Self { direct_peer: false, nets })
    }

    /// The same, also believing the direct peer whatever its address.
    pub fn with_direct_peer(mut self) -> Self {
        self.direct_peer = true;
        self
    }

    /// Whether no proxy is trusted (the peer's address is the client's).
    pub fn is_empty(&self) -> bool {
        !self.direct_peer && self.nets.is_empty()
    }

    fn listed(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address, given the connection's peer and the `X-Forwarded-For` header
    /// values in the order received. A hop that is not an address (`unknown`, garbage, an empty
    /// entry) ends the walk: the answer is then the last hop we could read, a trusted proxy,
    /// never anything to its left.
    pub fn client_address<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !(self.direct_peer || self.listed(client)) {
            return client;
        }
        let values: Vec<&str> = forwarded_for.into_iter().collect();
        for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.listed(ip) {
                break;
            }
        }
        client
    }
}

/// One hop: an address, possibly with a port (`192.0.2.1:443`, `[2001:db8::1]:443`) or in
/// brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert!(none.is_empty());
        assert_eq!(none.client_address(ip("203.0.113.9"), ["6.6.6.6"]), ip("203.0.113.9"));
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client_address(ip("203.0.113.9"), ["6.6.6.6, 10.1.1.1"]), ip("203.0.113.9"));
    }

    #[test]
    fn spoofed_left_entries_are_ignored() {
        let p = proxies(&["10.0.0.5"]);
        // The client wrote "6.6.6.6" itself; the proxy appended the address it saw.
        assert_eq!(p.client_address(ip("10.0.0.5"), ["6.6.6.6, 1.1.1.1, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(p.client_address(ip("10.0.0.5"), ["203.0.113.7"]), ip("203.0.113.7"));
        // A header sent twice is one list, in order.
        assert_eq!(p.client_address(ip("10.0.0.5"), ["6.6.6.6", "203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn chains_of_proxies_are_walked_while_trusted() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]);
        let xff = ["6.6.6.6, 203.0.113.7, 192.0.2.1, 10.2.3.4"];
        assert_eq!(p.client_address(ip("10.9.9.9"), xff), ip("203.0.113.7"));
        assert_eq!(p.client_address(ip("2001:db8::1"), ["203.0.113.8, 2001:db8::2"]), ip("203.0.113.8"));
        // Every hop trusted: the left-most one is as far as anyone vouches.
        assert_eq!(p.client_address(ip("10.9.9.9"), ["10.1.1.1, 10.2.2.2"]), ip("10.1.1.1"));
        // No header at all: the trusted peer itself.
        assert_eq!(p.client_address(ip("10.9.9.9"), []), ip("10.9.9.9"));
    }

    #[test]
    fn direct_peer_trust_takes_the_right_most_hop() {
        let p = TrustedProxies::default().with_direct_peer();
        assert!(!p.is_empty());
        assert_eq!(p.client_address(ip("127.0.0.1"), ["6.6.6.6, 203.0.113.7"]), ip("203.0.113.7"));
        let p = proxies(&["10.0.0.0/8"]).with_direct_peer();
        assert_eq!(p.client_address(ip("198.51.100.1"), ["6.6.6.6, 203.0.113.7, 10.0.0.2"]), ip("203.0.113.7"));
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_readable_hop() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client_address(ip("10.0.0.1"), ["6.6.6.6, unknown"]), ip("10.0.0.1"));
        assert_eq!(p.client_address(ip("10.0.0.1"), ["6.6.6.6, not an ip, 10.0.0.2"]), ip("10.0.0.2"));
        assert_eq!(p.client_address(ip("10.0.0.1"), ["6.6.6.6,,"]), ip("10.0.0.1"));
        assert_eq!(p.client_address(ip("10.0.0.1"), [""]), ip("10.0.0.1"));
        // Ports and brackets are read; IPv4 inside IPv6 is the IPv4 address.
        assert_eq!(p.client_address(ip("10.0.0.1"), ["203.0.113.7:5123"]), ip("203.0.113.7"));
        assert_eq!(p.client_address(ip("10.0.0.1"), ["[2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(p.client_address(ip("10.0.0.1"), ["[2001:db8::7]"]), ip("2001:db8::7"));
        assert_eq!(p.client_address(ip("::ffff:10.0.0.1"), ["::ffff:203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn entries_parse_or_are_refused_by_name() {
        let p = proxies(&[" 10.0.0.1/8 ", "192.0.2.1", "", "::1"]);
        assert_eq!(p.client_address(ip("10.200.0.1"), ["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(p.client_address(ip("::1"), ["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(p.client_address(ip("192.0.2.2"), ["203.0.113.7"]), ip("192.0.2.2"));
        assert_eq!(TrustedProxies::parse(["10.0.0.0/33"]), Err(BadProxy("10.0.0.0/33".into())));
        assert_eq!(TrustedProxies::parse(["proxy.example.org"]), Err(BadProxy("proxy.example.org".into())));
        assert!(TrustedProxies::parse(Vec::<String>::new()).unwrap().is_empty());
    }
}
