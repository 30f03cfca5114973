//! Reading addresses the way students type them.
//!
//! Accepted: `127.0.0.1:7007`, `[::1]:7007`, `localhost:7007`, a bare IP (`127.0.0.1`, the default
//! port is added) and a bare port (`7007`, on 127.0.0.1). No DNS lookup is made: netlab talks to
//! this machine, and a name that needs DNS is almost always a typo here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::EchoError;

/// The port every netlab echo server and client uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 7007;

/// Parses a target or bind address; see the module docs for the accepted forms.
pub fn parse_addr(input: &str, default_port: u16) -> Result<SocketAddr, EchoError> {
    let text = input.trim();
    let invalid = |reason: &str| EchoError::InvalidAddress {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        let port = text
            .parse::<u16>()
            .map_err(|_| invalid("a port is a number from 0 to 65535"))?;
        return Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|_| invalid("the part after ':' must be a port from 0 to 65535"))?;
            (host, port)
        }
        None => (text, default_port),
    };
    match host {
        "localhost" => Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)),
        "ip6-localhost" => Ok(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)),
        _ => Err(invalid(
            "not an IP address (host names other than localhost are not looked up)",
        )),
    }
}

/// True for addresses that never leave the machine (127.0.0.0/8 and ::1).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        let v4 = |p| SocketAddr::new(Ipv4Addr::LOCALHOST.into(), p);
        assert_eq!(parse_addr("127.0.0.1:9", 7).unwrap(), v4(9));
        assert_eq!(parse_addr("127.0.0.1", 7).unwrap(), v4(7));
        assert_eq!(parse_addr("localhost:9", 7).unwrap(), v4(9));
        assert_eq!(parse_addr("localhost", 7).unwrap(), v4(7));
        assert_eq!(parse_addr("9", 7).unwrap(), v4(9));
        let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 9);
        assert_eq!(parse_addr("[::1]:9", 7).unwrap(), v6);
        assert_eq!(parse_addr("::1", 9).unwrap(), v6);
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        for bad in [
            "",
            "127.0.0.1:99999",
            "example.org:80",
            "1.2.3:4",
            "70000",
            "host:x",
        ] {
            let err = parse_addr(bad, 7).unwrap_err();
            assert!(
                matches!(err, EchoError::InvalidAddress { .. }),
                "{bad}: {err}"
            );
            assert!(err.is_usage());
        }
    }
}
