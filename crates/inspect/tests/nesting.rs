//! Headers that nest (VLAN tags inside VLAN tags, IPv6 extension headers, an ICMP error quoting
//! a packet that is itself an ICMP error) are decoded to a bounded depth: a crafted frame of a
//! few thousand of them must not exhaust the stack, and the dissection says where it stopped.
//! Issue 18, item 13.

use netlab_inspect::Protocol;
use netlab_inspect::craft::{self, Ipv4, num};
use netlab_inspect::dissect::dissect;
use netlab_inspect::model::{Dissection, LinkType};

/// An Ethernet frame carrying `tags` stacked 802.1Q tags and then an IPv4 packet.
fn stacked_vlan_payload(tags: usize) -> Vec<u8> {
    let ip = Ipv4::new([192, 0, 2, 1], [192, 0, 2, 2], 253).build(b"");
    let mut inner = craft::vlan_tag(0, 1, num::ETH_IPV4, &ip);
    for i in 1..tags {
        inner = craft::vlan_tag(0, (i % 4000) as u16 + 1, num::ETH_VLAN, &inner);
    }
    inner
}

fn vlan_layers(d: &Dissection) -> usize {
    d.layers
        .iter()
        .filter(|l| l.protocol == Protocol::Vlan)
        .count()
}

/// Run `f` on a thread with a small stack (as a test thread or a busy program might have), so
/// that unbounded recursion fails here rather than only on a huge frame.
fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn_scoped(s, f)
            .expect("a thread")
            .join()
            .expect("dissection must not overflow the stack")
    })
}

#[test]
fn sixteen_thousand_stacked_vlan_tags_stop_at_the_bound_with_a_note() {
    // 16,000 tags: the largest frame (64 KiB) holds as many.
    let frame = craft::ethernet(
        [0xff; 6],
        [2, 0, 0, 0, 0, 1],
        num::ETH_VLAN,
        &stacked_vlan_payload(16_000),
    );
    let d = on_small_stack(|| dissect(LinkType::ETHERNET, &frame));
    let tags = vlan_layers(&d);
    assert!((1..=8).contains(&tags), "{tags} VLAN layers decoded");
    let last = d.layers.last().expect("layers");
    assert_eq!(last.protocol, Protocol::Vlan);
    assert_eq!(
        last.byte_range.end,
        frame.len(),
        "the undecoded rest belongs to the last tag"
    );
    assert!(
        last.notes.iter().any(|n| n.contains("stacked VLAN tags")),
        "the last tag says why decoding stopped: {:?}",
        last.notes
    );
}

#[test]
fn stacked_vlan_tags_behind_linux_cooked_capture_stop_at_the_bound() {
    // Linux cooked (SLL) header: packet type, ARPHRD_ETHER, address length 6, the address and
    // two bytes of padding, then the protocol: 802.1Q.
    let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    frame.extend_from_slice(&num::ETH_VLAN.to_be_bytes());
    frame.extend_from_slice(&stacked_vlan_payload(16_000));
    let d = on_small_stack(|| dissect(LinkType::LINUX_SLL, &frame));
    assert_eq!(d.layers[0].protocol, Protocol::LinuxSll);
    let tags = vlan_layers(&d);
    assert!((1..=8).contains(&tags), "{tags} VLAN layers decoded");
    assert_eq!(d.layers.last().map(|l| l.byte_range.end), Some(frame.len()));
}

#[test]
fn a_few_stacked_tags_are_all_decoded() {
    // Q-in-Q and a little more: real networks stack two or three.
    let frame = craft::ethernet(
        [0xff; 6],
        [2, 0, 0, 0, 0, 1],
        num::ETH_VLAN,
        &stacked_vlan_payload(3),
    );
    let d = dissect(LinkType::ETHERNET, &frame);
    assert_eq!(vlan_layers(&d), 3);
    assert!(d.layer(Protocol::Ipv4).is_some());
}

#[test]
fn thousands_of_ipv6_extension_headers_stop_at_the_bound() {
    let mut rest = craft::udp(
        "::1".parse().unwrap(),
        "::1".parse().unwrap(),
        40000,
        9,
        b"x",
    );
    let mut next = num::IP_UDP;
    for _ in 0..5_000 {
        rest = craft::ipv6_options_header(next, &rest);
        next = 60; // destination options
    }
    let lo = std::net::Ipv6Addr::LOCALHOST.octets();
    let packet = craft::ipv6(lo, lo, next, 64, &rest[..rest.len().min(65_000)]);
    let d = on_small_stack(|| dissect(LinkType::IPV6, &packet));
    assert_eq!(d.layers[0].protocol, Protocol::Ipv6);
    assert!(d.layers.len() <= 3, "{} layers", d.layers.len());
}

#[test]
fn an_icmp_error_quoting_icmp_errors_decodes_one_level() {
    let lo = [127, 0, 0, 1];
    // The innermost: an echo request. Around it, 2,000 "time exceeded" errors, each quoting the
    // one inside it.
    let mut packet =
        Ipv4::new(lo, lo, num::IP_ICMP).build(&craft::icmpv4(8, 0, [0, 1, 0, 1], b"x"));
    for _ in 0..2_000 {
        let error = craft::icmpv4(11, 0, [0; 4], &packet);
        packet = Ipv4::new(lo, lo, num::IP_ICMP).build(&error);
        if packet.len() > 60_000 {
            break;
        }
    }
    let d = on_small_stack(|| dissect(LinkType::IPV4, &packet));
    let icmp = d
        .layers
        .iter()
        .filter(|l| l.protocol == Protocol::Icmp)
        .count();
    assert_eq!(icmp, 2, "the error and the one it quotes: {:?}", d.chain());
}
