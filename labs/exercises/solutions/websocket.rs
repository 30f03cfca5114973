//! Reference solution of exercise 5 (websocket): the handshake, frames read with bounds and
//! unmasked, echoes written unmasked with the shortest length form.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use base64::Engine;
use sha1::{Digest, Sha1};

/// Appended to the client's key before hashing (RFC 6455, section 1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// Largest payload accepted: a client cannot make us allocate more.
const MAX_PAYLOAD: u64 = 1 << 20;

/// One frame: FIN is always set in this exercise (no fragmented messages).
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

fn main() {
    let port: u16 = match std::env::args().nth(1) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("usage: websocket PORT   ({text:?} is not a port number)");
            std::process::exit(2)
        }),
        None => 9001,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1)
    });
    println!("listening on ws://127.0.0.1:{port}/");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("client error: {e}");
            }
        });
    }
}

/// The handshake, then frames until a close.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let Some(key) = read_upgrade(&mut reader)? else {
        writer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let handshake = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    writer.write_all(handshake.as_bytes())?;
    while let Some(frame) = read_frame(&mut reader)? {
        match frame.opcode {
            TEXT | BINARY => write_frame(&mut writer, frame.opcode, &frame.payload)?,
            PING => write_frame(&mut writer, PONG, &frame.payload)?,
            CLOSE => {
                write_frame(&mut writer, CLOSE, &frame.payload)?;
                return Ok(()); // dropping the stream closes the TCP connection
            }
            _ => {} // pongs and unknown opcodes are ignored
        }
    }
    Ok(())
}

/// Reads the HTTP upgrade request up to its empty line; returns the Sec-WebSocket-Key.
fn read_upgrade(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(key);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("sec-websocket-key")
        {
            key = Some(value.trim().to_string());
        }
    }
}

/// Sec-WebSocket-Accept: base64 of the SHA-1 of the key followed by GUID.
fn accept_key(key: &str) -> String {
    let digest = Sha1::digest(format!("{key}{GUID}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Reads one client frame: 2 header bytes, the extended length (16 or 64 bits) if any, the
/// 4-byte mask, the payload, unmasked. `None` at end of stream.
fn read_frame(reader: &mut impl Read) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 2];
    match reader.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            reader.read_exact(&mut ext)?;
            u64::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            reader.read_exact(&mut ext)?;
            u64::from_be_bytes(ext)
        }
        n => u64::from(n),
    };
    if len > MAX_PAYLOAD {
        return Err(std::io::Error::other(format!(
            "a {len}-byte frame is over the limit"
        )));
    }
    // Client frames are always masked (RFC 6455, section 5.3); the mask follows the length.
    let mut mask = [0u8; 4];
    if head[1] & 0x80 != 0 {
        reader.read_exact(&mut mask)?;
    }
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload)?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(Frame {
        opcode: head[0] & 0x0f,
        payload,
    }))
}

/// Writes one unmasked frame with FIN set and the shortest length form.
fn write_frame(writer: &mut impl Write, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n <= 125 => frame.push(n as u8),
        n if n <= 0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    writer.write_all(&frame)
}
