//! Exact offsets of fields in hand-built frames: the facts a student's lab answer depends on
//! ("how many bytes from the start of the frame is the G of GET?").

use std::net::{IpAddr, Ipv4Addr};

use netlab_inspect::Protocol;
use netlab_inspect::craft::{self, Ipv4, Tcp, num};
use netlab_inspect::dissect::dissect;
use netlab_inspect::model::{LinkType, Reason, Value};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn http_get_frame() -> Vec<u8> {
    let tcp = Tcp {
        src_port: 43512,
        dst_port: 8080,
        seq: 1000,
        ack: 2000,
        flags: 0x018,
        window: 512,
        options: vec![],
    };
    let seg = tcp.build(
        LO,
        LO,
        b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let ip = Ipv4::new([127, 0, 0, 1], [127, 0, 0, 1], num::IP_TCP).build(&seg);
    craft::ethernet([0; 6], [0; 6], num::ETH_IPV4, &ip)
}

#[test]
fn http_get_fields_sit_at_their_frame_offsets() {
    let frame = http_get_frame();
    let d = dissect(LinkType::ETHERNET, &frame);
    assert_eq!(d.malformed, None);
    assert_eq!(d.chain(), "L2 Ethernet > L3 IPv4 > L4 TCP > L7 HTTP");
    let method = d.field("http.request.method").unwrap();
    // 14 bytes of Ethernet, 20 of IPv4, 20 of TCP: the G of GET is byte 54.
    assert_eq!((method.offset, method.len), (54, 3));
    assert_eq!(frame[54], b'G');
    assert_eq!(d.field("ip.ttl").unwrap().offset, 22);
    assert_eq!(
        d.field("ip.src").unwrap().value,
        Value::Ipv4(Ipv4Addr::LOCALHOST)
    );
    assert_eq!(d.field("tcp.dstport").unwrap().offset, 36);
    assert_eq!(d.field("tcp.dstport").unwrap().value, Value::U64(8080));
    assert_eq!(d.field("tcp.len").unwrap().value, Value::U64(45));
    let host = d.field("http.host").unwrap();
    assert_eq!(&frame[host.offset..host.offset + host.len], b"localhost");
    let http = d.layer(Protocol::Http).unwrap();
    assert_eq!(http.byte_range, 54..frame.len());
    assert_eq!(http.reason, Some(Reason::Content));
    assert_eq!(d.layer(Protocol::Tcp).unwrap().byte_range, 34..54);
    assert!(
        d.layer(Protocol::Ethernet)
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("loopback"))
    );
    let ep = d.endpoints.unwrap();
    assert_eq!(
        (ep.src_port, ep.dst_port, ep.ip_proto),
        (Some(43512), Some(8080), 6)
    );
}

#[test]
fn every_truncation_of_a_valid_frame_keeps_the_layers_before_the_cut() {
    let frame = http_get_frame();
    for cut in 0..frame.len() {
        let d = dissect(LinkType::ETHERNET, &frame[..cut]);
        if cut < 54 {
            assert!(d.malformed.is_some(), "cut at {cut} must be malformed");
            assert_eq!(d.layers.last().unwrap().protocol, Protocol::Malformed);
        }
        if cut >= 14 {
            assert_eq!(d.layers[0].protocol, Protocol::Ethernet, "cut at {cut}");
        }
    }
}
