//! A crafted packet cannot make one layer record fields without bound: an HTTP request of ten
//! thousand header lines keeps [`MAX_FIELDS`] fields and says how many it left out. Issue 18,
//! item 14 (the attack there was one 16 MiB packet of 3.3 million header lines, 926 MB with
//! `--json --detail`).

use netlab_inspect::Protocol;
use netlab_inspect::craft::{Ipv4, Tcp, num};
use netlab_inspect::dissect::{MAX_FIELDS, dissect};
use netlab_inspect::model::{LinkType, TcpSummary};

#[test]
fn an_http_request_of_ten_thousand_headers_keeps_the_bounded_number_of_fields() {
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..10_000 {
        request.extend_from_slice(b"a: b\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let lo = std::net::IpAddr::from([127, 0, 0, 1]);
    let segment = Tcp {
        src_port: 40000,
        dst_port: 80,
        flags: TcpSummary::ACK | TcpSummary::PSH,
        window: 512,
        ..Tcp::default()
    }
    .build(lo, lo, &request);
    let packet = Ipv4::new([127, 0, 0, 1], [127, 0, 0, 1], num::IP_TCP).build(&segment);
    assert!(packet.len() <= 65_535);
    let d = dissect(LinkType::IPV4, &packet);
    let http = d.layer(Protocol::Http).expect("an HTTP layer");
    assert_eq!(http.fields.len(), MAX_FIELDS);
    assert!(
        http.notes
            .iter()
            .any(|n| n.contains("more fields are not recorded")),
        "{:?}",
        http.notes
    );
    assert_eq!(
        http.byte_range.end,
        packet.len(),
        "the bytes are still covered"
    );
    // A layer under the bound is untouched.
    assert!(d.layer(Protocol::Tcp).expect("TCP").fields.len() < 100);
}
