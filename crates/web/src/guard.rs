//! Checks every HTTP transport shares: the `Origin` of cross-site requests, the content type
//! and size of a body, and a deadline for reading it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};

use crate::error::ApiError;

/// Is a request with these headers allowed to open an event-protocol connection (or post)?
///
/// A browser sends `Origin` with every WebSocket handshake and every cross-site POST, and a page
/// on another site must not be able to use a student's server with the student's cookies
/// (cross-site WebSocket hijacking). Allowed: no `Origin` at all (curl, scripts: not a browser
/// acting for someone), the page's own origin (`Origin` names the `Host` it talks to), any
/// localhost origin, and every origin given with `--allow-origin` (`*` allows all).
pub fn origin_allowed(headers: &HeaderMap, extra: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if extra
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let same = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority));
    same || is_localhost(authority)
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_localhost(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The refusal for [`origin_allowed`] = false.
pub fn check_origin(headers: &HeaderMap, extra: &[String]) -> Result<(), ApiError> {
    if origin_allowed(headers, extra) {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("?");
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!(
            "a page from {origin} may not use this server (cross-site requests are refused); if you trust it, start the server with --allow-origin {origin}"
        ),
    ))
}

/// A WebSocket key is the base64 text of 16 random bytes: 22 characters and `==`. axum checks
/// that the header is there; this checks that it is well formed (RFC 6455, 4.2.1).
pub fn websocket_key_ok(headers: &HeaderMap) -> bool {
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| k.to_str().ok())
    else {
        return false;
    };
    let key = key.trim().as_bytes();
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// The body's media type must be one of `allowed` (parameters such as charset are ignored).
pub fn check_content_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), ApiError> {
    let got = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match got {
        Some(t) if allowed.contains(&t.as_str()) => Ok(()),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the body's Content-Type is {}; send it as {}",
                other.map_or("missing".to_string(), |t| format!("{t:?}")),
                allowed.join(" or ")
            ),
        )),
    }
}

/// Read a whole body, refusing one longer than `limit` (413) or one that takes longer than
/// `timeout` to arrive (408): a client that sends a few bytes a minute cannot hold a slot.
pub async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            if inner.is::<http_body_util::LengthLimitError>() {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is longer than {limit} bytes; send less at a time"),
                ))
            } else {
                Err(ApiError::bad_request(
                    "bad_body",
                    format!("the body could not be read ({inner}); send it again"),
                ))
            }
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the body did not arrive within {timeout:?}; send it in one go"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(origin: &str, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn same_origin_and_localhost_pass_other_sites_do_not() {
        assert!(origin_allowed(
            &with("http://10.0.0.5:7080", "10.0.0.5:7080"),
            &[]
        ));
        assert!(origin_allowed(
            &with("http://localhost:3000", "127.0.0.1:7080"),
            &[]
        ));
        assert!(origin_allowed(
            &with("http://127.0.0.1:5000", "127.0.0.1:7080"),
            &[]
        ));
        assert!(origin_allowed(
            &with("http://[::1]:5000", "127.0.0.1:7080"),
            &[]
        ));
        assert!(!origin_allowed(
            &with("http://evil.test", "127.0.0.1:7080"),
            &[]
        ));
        assert!(!origin_allowed(
            &with("http://localhost.evil.test", "127.0.0.1:7080"),
            &[]
        ));
        assert!(!origin_allowed(&with("null", "127.0.0.1:7080"), &[]));
        let extra = ["http://class.test".to_string()];
        assert!(origin_allowed(
            &with("http://class.test", "127.0.0.1:7080"),
            &extra
        ));
        assert!(origin_allowed(&HeaderMap::new(), &[]));
    }

    #[test]
    fn websocket_keys_must_be_sixteen_bytes_of_base64() {
        let key = |k: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_str(k).unwrap());
            websocket_key_ok(&h)
        };
        assert!(key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!key("not a key at all, no...=="));
        assert!(!websocket_key_ok(&HeaderMap::new()));
    }
}
