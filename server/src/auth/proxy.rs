//! Tandem behind nginx or a load balancer: which peers are trusted proxies, the client
//! address they forward (`Forwarded`, RFC 7239, or `X-Forwarded-For`), the host they
//! forward (`X-Forwarded-Host`), and the public origin the same-origin check compares
//! with. Headers from any other peer are ignored, so a client cannot choose its address.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// The proxy settings of `tandem serve` (`--trusted-proxies`, `--forwarded-header`,
/// `--public-origin`).
#[derive(Clone, Debug, Default)]
pub struct ProxyConfig {
    /// Networks whose peers are proxies whose forwarding headers are believed.
    pub trusted: Vec<IpNet>,
    /// The one header the proxies write the client's address into. Only that header is
    /// read: a proxy passes the other through as the client sent it.
    pub header: ForwardedHeader,
    /// The origin browsers use (`https://crm.example.com`), without a trailing slash.
    pub public_origin: Option<String>,
}

/// Which forwarding header the trusted proxies append to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx's `$proxy_add_x_forwarded_for`).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ProxyConfig {
    /// Settings from the flags' values: CIDRs (a bare address is a /32 or /128), the
    /// header (`x-forwarded-for` or `forwarded`) and an origin.
    /// Errors: a CIDR, header or origin that does not parse, naming it.
    pub fn parse(
        trusted: &[String],
        header: &str,
        public_origin: Option<&str>,
    ) -> Result<Self, String> {
        let header = match header.trim().to_ascii_lowercase().as_str() {
            "" | "x-forwarded-for" => ForwardedHeader::XForwardedFor,
            "forwarded" => ForwardedHeader::Forwarded,
            other => {
                return Err(format!(
                    "--forwarded-header: {other:?} is neither x-forwarded-for nor forwarded"
                ))
            }
        };
        let trusted = trusted
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<IpNet>()
                    .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("--trusted-proxies: {t:?} is not a CIDR like 10.0.0.0/8"))
            })
            .collect::<Result<_, _>>()?;
        let public_origin = match public_origin.map(str::trim).filter(|o| !o.is_empty()) {
            None => None,
            Some(o) => {
                let o = o.trim_end_matches('/').to_ascii_lowercase();
                let ok = o.split_once("://").is_some_and(|(scheme, host)| {
                    matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
                });
                if !ok {
                    return Err(format!(
                        "--public-origin: {o:?} is not an origin like https://crm.example.com"
                    ));
                }
                Some(o)
            }
        };
        Ok(ProxyConfig {
            trusted,
            header,
            public_origin,
        })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// nearest address in the forwarding chain that is not itself a trusted proxy (read
    /// right to left, as each proxy appends the address it saw).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return canonical(peer);
        }
        let chain = forwarded_for(headers, self.header);
        chain
            .iter()
            .rev()
            .copied()
            .find(|ip| !self.is_trusted(*ip))
            .or_else(|| chain.first().copied())
            .map(canonical)
            .unwrap_or(canonical(peer))
    }

    /// Whether a browser's `Origin` may change state here: equal to the public origin
    /// when one is set, else naming the request's host (`X-Forwarded-Host` from a
    /// trusted proxy, else `Host`).
    pub fn origin_allowed(&self, origin: &str, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if let Some(public) = &self.public_origin {
            return origin == *public;
        }
        let forwarded_host = peer
            .filter(|p| self.is_trusted(*p))
            .and_then(|_| headers.get("x-forwarded-host"))
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split(',').next())
            .map(str::trim);
        let host = forwarded_host.or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::trim)
        });
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        match (origin_host, host) {
            (Some(o), Some(h)) => o.eq_ignore_ascii_case(h),
            _ => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) as plain IPv4, so it matches
/// IPv4 networks and limits.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The addresses of a forwarding chain, first hop first, from the one header the
/// proxies write (`for=` parameters of `Forwarded`, or `X-Forwarded-For`). An unparsable
/// entry (`unknown`, an obfuscated name) drops what came before it, so nothing before it
/// is believed.
fn forwarded_for(headers: &HeaderMap, which: ForwardedHeader) -> Vec<IpAddr> {
    let entries: Vec<String> = if which == ForwardedHeader::Forwarded {
        headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let mut out = Vec::new();
    for e in entries {
        match parse_node(&e) {
            Some(ip) => out.push(ip),
            None => {
                out.clear();
            }
        }
    }
    out
}

/// An address as a forwarding header writes it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]`,
/// `[::1]:5678` or `::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let cfg = ProxyConfig::parse(&["10.0.0.0/8,127.0.0.1".into()], "", None).expect("config");
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.2.3")]);
        assert_eq!(cfg.client_ip(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        assert_eq!(
            cfg.client_ip(ip("198.51.100.1"), &h),
            ip("198.51.100.1"),
            "an untrusted peer's header is ignored"
        );
        // A client that prepends its own X-Forwarded-For cannot pick its address: the
        // nearest untrusted hop counts.
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
        assert_eq!(cfg.client_ip(ip("10.0.0.5"), &spoofed), ip("203.0.113.7"));
        let rfc = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\"",
        )]);
        assert_eq!(
            cfg.client_ip(ip("127.0.0.1"), &rfc),
            ip("127.0.0.1"),
            "a Forwarded header the proxies do not write is not read"
        );
        let with_both = headers(&[
            ("forwarded", "for=198.51.100.99"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            cfg.client_ip(ip("127.0.0.1"), &with_both),
            ip("203.0.113.7")
        );
        let rfc_cfg = ProxyConfig::parse(&["127.0.0.1".into()], "forwarded", None).expect("config");
        assert_eq!(rfc_cfg.client_ip(ip("127.0.0.1"), &rfc), ip("2001:db8::1"));
        assert_eq!(
            cfg.client_ip(ip("::ffff:127.0.0.1"), &h),
            ip("203.0.113.7"),
            "IPv4-mapped peers match IPv4 networks"
        );
    }

    #[test]
    fn the_origin_is_compared_with_the_public_origin_or_the_forwarded_host() {
        let public = ProxyConfig::parse(&[], "", Some("https://crm.example.com/")).expect("config");
        let h = headers(&[("host", "127.0.0.1:3000")]);
        assert!(public.origin_allowed("https://crm.example.com", None, &h));
        assert!(!public.origin_allowed("http://127.0.0.1:3000", None, &h));
        let proxied = ProxyConfig::parse(&["127.0.0.1/32".into()], "", None).expect("config");
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-host", "crm.example.com"),
        ]);
        assert!(proxied.origin_allowed("https://crm.example.com", Some(ip("127.0.0.1")), &h));
        assert!(
            !proxied.origin_allowed("https://crm.example.com", Some(ip("192.0.2.1")), &h),
            "X-Forwarded-Host from an untrusted peer is ignored"
        );
        assert!(ProxyConfig::parse(&["not-a-net".into()], "", None).is_err());
        assert!(ProxyConfig::parse(&[], "", Some("crm.example.com")).is_err());
        assert!(ProxyConfig::parse(&[], "x-real-ip", None).is_err());
    }
}
