//! The client's address, as sign-in throttling and the journal record it:
//! the TCP peer, unless the peer is a proxy the operator trusts
//! (`trusted_proxies`); then the address the proxy names in `Forwarded`
//! (RFC 7239) or, without it, `X-Forwarded-For`. Walking the list from the
//! nearest hop back, the first address that is not a trusted proxy is the
//! client: anything to the left of it was written by the client itself and
//! proves nothing. From any other peer the headers are ignored (review M6).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use valv_service::{ServiceError, Valv};

use crate::error::WebError;

/// The client's address (see the module header).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<Valv> for ClientAddr {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, valv: &Valv) -> Result<Self, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| ServiceError::internal_msg("the server was started without peer addresses"))?;
        Ok(Self(client(peer, &parts.headers, &valv.context().settings.trusted_proxies)))
    }
}

/// The client behind `peer`, given the proxies trusted.
#[must_use]
pub fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = hops(headers);
    hops.iter().rev().find(|a| !is_trusted(a)).or(hops.first()).copied().unwrap_or(peer)
}

/// The addresses the forwarding headers list, the client's first.
fn hops(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| -> Vec<String> {
        let all = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
        all.flat_map(|v| v.split(',')).map(|s| s.trim().to_owned()).collect()
    };
    let forwarded = values("forwarded");
    if forwarded.is_empty() {
        return values("x-forwarded-for").iter().filter_map(|a| address(a)).collect();
    }
    forwarded
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| address(v.trim().trim_matches('"'))).flatten()
            })
        })
        .collect()
}

/// An address as the headers write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`. Obfuscated names (`_hidden`,
/// `unknown`) are not addresses.
fn address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.split(']').next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_headers_of_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(client(ip("198.51.100.7"), &h, &[]), ip("198.51.100.7"));
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        assert_eq!(client(ip("198.51.100.7"), &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        // The client wrote a forged first hop itself; the proxy appended what it saw.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(client(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        let h = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.2")]);
        assert_eq!(client(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::7"), "Forwarded is read first");
        let h = headers(&[("x-forwarded-for", "10.0.0.3")]);
        assert_eq!(client(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.3"), "all hops trusted: the first");
        assert_eq!(client(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"), "no header: the peer");
        let h = headers(&[("forwarded", "for=_hidden, for=unknown")]);
        assert_eq!(client(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"), "names that are no address");
    }
}
