//! `fanout_floor`: the least any server can do in the fan-out benchmark on this machine,
//! measured by the same generator, so that Tandem's figures can be set against the floor
//! and not only against socket.io. It speaks just enough of socket.io's protocol (engine.io
//! v4 over a WebSocket, as `loadgen --proto sio` speaks it) to join every connection to one
//! room and re-emit each `pub` event to the others as a `msg`, and does nothing else: no
//! database, no sessions, no acknowledgement, no per-socket queue or task wake-up on the
//! way. Each delivery is one `write` system call of one WebSocket frame built once for the
//! room, on one thread (a single-threaded tokio runtime). A socket that cannot take a frame
//! at once keeps the rest in a backlog its own task flushes, so nothing is lost.
//!
//! Only for `bench/fanout` (it trusts its one client: frames are parsed without limits
//! beyond the generator's, and there are no pings or timeouts). Loopback only.
//!
//! ```text
//! taskset -c 0 target/release/fanout_floor --listen 127.0.0.1:3002
//! taskset -c 1 target/release/loadgen --proto sio --pid PID \
//!     --url 'ws://127.0.0.1:3002/socket.io/?EIO=4&transport=websocket' --n 1000 --rate 50 --secs 20
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use anyhow::Context;
use base64::Engine;
use clap::Parser;
use sha1::{Digest, Sha1};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Command-line arguments.
#[derive(Parser)]
#[command(about = "The fan-out benchmark's floor: one write per delivery, nothing else")]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:3002")]
    listen: SocketAddr,
}

/// One connection as the room sees it: its socket, and what it could not yet take.
struct Member {
    id: u64,
    stream: Rc<TcpStream>,
    /// Bytes of frames the socket's send buffer refused, flushed by the connection's task.
    backlog: RefCell<VecDeque<u8>>,
    wake: Notify,
}

impl Member {
    /// Writes `frame` with one `write` when nothing is queued before it; keeps what the
    /// socket does not take (rare: a full send buffer) for the connection's task.
    fn deliver(&self, frame: &[u8]) {
        let mut backlog = self.backlog.borrow_mut();
        if !backlog.is_empty() {
            backlog.extend(frame);
            return;
        }
        let written = match self.stream.try_write(frame) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(_) => return, // closed: its task removes it from the room
        };
        if written < frame.len() {
            backlog.extend(&frame[written..]);
            self.wake.notify_one();
        }
    }
}

/// Every joined connection (the one room).
type Room = Rc<RefCell<Vec<Rc<Member>>>>;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let room: Room = Rc::default();
        let mut next_id = 0u64;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            next_id += 1;
            tokio::task::spawn_local(connection(stream, next_id, room.clone()));
        }
    })
}

/// One connection: the HTTP upgrade (or a plain `200` for a readiness probe), engine.io's
/// handshake, then its frames, until it closes; it leaves the room then.
async fn connection(stream: TcpStream, id: u64, room: Room) {
    let stream = Rc::new(stream);
    let mut buf: Vec<u8> = Vec::new();
    let Some(key) = upgrade_request(&stream, &mut buf).await else {
        return;
    };
    let mut reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    )
    .into_bytes();
    reply.extend(server_frame(
        br#"0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
    ));
    if write_all(&stream, &reply).await.is_err() {
        return;
    }
    let member = Rc::new(Member {
        id,
        stream: stream.clone(),
        backlog: RefCell::default(),
        wake: Notify::new(),
    });
    loop {
        tokio::select! {
            more = read_some(&stream, &mut buf) => {
                if !more || !handle_frames(&member, &mut buf, &room).await {
                    break;
                }
                if buf.is_empty() {
                    buf = Vec::new(); // an idle connection holds no read buffer
                }
            }
            _ = member.wake.notified() => {
                if flush_backlog(&member).await.is_err() {
                    break;
                }
            }
        }
    }
    room.borrow_mut().retain(|m| m.id != id);
}

/// Reads the request head into `buf`; returns its `Sec-WebSocket-Key`, or answers a plain
/// request (the benchmark's readiness probe) with `200` and returns None.
async fn upgrade_request(stream: &TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !read_some(stream, buf).await || buf.len() > 16 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    let key = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    });
    if key.is_none() {
        let _ = write_all(
            stream,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
    }
    key
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 section 4.2.2).
fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Handles every whole frame in `buf`: `40` joins the room, a `pub` event goes to every
/// other member; false when the connection should end (a close frame).
async fn handle_frames(member: &Rc<Member>, buf: &mut Vec<u8>, room: &Room) -> bool {
    while let Some((opcode, payload, used)) = client_frame(buf) {
        buf.drain(..used);
        match opcode {
            0x8 => return false,
            0x1 if payload == b"40" => {
                if write_all(&member.stream, &server_frame(br#"40{"sid":"floor"}"#))
                    .await
                    .is_err()
                {
                    return false;
                }
                room.borrow_mut().push(member.clone());
            }
            0x1 if payload.starts_with(br#"42["pub","#) => {
                let mut event = br#"42["msg","#.to_vec();
                event.extend_from_slice(&payload[9..]);
                let frame = server_frame(&event);
                for other in room.borrow().iter().filter(|m| m.id != member.id) {
                    other.deliver(&frame);
                }
            }
            _ => {} // pongs, engine.io's "3", anything else: nothing to do
        }
    }
    true
}

/// The first whole client frame in `buf`, unmasked: (opcode, payload, bytes it took).
fn client_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask: Option<[u8; 4]> = if b1 & 0x80 != 0 {
        let m = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let mut payload = buf.get(at..at + len)?.to_vec();
    if let Some(mask) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((b0 & 0x0f, payload, at + len))
}

/// A server's (unmasked) text frame holding `payload`.
fn server_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x81);
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= 0xffff => {
            frame.push(126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// Appends what the socket has to `buf`; false at its end or on an error. The read's
/// buffer is not held across the wait, so an idle connection's task does not keep one.
async fn read_some(stream: &TcpStream, buf: &mut Vec<u8>) -> bool {
    loop {
        if stream.readable().await.is_err() {
            return false;
        }
        let mut chunk = [0u8; 4096];
        match stream.try_read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
}

/// Writes all of `bytes` (the handshake's answers, which no frame can precede).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes the member's backlog until it is empty.
async fn flush_backlog(member: &Member) -> std::io::Result<()> {
    loop {
        let chunk: Vec<u8> = {
            let backlog = member.backlog.borrow();
            if backlog.is_empty() {
                return Ok(());
            }
            backlog.iter().copied().take(64 * 1024).collect()
        };
        member.stream.writable().await?;
        match member.stream.try_write(&chunk) {
            Ok(n) => {
                member.backlog.borrow_mut().drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}
