//! The client's real address, for throttling and the audit log. Behind a reverse proxy every
//! connection comes from the proxy, so the proxy's `X-Forwarded-For` or `Forwarded` header is
//! read — but only when the connection comes from a configured trusted proxy (`--trusted-proxy`),
//! since anyone else can write those headers. The address is the right-most one in the header
//! that is not itself a trusted proxy (what the nearest trusted proxy saw).

use axum::http::{header, HeaderMap};
use std::net::IpAddr;
use std::str::FromStr;

/// An address range: `192.0.2.0/24`, `2001:db8::/32`, or one address (`127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A range that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("「{0}」は IP アドレスの範囲ではありません（例: 10.0.0.0/8, 127.0.0.1, ::1）/ not an address range (e.g. 10.0.0.0/8, 127.0.0.1, ::1)")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma- or space-separated list of ranges.
pub fn parse_list(text: &str) -> Result<Vec<Cidr>, CidrError> {
    text.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn trusted(ip: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|p| p.contains(ip))
}

/// The addresses a proxy chain names, nearest last: `Forwarded: for=…` when present (RFC
/// 7239), else `X-Forwarded-For`. Unreadable entries are `None` (an obfuscated or unknown
/// node: nothing to the left of it can be trusted).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(v.trim()))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| parse_node(a.trim()))
        .collect()
}

/// One node of a forwarding header: `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim_matches('"');
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, _port) = text.rsplit_once(':')?;
    host.parse().ok()
}

/// The client's address: the peer itself, unless the peer is a trusted proxy; then the
/// right-most address of the forwarding chain that is not a trusted proxy.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[Cidr]) -> String {
    let Some(peer) = peer.map(canonical) else {
        return "-".to_owned();
    };
    if !trusted(peer, proxies) {
        return peer.to_string();
    }
    let mut client = peer;
    for node in forwarded_chain(headers).into_iter().rev() {
        match node.map(canonical) {
            Some(ip) => {
                client = ip;
                if !trusted(ip, proxies) {
                    break;
                }
            }
            None => break,
        }
    }
    client.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn ranges_are_read_and_matched() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.200.1.2".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.0.0.1".parse().unwrap()),
            "mapped v4"
        );
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
        assert_eq!(parse_list("10.0.0.0/8, ::1").unwrap().len(), 2);
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = parse_list("127.0.0.1,10.0.0.0/8").unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.1.1")]);
        // From the trusted proxy: the right-most untrusted address.
        assert_eq!(
            client_address(Some("127.0.0.1".parse().unwrap()), &xff, &proxies),
            "203.0.113.7"
        );
        // From anyone else the header is a lie and is ignored.
        assert_eq!(
            client_address(Some("198.51.100.2".parse().unwrap()), &xff, &proxies),
            "198.51.100.2"
        );
        // A client cannot hide behind a forged left-most entry.
        let forged = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(
            client_address(Some("127.0.0.1".parse().unwrap()), &forged, &proxies),
            "203.0.113.7"
        );
        let rfc = headers(&[("forwarded", "for=\"[2001:db8::9]:4711\";proto=https")]);
        assert_eq!(
            client_address(Some("127.0.0.1".parse().unwrap()), &rfc, &proxies),
            "2001:db8::9"
        );
        // No header, or no trusted proxies configured: the peer.
        assert_eq!(
            client_address(
                Some("127.0.0.1".parse().unwrap()),
                &HeaderMap::new(),
                &proxies
            ),
            "127.0.0.1"
        );
        assert_eq!(
            client_address(Some("127.0.0.1".parse().unwrap()), &xff, &[]),
            "127.0.0.1"
        );
    }
}
