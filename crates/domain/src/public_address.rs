//! Whether an address is on the public internet. The server posts to addresses an application
//! registered (back-channel logout); unless the operator allows otherwise, those must not reach
//! the server itself or the network it runs in: loopback, private, link-local and other special
//! ranges are refused, whether written as a literal or found by resolving a name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || ip.is_multicast()
        || a >= 240) // reserved, and the broadcast address
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address: judged by it (mapped, NAT64, 6to4).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments (Teredo among them)
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Whether a URL's host names a place that is never public: a non-public address literal, or
/// `localhost` (and names under it). Other names are judged when resolved.
pub fn is_private_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(v4) => !is_public_v4(*v4),
        url::Host::Ipv6(v6) => !is_public_v6(*v6),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// Whether `url`'s host is never public (see [`is_private_host`]); a URL that does not parse
/// or has no host counts as private.
pub fn is_private_url(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) => u.host().is_none_or(|h| is_private_host(&h)),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_ip(s.parse().unwrap())
    }

    #[test]
    fn ordinary_internet_addresses_are_public() {
        for ip in
            ["8.8.8.8", "1.1.1.1", "151.101.1.69", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::1111"]
        {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn the_servers_own_and_its_networks_addresses_are_not() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "::127.0.0.1",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn an_ipv4_address_inside_ipv6_is_judged_by_itself() {
        assert!(!public("::ffff:127.0.0.1"));
        assert!(!public("::ffff:10.1.2.3"));
        assert!(public("::ffff:8.8.8.8"));
        assert!(!public("64:ff9b::a9fe:a9fe"), "NAT64 of 169.254.169.254");
        assert!(public("64:ff9b::808:808"), "NAT64 of 8.8.8.8");
        assert!(!public("2002:c0a8:0101::1"), "6to4 of 192.168.1.1");
        assert!(public("2002:0808:0808::1"), "6to4 of 8.8.8.8");
    }

    #[test]
    fn literal_hosts_and_localhost_names_are_private_in_urls() {
        for url in [
            "http://127.0.0.1:8080/logout",
            "https://[::1]/logout",
            "https://10.0.0.5/logout",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/logout",
            "https://LOCALHOST./logout",
            "https://app.localhost/logout",
            "https://0x7f.1/logout",
            "https://2130706433/logout",
            "not a url",
        ] {
            assert!(is_private_url(url), "{url}");
        }
        for url in ["https://claims.example.org/logout", "https://8.8.8.8/logout", "https://localhost.example.org/x"] {
            assert!(!is_private_url(url), "{url}");
        }
    }
}
