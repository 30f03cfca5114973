//! Live capture from a Linux interface through our own `AF_PACKET` socket.
//!
//! Why not pnet's `datalink::channel`: it hides the packet type (so the duplicate outgoing copy of
//! every loopback frame cannot be dropped), reads into a 4096-byte buffer (silently truncating
//! 64 KiB GSO frames on `lo`), gives no kernel timestamp and no drop counters. We keep pnet for
//! listing interfaces ([`interfaces`]) and do the capture socket ourselves:
//!
//! - `lo` delivers every frame twice (once as it leaves, `PACKET_OUTGOING`, once as it arrives);
//!   like tcpdump we keep only the arriving copy, so each packet is shown once.
//! - reads go into a 256 KiB buffer with `MSG_TRUNC`, so nothing is cut, and if it ever were, the
//!   real length is still recorded as `orig_len`.
//! - each packet carries the kernel's receive timestamp (`SO_TIMESTAMPNS`).
//! - a receive timeout (`SO_RCVTIMEO`) lets the reader check its stop flag, so Ctrl-C is prompt.
//! - the kernel's own counters (`PACKET_STATISTICS`) report drops at the end.
//! - a classic BPF program (`bpf.rs`) makes the kernel drop the duplicate copies and, when ports
//!   were asked for, other programs' traffic, before they cost a copy or buffer space.

// `unsafe` is needed for the socket calls libc exposes only as raw FFI (socket, bind, recvmsg
// with control messages, getsockopt of PACKET_STATISTICS). Every unsafe block is a single call on
// buffers this module owns, sized by `size_of` of the exact struct the kernel fills.
#![allow(unsafe_code)]

mod bpf;

use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{InspectError, Result};
use crate::model::{LinkType, RawPacket, Timestamp};

/// Read buffer: bigger than any loopback frame (64 KiB MTU and GSO) with room for BIG TCP.
const READ_BUFFER: usize = 256 * 1024;
/// `ARPHRD_NONE`: tun devices and the like deliver bare IP packets.
const ARPHRD_NONE: u16 = 0xfffe;

/// How to capture.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Interface name; `lo` by default, `any` for all interfaces (cooked Linux headers).
    pub interface: String,
    /// When non-empty, keep only TCP and UDP packets with one of these ports (either side), so
    /// a lab sees its own traffic and not the rest of the machine's.
    pub ports: Vec<u16>,
    /// How long one read waits before checking the stop flag.
    pub read_timeout: Duration,
    /// Socket receive buffer asked of the kernel; bigger absorbs bursts without drops.
    pub socket_buffer: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: "lo".into(),
            ports: Vec::new(),
            read_timeout: Duration::from_millis(100),
            // 32 MiB holds about a third of a second of a 100,000 packets/s flood of small frames
            // (each queued frame costs its truesize, ~1 KiB), enough to ride out a busy moment.
            socket_buffer: 32 * 1024 * 1024,
        }
    }
}

impl LiveConfig {
    pub fn on(interface: &str) -> Self {
        LiveConfig {
            interface: interface.into(),
            ..Self::default()
        }
    }

    pub fn with_ports(mut self, ports: &[u16]) -> Self {
        self.ports = ports.to_vec();
        self
    }
}

/// Counters reported when a capture ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    /// Packets the kernel handed to our socket (both loopback copies count).
    pub kernel_received: u64,
    /// Packets the kernel dropped because our socket buffer was full.
    pub kernel_dropped: u64,
    /// Packets delivered to the caller.
    pub delivered: u64,
    /// Outgoing copies of loopback frames skipped (each was also seen arriving).
    pub loopback_duplicates: u64,
    /// Packets skipped by the port filter in user space (the kernel filter, when attached,
    /// drops most before they arrive).
    pub filtered_out: u64,
    /// Whether a kernel (BPF) filter drops loopback duplicates and unwanted ports; if attaching
    /// it failed, the same is done in user space and counted above.
    pub kernel_filter: bool,
}

/// How frames of an interface are read and labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// The frame as the device has it (Ethernet, or bare IP for ARPHRD_NONE).
    Raw(LinkType),
    /// `SOCK_DGRAM` plus a Linux cooked (SLL) header we build, for `any` and other link types.
    Cooked,
}

/// An open capture socket. Not `Sync`: one reader at a time; move it into a thread to read there.
pub struct LiveCapture {
    fd: OwnedFd,
    interface: String,
    framing: Framing,
    /// Interface indexes that are loopback: their outgoing copies are duplicates.
    loopbacks: Vec<i32>,
    ports: Vec<u16>,
    buf: Vec<u8>,
    stats: CaptureStats,
}

impl LiveCapture {
    /// Open a capture socket on the interface. Fails with [`InspectError::Permission`] without
    /// CAP_NET_RAW, [`InspectError::NoSuchInterface`] or [`InspectError::InterfaceDown`].
    pub fn open(cfg: &LiveConfig) -> Result<LiveCapture> {
        let any = cfg.interface == "any";
        let loopbacks = loopback_indexes();
        let (ifindex, framing, outgoing) = if any {
            (0, Framing::Cooked, bpf::Outgoing::DropOn(loopbacks.clone()))
        } else {
            let info = sys_interface(&cfg.interface)?;
            if !info.up {
                return Err(InspectError::InterfaceDown {
                    iface: cfg.interface.clone(),
                });
            }
            let outgoing = if info.loopback {
                bpf::Outgoing::DropAll
            } else {
                bpf::Outgoing::Keep
            };
            (info.index, info.framing, outgoing)
        };
        let fd = open_socket(&cfg.interface, framing)?;
        let mut cap = LiveCapture {
            fd,
            interface: cfg.interface.clone(),
            framing,
            loopbacks,
            ports: cfg.ports.clone(),
            buf: vec![0u8; READ_BUFFER],
            stats: CaptureStats::default(),
        };
        cap.configure(cfg)?;
        let start = match framing {
            Framing::Raw(LinkType::ETHERNET) => bpf::Start::Ethernet,
            _ => bpf::Start::Network,
        };
        if let Some(prog) = bpf::program(start, &outgoing, &cfg.ports) {
            // Before bind: from the first packet on, only wanted frames are queued.
            match cap.attach_filter(&prog) {
                Ok(()) => cap.stats.kernel_filter = true,
                Err(e) => {
                    tracing::warn!("kernel filter not attached, filtering in user space: {e}")
                }
            }
        }
        cap.bind(ifindex)?;
        Ok(cap)
    }

    /// The link type of the packets this capture delivers.
    pub fn link_type(&self) -> LinkType {
        match self.framing {
            Framing::Raw(lt) => lt,
            Framing::Cooked => LinkType::LINUX_SLL,
        }
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The next packet, or `Ok(None)` when the read timeout passed with nothing to deliver.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket>> {
        self.next_with_flags(0)
    }

    /// Like [`next_packet`](Self::next_packet) but never waits: `Ok(None)` when the socket queue
    /// is empty. Used to drain what arrived before a stop.
    pub fn try_next_packet(&mut self) -> Result<Option<RawPacket>> {
        self.next_with_flags(libc::MSG_DONTWAIT)
    }

    fn next_with_flags(&mut self, flags: i32) -> Result<Option<RawPacket>> {
        loop {
            let Some(frame) = self.recv(flags)? else {
                return Ok(None);
            };
            if frame.outgoing && self.loopbacks.contains(&frame.ifindex) {
                self.stats.loopback_duplicates += 1;
                continue;
            }
            let packet = self.to_packet(&frame);
            if !self.ports.is_empty() && !matches_ports(&packet, &self.ports) {
                self.stats.filtered_out += 1;
                continue;
            }
            self.stats.delivered += 1;
            return Ok(Some(packet));
        }
    }

    /// Counters so far, including the kernel's receive and drop counts.
    pub fn stats(&mut self) -> Result<CaptureStats> {
        let (received, dropped) = self.kernel_stats()?;
        // The kernel resets its counters on each read, so we add them up.
        self.stats.kernel_received += received;
        self.stats.kernel_dropped += dropped;
        Ok(self.stats)
    }

    fn to_packet(&self, f: &Frame) -> RawPacket {
        let data = &self.buf[..f.captured];
        let (bytes, orig_len) = match self.framing {
            Framing::Raw(_) => (data.to_vec(), f.wire_len),
            Framing::Cooked => {
                let mut b = sll_header(f);
                b.extend_from_slice(data);
                (b, f.wire_len + 16)
            }
        };
        RawPacket {
            ts: f.ts,
            link_type: self.link_type(),
            orig_len: orig_len as u32,
            bytes,
        }
    }

    fn err(&self, what: &'static str, source: std::io::Error) -> InspectError {
        InspectError::Capture {
            iface: self.interface.clone(),
            what,
            source,
        }
    }
}

/// What one read returned, besides the bytes left in the buffer.
struct Frame {
    captured: usize,
    wire_len: usize,
    ts: Timestamp,
    ifindex: i32,
    outgoing: bool,
    pkttype: u8,
    hatype: u16,
    protocol: u16,
    addr: [u8; 8],
    halen: u8,
}

/// The 16-byte LINKTYPE_LINUX_SLL header: packet type, ARPHRD type, address length, address (8),
/// protocol. libpcap builds the same for `-i any`.
fn sll_header(f: &Frame) -> Vec<u8> {
    let mut h = Vec::with_capacity(16 + f.captured);
    h.extend_from_slice(&u16::from(f.pkttype).to_be_bytes());
    h.extend_from_slice(&f.hatype.to_be_bytes());
    h.extend_from_slice(&u16::from(f.halen).to_be_bytes());
    h.extend_from_slice(&f.addr);
    h.extend_from_slice(&f.protocol.to_be_bytes());
    h
}

// ---- socket calls (the unsafe part) ----

fn open_socket(iface: &str, framing: Framing) -> Result<OwnedFd> {
    let kind = match framing {
        Framing::Raw(_) => libc::SOCK_RAW,
        Framing::Cooked => libc::SOCK_DGRAM,
    };
    // Protocol 0: receive nothing until bind() names the interface, so no other interface's
    // packets slip in between socket() and bind() (libpcap does the same).
    // SAFETY: plain syscall with constant arguments; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let source = std::io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => InspectError::Permission {
                iface: iface.to_string(),
                binary: std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "<binary>".into()),
                source,
            },
            _ => InspectError::Capture {
                iface: iface.to_string(),
                what: "cannot open a packet socket",
                source,
            },
        });
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl LiveCapture {
    fn configure(&mut self, cfg: &LiveConfig) -> Result<()> {
        let size = i32::try_from(cfg.socket_buffer).unwrap_or(i32::MAX);
        // FORCE works for root and ignores rmem_max; fall back to the capped request.
        if self
            .setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size)
            .is_err()
        {
            self.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, &size)
                .map_err(|e| self.err("cannot set the receive buffer", e))?;
        }
        self.setsockopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)
            .map_err(|e| self.err("cannot enable timestamps", e))?;
        let tv = libc::timeval {
            tv_sec: cfg.read_timeout.as_secs() as libc::time_t,
            tv_usec: cfg.read_timeout.subsec_micros() as libc::suseconds_t,
        };
        self.setsockopt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
            .map_err(|e| self.err("cannot set the read timeout", e))
    }

    fn setsockopt<T>(&self, level: i32, name: i32, value: &T) -> std::io::Result<()> {
        // SAFETY: value points to a live T and the length passed is exactly size_of::<T>().
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast(),
                size_of::<T>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn attach_filter(&self, prog: &[bpf::Insn]) -> std::io::Result<()> {
        let mut filters: Vec<libc::sock_filter> = prog
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: filters.len() as u16,
            filter: filters.as_mut_ptr(),
        };
        // The kernel copies the program during the call; `filters` outlives it.
        self.setsockopt(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
    }

    fn bind(&self, ifindex: i32) -> Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: passes a pointer to a live sockaddr_ll with its exact size.
        let rc = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENETDOWN) {
                return Err(InspectError::InterfaceDown {
                    iface: self.interface.clone(),
                });
            }
            return Err(self.err("cannot bind to the interface", e));
        }
        Ok(())
    }

    /// One recvmsg: the frame into `self.buf`, its address (packet type, interface) and the
    /// timestamp control message. `Ok(None)` on timeout or, with MSG_DONTWAIT, an empty queue.
    fn recv(&mut self, flags: i32) -> Result<Option<Frame>> {
        // SAFETY: plain data; zero is valid.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        // u64 array: cmsg buffers must be aligned for cmsghdr.
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // SAFETY: plain data; zero is valid.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>() as _;
        let n = loop {
            // SAFETY: every pointer in msg refers to a live local or to self.buf, with its size.
            // MSG_TRUNC makes the return value the frame's real length even if it did not fit.
            let n =
                unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags | libc::MSG_TRUNC) };
            if n >= 0 {
                break n as usize;
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(None),
                Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                    return Err(InspectError::InterfaceDown {
                        iface: self.interface.clone(),
                    });
                }
                _ => return Err(self.err("read failed", e)),
            }
        };
        let ts = control_timestamp(&msg).unwrap_or_else(now);
        let mut mac = [0u8; 8];
        mac.copy_from_slice(&addr.sll_addr);
        Ok(Some(Frame {
            captured: n.min(self.buf.len()),
            wire_len: n,
            ts,
            ifindex: addr.sll_ifindex,
            outgoing: addr.sll_pkttype == libc::PACKET_OUTGOING,
            pkttype: addr.sll_pkttype,
            hatype: addr.sll_hatype,
            protocol: u16::from_be(addr.sll_protocol),
            addr: mac,
            halen: addr.sll_halen,
        }))
    }

    fn kernel_stats(&self) -> Result<(u64, u64)> {
        // SAFETY: plain data; zero is valid.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: st and len are live locals; len holds st's exact size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(self.err(
                "cannot read kernel statistics",
                std::io::Error::last_os_error(),
            ));
        }
        Ok((u64::from(st.tp_packets), u64::from(st.tp_drops)))
    }
}

/// The SCM_TIMESTAMPNS control message of a received frame, if the kernel attached one.
fn control_timestamp(msg: &libc::msghdr) -> Option<Timestamp> {
    // SAFETY: msg was filled by recvmsg; the CMSG_* macros walk its control buffer within
    // msg_controllen, and we read a timespec only from a message of that type.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(Timestamp {
                    secs: ts.tv_sec,
                    nanos: ts.tv_nsec as u32,
                });
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        secs: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

// ---- interfaces, from sysfs (no privilege needed) ----

struct SysInterface {
    index: i32,
    up: bool,
    loopback: bool,
    framing: Framing,
}

fn sys_read(iface: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Index, flags and hardware type of an interface, asked of the kernel with ioctls (not read
/// from /sys, which shows the host's interfaces even inside another network namespace).
fn sys_interface(iface: &str) -> Result<SysInterface> {
    let missing = || InspectError::NoSuchInterface {
        iface: iface.to_string(),
    };
    let index = ioctl_ifreq(iface, libc::SIOCGIFINDEX)
        // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
        .map(|r| unsafe { r.ifr_ifru.ifru_ifindex })
        .map_err(|_| missing())?;
    // SAFETY: SIOCGIFFLAGS fills the flags member.
    let flags = ioctl_ifreq(iface, libc::SIOCGIFFLAGS).map(|r| unsafe { r.ifr_ifru.ifru_flags });
    let flags = i32::from(flags.map_err(|_| missing())?);
    // SAFETY: SIOCGIFHWADDR fills the hwaddr member; its family is the ARPHRD_ type.
    let hatype = ioctl_ifreq(iface, libc::SIOCGIFHWADDR)
        .map(|r| unsafe { r.ifr_ifru.ifru_hwaddr.sa_family })
        .unwrap_or(0);
    let framing = match hatype {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Framing::Raw(LinkType::ETHERNET),
        ARPHRD_NONE => Framing::Raw(LinkType::RAW),
        _ => Framing::Cooked,
    };
    Ok(SysInterface {
        index,
        up: flags & libc::IFF_UP != 0,
        loopback: flags & libc::IFF_LOOPBACK != 0,
        framing,
    })
}

/// One interface ioctl on a throwaway UDP socket (no privilege needed).
fn ioctl_ifreq(iface: &str, request: libc::c_ulong) -> std::io::Result<libc::ifreq> {
    let name = iface.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: ifreq is plain data; all-zero is valid (and NUL-terminates the name).
    let mut req: libc::ifreq = unsafe { zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    // SAFETY: plain syscall; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: req is a live ifreq, the struct these requests read and fill.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, &mut req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(req)
}

fn loopback_indexes() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let flags = sys_read(&name, "flags")
                .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())?;
            if flags & libc::IFF_LOOPBACK as u32 == 0 {
                return None;
            }
            sys_read(&name, "ifindex")?.parse().ok()
        })
        .collect()
}

/// One interface as `netlab inspect interfaces` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub up: bool,
    pub loopback: bool,
    pub mac: Option<String>,
    pub addresses: Vec<String>,
}

/// The machine's interfaces (through pnet's datalink, which reads them without privilege).
pub fn interfaces() -> Vec<InterfaceInfo> {
    pnet_datalink::interfaces()
        .into_iter()
        .map(|i| InterfaceInfo {
            up: i.is_up(),
            loopback: i.is_loopback(),
            mac: i.mac.map(|m| m.to_string()),
            addresses: i.ips.iter().map(|n| n.to_string()).collect(),
            index: i.index,
            name: i.name,
        })
        .collect()
}

// ---- the port filter ----

/// Does this packet carry TCP or UDP with one of `ports` as source or destination? A few fixed
/// offsets, not a dissector: it must be cheap because it runs on every captured frame.
fn matches_ports(p: &RawPacket, ports: &[u16]) -> bool {
    transport_ports(p).is_some_and(|(a, b)| ports.contains(&a) || ports.contains(&b))
}

fn transport_ports(p: &RawPacket) -> Option<(u16, u16)> {
    let b = &p.bytes;
    let (mut ethertype, mut at) = match p.link_type {
        LinkType::ETHERNET => (be16(b, 12)?, 14),
        LinkType::LINUX_SLL => (be16(b, 14)?, 16),
        LinkType::RAW => (if b.first()? >> 4 == 6 { 0x86dd } else { 0x0800 }, 0),
        _ => return None,
    };
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = be16(b, at + 2)?;
        at += 4;
    }
    let (proto, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(b.get(at)? & 0x0f) * 4;
            (*b.get(at + 9)?, at + ihl)
        }
        0x86dd => (*b.get(at + 6)?, at + 40),
        _ => return None,
    };
    if proto != 6 && proto != 17 {
        return None;
    }
    Some((be16(b, l4)?, be16(b, l4 + 2)?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

// ---- background capture for labs and tests ----

/// A capture running on its own thread. Open it before generating traffic; call
/// [`stop`](Self::stop) after the traffic you care about has been received.
pub struct BackgroundCapture {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Captured>>,
    link_type: LinkType,
}

/// What a background capture collected.
#[derive(Debug, Clone)]
pub struct Captured {
    pub packets: Vec<RawPacket>,
    pub stats: CaptureStats,
}

impl BackgroundCapture {
    /// Open the socket now (so every packet sent after this returns is seen) and read on a
    /// thread until stopped.
    pub fn start(cfg: &LiveConfig) -> Result<BackgroundCapture> {
        let mut cap = LiveCapture::open(cfg)?;
        let link_type = cap.link_type();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("capture-{}", cfg.interface))
            .spawn(move || {
                let mut packets = Vec::new();
                while !flag.load(Ordering::Acquire) {
                    if let Some(p) = cap.next_packet()? {
                        packets.push(p);
                    }
                }
                // Whatever was already queued when stop was asked for belongs to the capture.
                while let Some(p) = cap.try_next_packet()? {
                    packets.push(p);
                }
                let stats = cap.stats()?;
                Ok(Captured { packets, stats })
            })
            .map_err(|e| InspectError::Capture {
                iface: cfg.interface.clone(),
                what: "cannot start the capture thread",
                source: e,
            })?;
        Ok(BackgroundCapture {
            stop,
            thread,
            link_type,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// Stop reading (within one read timeout), and return the packets and counters.
    pub fn stop(self) -> Result<Captured> {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4(proto: u8, sport: u16, dport: u16) -> RawPacket {
        let mut b = vec![0u8; 14];
        b[12] = 0x08;
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, proto, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        b.extend_from_slice(&ip);
        RawPacket {
            ts: Timestamp::default(),
            link_type: LinkType::ETHERNET,
            orig_len: b.len() as u32,
            bytes: b,
        }
    }

    #[test]
    fn port_filter_reads_tcp_and_udp_ports_either_side() {
        assert!(matches_ports(&eth_ipv4(17, 5000, 7007), &[7007]));
        assert!(matches_ports(&eth_ipv4(6, 7007, 5000), &[7007]));
        assert!(!matches_ports(&eth_ipv4(6, 1, 2), &[7007]));
        assert!(
            !matches_ports(&eth_ipv4(1, 7007, 7007), &[7007]),
            "ICMP has no ports"
        );
        let mut cut = eth_ipv4(6, 7007, 1);
        cut.bytes.truncate(30);
        assert!(
            !matches_ports(&cut, &[7007]),
            "a truncated frame is not a match, nor a panic"
        );
    }

    #[test]
    fn missing_interface_is_a_typed_error() {
        let e = LiveCapture::open(&LiveConfig::on("netlab-no-such0"))
            .err()
            .unwrap();
        assert!(matches!(e, InspectError::NoSuchInterface { .. }), "{e:?}");
        let e = LiveCapture::open(&LiveConfig::on("../../etc"))
            .err()
            .unwrap();
        assert!(matches!(e, InspectError::NoSuchInterface { .. }), "{e:?}");
    }

    #[test]
    fn interfaces_include_loopback() {
        let all = interfaces();
        assert!(all.iter().any(|i| i.loopback && i.name == "lo"), "{all:?}");
    }
}
