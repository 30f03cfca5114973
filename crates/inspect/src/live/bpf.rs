//! Classic BPF programs attached to the capture socket, so the kernel itself drops what we would
//! throw away: the outgoing copy of every loopback frame, and (for a lab that asked for its own
//! ports) every other program's traffic. Under a flood this is the difference between keeping up
//! and dropping: rejected frames never reach our socket buffer.
//!
//! A tiny assembler with symbolic jump targets keeps the programs readable; `resolve` turns the
//! targets into the relative offsets the kernel wants.

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Next,
    Accept,
    Drop,
    Label(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ins {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    Ja(Target),
    Label(u8),
}

/// One instruction as the kernel reads it (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_H_IND: u16 = 0x48;
/// X = 4 * (P[k] & 0x0f): the IPv4 header length.
const LDX_B_MSH: u16 = 0xb1;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const JA: u16 = 0x05;
const RET_K: u16 = 0x06;

/// Ancillary loads: the kernel's packet metadata, at negative offsets.
const AD_OFF: u32 = 0xffff_f000;
const AD_PROTOCOL: u32 = AD_OFF;
const AD_PKTTYPE: u32 = AD_OFF + 4;
const AD_IFINDEX: u32 = AD_OFF + 8;
const PACKET_OUTGOING: u32 = 4;

/// Which outgoing frames to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Keep,
    /// The socket is bound to a loopback interface: every outgoing frame is a duplicate.
    DropAll,
    /// `any`: outgoing frames of these (loopback) interfaces are duplicates.
    DropOn(Vec<i32>),
}

/// What the socket's frames start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// An Ethernet header: the network header is at 14.
    Ethernet,
    /// The network header itself (cooked sockets, raw-IP devices).
    Network,
}

/// The program for a socket, or `None` when there is nothing for the kernel to drop.
pub fn program(start: Start, outgoing: &Outgoing, ports: &[u16]) -> Option<Vec<Insn>> {
    if *outgoing == Outgoing::Keep && ports.is_empty() {
        return None;
    }
    let mut p = Vec::new();
    let after_outgoing = Target::Label(0);
    match outgoing {
        Outgoing::Keep => {}
        Outgoing::DropAll => {
            p.push(ld(LD_W_ABS, AD_PKTTYPE));
            p.push(jeq(PACKET_OUTGOING, Target::Drop, Target::Next));
        }
        Outgoing::DropOn(indexes) => {
            p.push(ld(LD_W_ABS, AD_PKTTYPE));
            p.push(jeq(PACKET_OUTGOING, Target::Next, after_outgoing));
            p.push(ld(LD_W_ABS, AD_IFINDEX));
            for &i in indexes {
                p.push(jeq(i as u32, Target::Drop, Target::Next));
            }
        }
    }
    p.push(Ins::Label(0));
    if !ports.is_empty() {
        port_filter(&mut p, start, ports);
    }
    Some(resolve(&p))
}

/// Accept IPv4 or IPv6 TCP/UDP frames with one of `ports` on either side; drop the rest.
fn port_filter(p: &mut Vec<Ins>, start: Start, ports: &[u16]) {
    let (v4, v4_ports, v6, v6_ports) = (
        Target::Label(1),
        Target::Label(2),
        Target::Label(3),
        Target::Label(4),
    );
    let l3 = match start {
        Start::Ethernet => {
            p.push(ld(LD_H_ABS, 12));
            14
        }
        Start::Network => {
            p.push(ld(LD_W_ABS, AD_PROTOCOL));
            0
        }
    };
    p.push(jeq(0x0800, v4, Target::Next));
    p.push(jeq(0x86dd, v6, Target::Drop));

    p.push(Ins::Label(1));
    p.push(ld(LD_B_ABS, l3 + 9));
    p.push(jeq(6, v4_ports, Target::Next));
    p.push(jeq(17, v4_ports, Target::Drop));
    p.push(Ins::Label(2));
    // A fragment other than the first has no ports: drop it.
    p.push(ld(LD_H_ABS, l3 + 6));
    p.push(Ins::Jump {
        code: JSET_K,
        k: 0x1fff,
        t: Target::Drop,
        f: Target::Next,
    });
    p.push(ld(LDX_B_MSH, l3));
    match_ports(p, LD_H_IND, l3, ports);

    p.push(Ins::Label(3));
    p.push(ld(LD_B_ABS, l3 + 6));
    p.push(jeq(6, v6_ports, Target::Next));
    p.push(jeq(17, v6_ports, Target::Drop));
    p.push(Ins::Label(4));
    match_ports(p, LD_H_ABS, l3 + 40, ports);
}

/// Load the source port, then the destination port, at `at` (indexed by X for IPv4), and
/// accept on any match; drop otherwise.
fn match_ports(p: &mut Vec<Ins>, load: u16, at: u32, ports: &[u16]) {
    for off in [0, 2] {
        p.push(ld(load, at + off));
        for &port in ports {
            p.push(jeq(u32::from(port), Target::Accept, Target::Next));
        }
    }
    p.push(Ins::Ja(Target::Drop));
}

fn ld(code: u16, k: u32) -> Ins {
    Ins::Stmt { code, k }
}

fn jeq(k: u32, t: Target, f: Target) -> Ins {
    Ins::Jump {
        code: JEQ_K,
        k,
        t,
        f,
    }
}

/// Lay out the instructions, append the two returns, and turn targets into relative offsets.
fn resolve(prog: &[Ins]) -> Vec<Insn> {
    let mut index = Vec::new(); // position of each real instruction
    let mut labels = [usize::MAX; 8];
    for ins in prog {
        match ins {
            Ins::Label(l) => labels[usize::from(*l)] = index.len(),
            other => index.push(*other),
        }
    }
    let accept = index.len();
    let drop = accept + 1;
    let at = |i: usize, t: Target| -> usize {
        match t {
            Target::Next => i + 1,
            Target::Accept => accept,
            Target::Drop => drop,
            Target::Label(l) => labels[usize::from(l)],
        }
    };
    let rel = |i: usize, t: Target| -> u32 { (at(i, t) - (i + 1)) as u32 };
    let mut out: Vec<Insn> = index
        .iter()
        .enumerate()
        .map(|(i, ins)| match *ins {
            Ins::Stmt { code, k } => Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            },
            Ins::Jump { code, k, t, f } => Insn {
                code,
                jt: rel(i, t) as u8,
                jf: rel(i, f) as u8,
                k,
            },
            Ins::Ja(t) => Insn {
                code: JA,
                jt: 0,
                jf: 0,
                k: rel(i, t),
            },
            Ins::Label(_) => unreachable!("labels were removed above"),
        })
        .collect();
    // Accept keeps the whole frame (the kernel caps it at the frame's length).
    out.push(Insn {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: u32::MAX,
    });
    out.push(Insn {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: 0,
    });
    out
}

/// Run a program on a frame the way the kernel would, for the subset of instructions we emit.
/// `pkttype`, `ifindex` and `protocol` stand in for the ancillary data.
#[cfg(test)]
pub fn run(prog: &[Insn], frame: &[u8], pkttype: u32, ifindex: u32, protocol: u32) -> bool {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let load = |at: u32, size: usize| -> Option<u32> {
        match at {
            AD_PKTTYPE => Some(pkttype),
            AD_IFINDEX => Some(ifindex),
            AD_PROTOCOL => Some(protocol),
            _ => {
                let b = frame.get(at as usize..at as usize + size)?;
                Some(b.iter().fold(0u32, |acc, &v| acc << 8 | u32::from(v)))
            }
        }
    };
    loop {
        let i = prog[pc];
        pc += 1;
        match i.code {
            LD_W_ABS => a = load(i.k, 4).unwrap_or(0),
            LD_H_ABS => match load(i.k, 2) {
                Some(v) => a = v,
                None => return false,
            },
            LD_B_ABS => match load(i.k, 1) {
                Some(v) => a = v,
                None => return false,
            },
            LD_H_IND => match load(i.k + x, 2) {
                Some(v) => a = v,
                None => return false,
            },
            LDX_B_MSH => match load(i.k, 1) {
                Some(v) => x = 4 * (v & 0xf),
                None => return false,
            },
            JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
            JSET_K => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }),
            JA => pc += i.k as usize,
            RET_K => return i.k != 0,
            other => panic!("opcode {other:#x} not emitted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(proto: u8, sport: u16, dport: u16, options: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let ihl = 5 + options / 4;
        f.extend_from_slice(&[0x40 | ihl as u8, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0]);
        f.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        f.extend(std::iter::repeat_n(1u8, options));
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f
    }

    fn ipv6_frame(next: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, next, 64]);
        f.extend_from_slice(&[0; 32]);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0; 4]);
        f
    }

    #[test]
    fn nothing_to_filter_means_no_program() {
        assert_eq!(program(Start::Ethernet, &Outgoing::Keep, &[]), None);
    }

    #[test]
    fn loopback_outgoing_copies_are_dropped() {
        let p = program(Start::Ethernet, &Outgoing::DropAll, &[]).unwrap();
        let f = ipv4_frame(17, 1, 2, 0);
        assert!(run(&p, &f, 0, 1, 0x800), "incoming (PACKET_HOST) kept");
        assert!(!run(&p, &f, PACKET_OUTGOING, 1, 0x800), "outgoing dropped");
    }

    #[test]
    fn on_any_only_loopback_outgoing_is_dropped() {
        let p = program(Start::Network, &Outgoing::DropOn(vec![1]), &[]).unwrap();
        let f = &ipv4_frame(17, 1, 2, 0)[14..];
        assert!(!run(&p, f, PACKET_OUTGOING, 1, 0x800), "lo outgoing");
        assert!(
            run(&p, f, PACKET_OUTGOING, 2, 0x800),
            "eth0 outgoing is a real send"
        );
        assert!(run(&p, f, 0, 1, 0x800), "lo incoming");
    }

    #[test]
    fn port_filter_on_ethernet_ipv4_and_ipv6() {
        let p = program(Start::Ethernet, &Outgoing::DropAll, &[7007, 53]).unwrap();
        for (frame, want) in [
            (ipv4_frame(17, 40000, 7007, 0), true),
            (ipv4_frame(6, 53, 40000, 0), true),
            (ipv4_frame(6, 53, 40000, 8), true),
            (ipv4_frame(6, 40000, 40001, 8), false),
            (ipv4_frame(1, 7007, 7007, 0), false),
            (ipv6_frame(17, 40000, 53), true),
            (ipv6_frame(6, 7007, 1), true),
            (ipv6_frame(6, 1, 2), false),
            (ipv6_frame(58, 7007, 7007), false),
        ] {
            assert_eq!(run(&p, &frame, 0, 1, 0), want, "{frame:02x?}");
        }
        let mut arp = ipv4_frame(17, 7007, 7007, 0);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!run(&p, &arp, 0, 1, 0), "ARP has no ports");
        let mut frag = ipv4_frame(17, 7007, 7007, 0);
        frag[20] = 0x00;
        frag[21] = 0x10; // offset 16 * 8 bytes: not the first fragment
        assert!(!run(&p, &frag, 0, 1, 0), "later fragments have no ports");
    }

    #[test]
    fn port_filter_on_network_start_uses_the_protocol() {
        let p = program(Start::Network, &Outgoing::Keep, &[7007]).unwrap();
        let f = ipv4_frame(17, 1, 7007, 0);
        assert!(run(&p, &f[14..], 0, 3, 0x0800));
        assert!(!run(&p, &f[14..], 0, 3, 0x0806));
    }
}
