//! `loadgen`: the fan-out load generator, native so that it is not the bound. One room with
//! N subscribed WebSockets and one publisher, against Tandem or the socket.io peer of
//! `bench/fanout`, on this machine only; prints one JSON line of results (the columns
//! `bench/fanout/matrix.js` tabulates). The Node generator it replaces spent 6.5-18 us of
//! its one core per delivery and capped every peer near 150k deliveries/s; this one reads
//! each socket's frames in place from one shared buffer and only every `--sample`-th
//! subscriber parses what it gets.
//!
//! Tandem: signs up a fresh user, creates a workspace and a customer, opens N authenticated
//! sockets (cookie and Origin) that say hello and subscribe to the customer's room (or the
//! workspace's, `--room workspace`); each message is an `update_record` of one text field
//! holding `seq:stamp`. Writes run in up to three lanes, lane i owning one field and
//! writing sequentially, so each write carries the right three-way-merge base. With
//! `--room chat` the sockets subscribe to a new channel and each message is a
//! `send_chat_message` whose body holds `seq:stamp` (the chat benchmark).
//! socket.io (engine.io v4 over a WebSocket): every socket joins one room; the publisher
//! emits `pub`, the server re-emits it to the others.
//!
//! Latency is from a write's send to each sampled socket's receipt (stamps are this
//! process's monotonic clock); `send_lag_ms` says how late the sends ran behind their
//! schedule (a lag would hide in the latency). Bounded: the writes stop after `--count`
//! messages (or `--secs` at `--rate`), then the generator waits while deliveries still
//! arrive; a socket's opening and handshake and a Tandem write each time out after 30 s.
//!
//! ```text
//! ulimit -n 20000
//! target/release/loadgen --proto tandem --url http://127.0.0.1:3010 --n 1000 --rate 50 --secs 20 --pid PID
//! target/release/loadgen --proto tandem --room chat --url http://127.0.0.1:3010 --n 100 --sample 1 --rate 20 --secs 15 --lanes 1
//! target/release/loadgen --proto sio --url 'ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket' --n 1000 --rate 0 --count 200
//! ```

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use app::realtime::protocol::{Change, ClientFrame, Room, ServerFrame, PROTOCOL_VERSION};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reqwest::cookie::CookieStore;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Which peer the generator speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Proto {
    /// Tandem: its `/ws` protocol, writes through `/api/update_record`.
    Tandem,
    /// The socket.io peer of `bench/fanout/sio_server.js` (engine.io v4 over a WebSocket).
    Sio,
}

/// Which Tandem room the subscribers join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoomKind {
    /// The written customer's room.
    Customer,
    /// Its workspace's room (every record's changes).
    Workspace,
    /// A chat channel (`chat:{id}`): each message is a `send_chat_message`, delivered as
    /// a `message` event (the chat benchmark: send to receipt by every participant).
    Chat,
}

/// Flags.
#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Fan-out load generator for Tandem and the socket.io peer (loopback only)"
)]
struct Args {
    /// The peer's protocol.
    #[arg(long, value_enum, default_value_t = Proto::Tandem)]
    proto: Proto,
    /// The server: `http://127.0.0.1:PORT` for Tandem, the socket.io WebSocket URL for sio.
    /// Must be on this machine (127.0.0.0/8 or localhost).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Subscribed sockets.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Messages per second; 0 sends `--count` messages back to back (a burst).
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// Seconds of messages at `--rate` (when `--count` is not given).
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Messages to send; default `rate * secs`, or 200 for a burst.
    #[arg(long)]
    count: Option<u64>,
    /// Every K-th subscriber parses and times its frames; the others only count them.
    #[arg(long, default_value_t = 10)]
    sample: usize,
    /// Hold the sockets this many seconds without messages and report the server's RSS
    /// per socket instead.
    #[arg(long, default_value_t = 0)]
    idle: u64,
    /// The server's process id, for its CPU time and RSS (read from /proc).
    #[arg(long)]
    pid: Option<u32>,
    /// Tandem's write lanes (1-3), each writing one field sequentially.
    #[arg(long, default_value_t = 3)]
    lanes: usize,
    /// socket.io payload size, bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Tandem's room.
    #[arg(long, value_enum, default_value_t = RoomKind::Customer)]
    room: RoomKind,
    /// Add the largest event frame a sampled subscriber received to the output.
    #[arg(long, default_value_t = 0)]
    showframe: u8,
    /// Tandem: make the writes on this node (`http://127.0.0.1:PORT`) while the sockets
    /// are on `--url`'s, so every event crosses the bus between nodes (same database and
    /// Redis; the session is shared). Default: `--url`.
    #[arg(long)]
    write_url: Option<String>,
}

/// Nanoseconds since the generator started (the monotonic clock every stamp is read from).
fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What the subscribers saw, summed over all of them.
struct Tally {
    /// Event frames received (all subscribers).
    received: AtomicU64,
    /// When the last one arrived, `now_ns`.
    last_ns: AtomicU64,
    resyncs: AtomicU64,
    errors: AtomicU64,
    other: AtomicU64,
    /// Offsets a sampled socket skipped.
    gaps: AtomicU64,
    /// Latency of every sampled receipt, microseconds (1 us to 10 min).
    latency: Mutex<Histogram<u64>>,
    /// The largest event frame and its text; the first few unexpected frames.
    largest: Mutex<(usize, String)>,
    odd: Mutex<Vec<String>>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            received: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            other: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            latency: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
            largest: Mutex::new((0, String::new())),
            odd: Mutex::new(Vec::new()),
        })
    }

    /// Notes an unexpected frame (the first few are shown).
    fn odd(&self, payload: &[u8]) {
        if let Ok(mut odd) = self.odd.lock() {
            if odd.len() < 6 {
                let text = String::from_utf8_lossy(payload);
                odd.push(text.chars().take(160).collect());
            }
        }
    }
}

/// A client WebSocket over a plain TCP stream, its frames parsed in place (frames from a
/// server are never masked; RFC 6455 section 5.2). Minimal on purpose: the generator's
/// own cost per delivery must stay far below the server's.
struct Ws {
    stream: TcpStream,
    /// Bytes read but not parsed yet: an incomplete frame, or frames that came with the
    /// upgrade's answer or after the frame that ended a handshake.
    pending: Vec<u8>,
}

/// Frame opcodes (RFC 6455 section 5.2).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// Not an opcode: a fragment or a masked frame, which neither peer sends; reported
/// among the unexpected frames.
const ODD: u8 = 0xF;
/// The largest frame accepted, bytes.
const MAX_FRAME: usize = 16 << 20;

thread_local! {
    /// The one read buffer all sockets share (the runtime is single-threaded, and a read
    /// never spans an await), so 10,000 idle sockets hold no buffer each.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 256 * 1024]);
}

impl Ws {
    /// Connects and upgrades `path` on `host` (`127.0.0.1:PORT`) with extra header lines.
    async fn connect(host: &str, path: &str, headers: &str) -> anyhow::Result<Ws> {
        let mut stream = TcpStream::connect(host)
            .await
            .context("connecting (raise ulimit -n?)")?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let end = loop {
            stream.readable().await?;
            let mut buf = [0u8; 4096];
            match stream.try_read(&mut buf) {
                Ok(0) => bail!("the server closed the connection during the upgrade"),
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.into()),
            }
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        if !head.starts_with(b"HTTP/1.1 101") {
            let status = String::from_utf8_lossy(&head[..head.len().min(80)]).to_string();
            bail!("upgrade refused: {status}");
        }
        Ok(Ws {
            stream,
            pending: head[end..].to_vec(),
        })
    }

    /// Sends a text frame, masked as a client must (RFC 6455 section 5.3).
    async fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.stream
            .write_all(&client_frame(TEXT, text.as_bytes()))
            .await
    }

    /// Sends frames made by [`client_frame`].
    async fn send_frames(&mut self, frames: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
        for f in frames.drain(..) {
            self.stream.write_all(&f).await?;
        }
        Ok(())
    }

    /// Calls `each(opcode, payload)` for every complete frame already read or, when there
    /// is none, for those of the next read, until `each` returns false (the rest stay in
    /// `pending`). Returns false once the connection ended (end of stream or a read
    /// error); errors: a frame over 16 MiB.
    async fn read(&mut self, mut each: impl FnMut(u8, &[u8]) -> bool) -> std::io::Result<bool> {
        let used = parse_frames(&self.pending, &mut each)?;
        if used > 0 {
            self.pending.drain(..used);
            return Ok(true);
        }
        loop {
            self.stream.readable().await?;
            let done = SCRATCH.with(|s| {
                let mut scratch = s.borrow_mut();
                let n = match self.stream.try_read(&mut scratch) {
                    Ok(0) => return Ok(Some(false)),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                    Err(_) => return Ok(Some(false)),
                };
                if self.pending.is_empty() {
                    let used = parse_frames(&scratch[..n], &mut each)?;
                    self.pending.extend_from_slice(&scratch[used..n]);
                } else {
                    self.pending.extend_from_slice(&scratch[..n]);
                    let used = parse_frames(&self.pending, &mut each)?;
                    self.pending.drain(..used);
                }
                if self.pending.is_empty() {
                    // An idle socket keeps no buffer.
                    self.pending = Vec::new();
                }
                Ok::<_, std::io::Error>(Some(true))
            })?;
            if let Some(open) = done {
                return Ok(open);
            }
        }
    }

    /// Reads frames until `done(replies, payload)`, given each text frame, says the
    /// handshake is over (true) or failed (an error); the frames it pushes to `replies`
    /// are sent. Frames after the last one stay for the next read.
    async fn until(
        &mut self,
        mut done: impl FnMut(&mut Vec<String>, &[u8]) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let mut replies = Vec::new();
        let mut finished = None;
        while finished.is_none() {
            let open = self
                .read(|op, payload| {
                    if op == TEXT {
                        match done(&mut replies, payload) {
                            Ok(true) => finished = Some(Ok(())),
                            Ok(false) => {}
                            Err(e) => finished = Some(Err(e)),
                        }
                    }
                    finished.is_none()
                })
                .await?;
            for r in replies.drain(..) {
                self.send(&r).await?;
            }
            if !open && finished.is_none() {
                bail!("the socket closed during its handshake");
            }
        }
        finished.unwrap_or(Ok(()))
    }
}

/// Calls `each(opcode, payload)` for every complete frame at the start of `buf` until it
/// returns false; returns the bytes used. A fragment or a masked frame is passed as
/// [`ODD`]; errors: a frame over [`MAX_FRAME`].
fn parse_frames(buf: &[u8], each: &mut impl FnMut(u8, &[u8]) -> bool) -> std::io::Result<usize> {
    let mut at = 0;
    loop {
        let b = &buf[at..];
        if b.len() < 2 {
            return Ok(at);
        }
        let (len, head) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            126 | 127 => return Ok(at),
            n => (u64::from(n), 2),
        };
        if len > MAX_FRAME as u64 {
            return Err(std::io::Error::other(format!("a frame of {len} bytes")));
        }
        let masked = b[1] & 0x80 != 0;
        let head = head + if masked { 4 } else { 0 };
        let end = head + len as usize;
        if b.len() < end {
            return Ok(at);
        }
        let fin = b[0] & 0x80 != 0;
        let op = match b[0] & 0x0f {
            op if fin && !masked && op != 0 => op,
            _ => ODD,
        };
        at += end;
        if !each(op, &b[head..end]) {
            return Ok(at);
        }
    }
}

/// A masked client frame (RFC 6455 section 5.3) of `opcode` holding `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask: [u8; 4] = rand::random();
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Whether `payload` starts with `prefix`.
fn starts(payload: &[u8], prefix: &[u8]) -> bool {
    payload.len() >= prefix.len() && &payload[..prefix.len()] == prefix
}

/// The Tandem session every socket and write uses.
struct Tandem {
    http: reqwest::Client,
    base: String,
    host: String,
    cookie: String,
    slug: String,
    id: i64,
    room: Room,
}

impl Tandem {
    /// Signs up a fresh user, creates a workspace and a customer to write to.
    async fn setup(base: &str, host: &str, room: RoomKind) -> anyhow::Result<Tandem> {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(OPEN_TIMEOUT)
            .build()?;
        let mut t = Tandem {
            http,
            base: base.trim_end_matches('/').to_string(),
            host: host.to_string(),
            cookie: String::new(),
            slug: String::new(),
            id: 0,
            room: Room::Workspace(0),
        };
        let stamp = format!("{}{}", app::model::now_ms(), std::process::id());
        t.call("sign_up", json!({"email": format!("fan{stamp}@example.com"), "password": "password123", "display_name": "Fanout"}))
            .await
            .context("signing up")?;
        let ws = t
            .call(
                "create_workspace",
                json!({"name": format!("Fanout {stamp}"), "slug": null}),
            )
            .await?;
        t.slug = ws["slug"].as_str().unwrap_or_default().to_string();
        let customer = t
            .call(
                "create_record",
                json!({"slug": t.slug, "kind": "customer", "fields": {"name": "Fanout target"}}),
            )
            .await?;
        t.id = customer["id"].as_i64().unwrap_or_default();
        t.room = match room {
            RoomKind::Customer => Room::Record(app::model::RecordKind::Customer, t.id),
            RoomKind::Workspace => Room::Workspace(ws["id"].as_i64().unwrap_or_default()),
            RoomKind::Chat => {
                let channel = t
                    .call(
                        "create_chat_room",
                        json!({"slug": t.slug, "kind": "channel", "name": "bench", "max_participants": null}),
                    )
                    .await?;
                Room::Chat(channel["id"].as_i64().unwrap_or_default())
            }
        };
        t.cookie = jar
            .cookies(&t.base.parse()?)
            .context("no session cookie")?
            .to_str()?
            .to_string();
        Ok(t)
    }

    /// The same session with an HTTP client of its own (for another thread's runtime),
    /// talking to `base` (another node) when given.
    fn fork(&self, base: Option<&str>) -> anyhow::Result<Tandem> {
        let base = base
            .map(|b| b.trim_end_matches('/').to_string())
            .unwrap_or_else(|| self.base.clone());
        let jar = Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(&self.cookie, &base.parse()?);
        Ok(Tandem {
            http: reqwest::Client::builder()
                .cookie_provider(jar)
                .timeout(OPEN_TIMEOUT)
                .build()?,
            base,
            host: self.host.clone(),
            cookie: self.cookie.clone(),
            slug: self.slug.clone(),
            id: self.id,
            room: self.room,
        })
    }

    /// POSTs a server function (form fields for the form endpoints, JSON otherwise);
    /// returns its JSON answer, or the status and body as the error.
    async fn call(&self, f: &str, body: Value) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(format!("{}/api/{f}", self.base))
            .header("origin", &self.base);
        let req = if app::api::FORM_ENDPOINTS.contains(&f) {
            req.form(&body)
        } else {
            req.json(&body)
        };
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("{status} {}", text.chars().take(160).collect::<String>());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One subscribed socket.
    async fn open(&self) -> anyhow::Result<Ws> {
        let headers = format!("Cookie: {}\r\nOrigin: {}\r\n", self.cookie, self.base);
        let mut ws = Ws::connect(&self.host, "/ws", &headers).await?;
        let hello = serde_json::to_string(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
        })?;
        ws.send(&hello).await?;
        let sub = serde_json::to_string(&ClientFrame::Subscribe {
            room: self.room,
            since: None,
        })?;
        ws.send(&sub).await?;
        ws.until(|_, payload| {
            if starts(payload, b"{\"type\":\"subscribed\"") {
                Ok(true)
            } else if starts(payload, b"{\"type\":\"error\"") {
                bail!("subscribing: {}", String::from_utf8_lossy(payload))
            } else {
                Ok(false)
            }
        })
        .await?;
        Ok(ws)
    }
}

/// One socket.io connection, joined to the room (the server joins every connection).
async fn sio_open(host: &str, path: &str) -> anyhow::Result<Ws> {
    let mut ws = Ws::connect(host, path, "").await?;
    ws.until(|replies, payload| {
        match payload {
            [b'0', ..] => replies.push("40".into()), // engine.io open: connect to `/`
            [b'4', b'0', ..] => return Ok(true),
            [b'2'] => replies.push("3".into()), // ping
            _ => {}
        }
        Ok(false)
    })
    .await?;
    Ok(ws)
}

/// A subscriber's loop: counts event frames, and when `timed`, parses them for their
/// stamp (latency) and offset (gaps). Answers WebSocket and socket.io pings and sends
/// Tandem's heartbeat (every 25 s, the first after 25-29 s so they do not come at once).
async fn subscribe_loop(mut ws: Ws, proto: Proto, timed: bool, tally: Arc<Tally>) {
    let mut last_offset: Option<i64> = None;
    let first = Duration::from_secs(25) + Duration::from_millis(rand::random::<u64>() % 4000);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + first, Duration::from_secs(25));
    let mut replies: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut events = 0u64;
        let read = tokio::select! {
            r = ws.read(|op, payload| {
                match op {
                    TEXT => {}
                    PING => {
                        replies.push(client_frame(PONG, payload));
                        return true;
                    }
                    PONG | CLOSE => return true,
                    _ => {
                        tally.other.fetch_add(1, Ordering::Relaxed);
                        tally.odd(payload);
                        return true;
                    }
                }
                let event = match proto {
                    Proto::Tandem => starts(payload, b"{\"type\":\"event\""),
                    Proto::Sio => starts(payload, b"42"),
                };
                if !event {
                    match proto {
                        Proto::Sio if payload == b"2" => replies.push(client_frame(TEXT, b"3")),
                        Proto::Tandem if starts(payload, b"{\"type\":\"pong\"") => {}
                        Proto::Tandem if starts(payload, b"{\"type\":\"resync\"") => {
                            tally.resyncs.fetch_add(1, Ordering::Relaxed);
                            tally.odd(payload);
                        }
                        Proto::Tandem if starts(payload, b"{\"type\":\"error\"") => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            tally.odd(payload);
                        }
                        Proto::Tandem if starts(payload, b"{\"type\":\"presence") => {}
                        _ => {
                            tally.other.fetch_add(1, Ordering::Relaxed);
                            tally.odd(payload);
                        }
                    }
                    return true;
                }
                events += 1;
                if !timed {
                    return true;
                }
                let at = now_ns();
                let stamp = match proto {
                    Proto::Tandem => tandem_stamp(payload, &mut last_offset, &tally),
                    Proto::Sio => sio_stamp(payload),
                };
                match stamp {
                    Some(sent) => {
                        if let Ok(mut h) = tally.latency.lock() {
                            h.saturating_record((at.saturating_sub(sent) / 1000).max(1));
                        }
                    }
                    None => tally.odd(payload),
                }
                if let Ok(mut largest) = tally.largest.lock() {
                    if payload.len() > largest.0 {
                        *largest = (payload.len(), String::from_utf8_lossy(payload).into_owned());
                    }
                }
                true
            }) => r,
            _ = heartbeat.tick(), if proto == Proto::Tandem => {
                replies.push(client_frame(TEXT, b"{\"type\":\"ping\"}"));
                Ok(true)
            }
        };
        if events > 0 {
            tally.received.fetch_add(events, Ordering::Relaxed);
            tally.last_ns.fetch_max(now_ns(), Ordering::Relaxed);
        }
        if !matches!(read, Ok(true)) || ws.send_frames(&mut replies).await.is_err() {
            break;
        }
    }
}

/// The send stamp of a Tandem event (the changed field's `seq:stamp`), noting a skipped
/// offset.
fn tandem_stamp(payload: &[u8], last: &mut Option<i64>, tally: &Tally) -> Option<u64> {
    let Ok(ServerFrame::Event {
        position, change, ..
    }) = serde_json::from_slice::<ServerFrame>(payload)
    else {
        return None;
    };
    if last.is_some_and(|l| position.offset != l + 1) {
        tally.gaps.fetch_add(1, Ordering::Relaxed);
    }
    *last = Some(position.offset);
    match change {
        Change::Updated { fields, .. } => {
            let value = fields.values().find_map(|v| v.as_text())?;
            value.split_once(':')?.1.parse().ok()
        }
        Change::Message { message, .. } => message.body.split_once(':')?.1.parse().ok(),
        _ => None,
    }
}

/// The send stamp of a socket.io `msg` (its `"t":"stamp"`).
fn sio_stamp(payload: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    let start = text.find("\"t\":\"")? + 5;
    let end = start + text[start..].find('"')?;
    text[start..end].parse().ok()
}

/// CPU seconds and resident memory (KiB) of process `pid`, from /proc.
fn proc_stat(pid: Option<u32>) -> Option<(f64, u64)> {
    let pid = pid?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((ticks / hz, rss))
}

/// This process's CPU time (user and system, every thread), seconds.
fn own_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Rounds to two decimals.
fn f2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The publisher: sends message `k` when told to.
enum Publisher {
    /// Tandem's writes, one field per lane: each lane's last value is the next write's base.
    Tandem {
        tandem: Arc<Tandem>,
        fields: Vec<&'static str>,
        previous: Vec<tokio::sync::Mutex<Value>>,
    },
    /// socket.io's publishing socket, written by [`sio_publish`].
    Sio {
        frames: tokio::sync::mpsc::UnboundedSender<String>,
        pad: String,
    },
}

impl Publisher {
    /// Sends message `k` on `lane`; Err holds why the write failed.
    async fn send(&self, lane: usize, k: u64) -> anyhow::Result<()> {
        match self {
            Publisher::Tandem {
                tandem,
                fields,
                previous,
            } => {
                if let Room::Chat(id) = tandem.room {
                    let body = json!({"slug": tandem.slug, "target": {"room": id},
                        "body": format!("{k}:{}", now_ns()), "reply_to": null, "key": format!("bench-{k}")});
                    tandem.call("send_chat_message", body).await?;
                    return Ok(());
                }
                let mut base = previous[lane].lock().await;
                let value = format!("{k}:{}", now_ns());
                let body = json!({"slug": tandem.slug, "kind": "customer", "id": tandem.id,
                    "changes": {fields[lane]: {"base": *base, "value": value}}});
                tandem.call("update_record", body).await?;
                *base = Value::String(value);
                Ok(())
            }
            Publisher::Sio { frames, pad } => {
                let frame = format!(
                    "42[\"pub\",{{\"s\":{k},\"t\":\"{}\",\"p\":\"{pad}\"}}]",
                    now_ns()
                );
                frames
                    .send(frame)
                    .map_err(|_| anyhow::anyhow!("the publishing socket closed"))
            }
        }
    }
}

/// socket.io's publishing socket: writes the frames it is given and answers the
/// server's pings (unanswered, socket.io drops a socket after 45 s); ends when the
/// socket closes or the publisher is dropped.
async fn sio_publish(mut ws: Ws, mut frames: tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut replies: Vec<Vec<u8>> = Vec::new();
    loop {
        let open = tokio::select! {
            f = frames.recv() => match f {
                Some(f) => ws.send(&f).await.is_ok(),
                None => false,
            },
            r = ws.read(|op, payload| {
                match (op, payload) {
                    (PING, _) => replies.push(client_frame(PONG, payload)),
                    (TEXT, b"2") => replies.push(client_frame(TEXT, b"3")),
                    _ => {}
                }
                true
            }) => matches!(r, Ok(true)),
        };
        if !open || ws.send_frames(&mut replies).await.is_err() {
            return;
        }
    }
}

/// What the publisher sends: `count` messages at `rate` a second (0: at once) in up to
/// `lanes` lanes, socket.io payloads of `size` bytes.
#[derive(Clone, Copy)]
struct Plan {
    count: u64,
    rate: u32,
    lanes: usize,
    size: usize,
}

/// Runs the schedule on the calling thread, in a runtime of its own, so that a send and
/// its answer never queue behind the subscribers' reads (a real writer does not share
/// their event loop); returns when the sends started and ended (`now_ns`) and their
/// outcomes. Tandem's writes use `tandem` (its own HTTP client); socket.io's go through
/// a publishing socket opened here.
fn publish(
    tandem: Option<Tandem>,
    host: &str,
    path: &str,
    plan: Plan,
) -> anyhow::Result<(u64, u64, Writes)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut flushed = None;
        let publisher = Arc::new(match tandem {
            Some(t) => {
                let fields: Vec<&'static str> = ["notes", "office_location", "sector"]
                    .into_iter()
                    .take(plan.lanes.clamp(1, 3))
                    .collect();
                Publisher::Tandem {
                    tandem: Arc::new(t),
                    previous: fields
                        .iter()
                        .map(|_| tokio::sync::Mutex::new(Value::Null))
                        .collect(),
                    fields,
                }
            }
            None => {
                let (frames, rx) = tokio::sync::mpsc::unbounded_channel();
                let ws = tokio::time::timeout(OPEN_TIMEOUT, sio_open(host, path))
                    .await
                    .context("opening the publishing socket")??;
                flushed = Some(tokio::spawn(sio_publish(ws, rx)));
                Publisher::Sio {
                    frames,
                    pad: "x".repeat(plan.size.saturating_sub(40)),
                }
            }
        });
        let lanes = match &*publisher {
            Publisher::Tandem { fields, .. } => fields.len(),
            Publisher::Sio { .. } => 1,
        };

        // The schedule: message k is due at t0 + k / rate (all at once for a burst); each
        // lane takes the next message, waits until it is due and sends it, so at most `lanes`
        // are in flight (a send behind its due time shows in `send_lag_ms`).
        let t0 = now_ns();
        let next = Arc::new(AtomicU64::new(0));
        let writes = Arc::new(Mutex::new(Writes::default()));
        let mut lane_tasks = Vec::new();
        for lane in 0..lanes {
            let (publisher, next, writes) = (publisher.clone(), next.clone(), writes.clone());
            let rate = plan.rate;
            lane_tasks.push(tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= plan.count {
                        break;
                    }
                    let due = match rate {
                        0 => t0,
                        r => t0 + k * 1_000_000_000 / u64::from(r),
                    };
                    let wait = due.saturating_sub(now_ns());
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_nanos(wait)).await;
                    }
                    let sent = now_ns();
                    let result = publisher.send(lane, k).await;
                    let ms = (now_ns() - sent) as f64 / 1e6;
                    if let Ok(mut w) = writes.lock() {
                        w.ms.push(ms);
                        if rate > 0 {
                            w.lag_ms = w.lag_ms.max(sent.saturating_sub(due) as f64 / 1e6);
                        }
                        match result {
                            Ok(()) => w.ok += 1,
                            Err(e) => {
                                w.failed += 1;
                                if w.failures.len() < 3 {
                                    w.failures.push(e.to_string());
                                }
                            }
                        }
                    }
                }
            }));
        }
        for t in lane_tasks {
            t.await?;
        }
        // socket.io's sends are done once its publishing socket wrote every frame (the
        // channel closes with the last lane's publisher).
        drop(publisher);
        if let Some(f) = flushed {
            f.await?;
        }
        let t_writes = now_ns();
        let writes = std::mem::take(
            &mut *writes
                .lock()
                .map_err(|_| anyhow::anyhow!("a lane panicked"))?,
        );
        Ok((t0, t_writes, writes))
    })
}

/// Write outcomes: count, failures, the latency of each and the largest lag of a send
/// behind its due time, milliseconds.
#[derive(Default)]
struct Writes {
    ok: u64,
    failed: u64,
    failures: Vec<String>,
    ms: Vec<f64>,
    lag_ms: f64,
}

/// How long a socket's opening and handshake may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    now_ns();
    let (host, path) = {
        let rest = args
            .url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&args.url);
        match rest.find('/') {
            Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
            None => (rest.to_string(), "/".to_string()),
        }
    };
    let name = host.rsplit_once(':').map_or(host.as_str(), |(n, _)| n);
    let loopback = name
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !(name == "localhost" || loopback) {
        bail!("loadgen only targets this machine (127.0.0.0/8 or localhost), not {host}");
    }
    let count = args.count.unwrap_or(if args.rate > 0 {
        u64::from(args.rate) * args.secs
    } else {
        200
    });
    let tandem = match args.proto {
        Proto::Tandem => Some(Arc::new(Tandem::setup(&args.url, &host, args.room).await?)),
        Proto::Sio => None,
    };
    let s0 = proc_stat(args.pid);

    // Subscribers, opened 100 at a time.
    let tally = Arc::new(Tally::new()?);
    let sample = args.sample.max(1);
    let mut opened = 0;
    while opened < args.n {
        let batch = (opened..args.n.min(opened + 100)).map(|_| async {
            let open = async {
                match &tandem {
                    Some(t) => t.open().await,
                    None => sio_open(&host, &path).await,
                }
            };
            tokio::time::timeout(OPEN_TIMEOUT, open)
                .await
                .unwrap_or_else(|_| bail!("no answer in {OPEN_TIMEOUT:?}"))
        });
        for (j, ws) in futures::future::join_all(batch)
            .await
            .into_iter()
            .enumerate()
        {
            let ws = ws.with_context(|| format!("opening subscriber {}", opened + j))?;
            let timed = (opened + j) % sample == 0;
            tokio::spawn(subscribe_loop(ws, args.proto, timed, tally.clone()));
        }
        opened = args.n.min(opened + 100);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s1 = proc_stat(args.pid);
    let mut out = json!({"proto": format!("{:?}", args.proto).to_lowercase(), "N": args.n, "rate": args.rate, "count": count});

    if args.idle > 0 {
        tokio::time::sleep(Duration::from_secs(args.idle)).await;
        let s2 = proc_stat(args.pid);
        out["idle_s"] = json!(args.idle);
        if let (Some(s0), Some(s2)) = (s0, s2) {
            out["rss_before_kib"] = json!(s0.1);
            out["rss_kib"] = json!(s2.1);
            out["rss_per_socket_b"] =
                json!(((s2.1 as f64 - s0.1 as f64) * 1024.0 / args.n.max(1) as f64).round());
        }
        out["resyncs"] = json!(tally.resyncs.load(Ordering::Relaxed));
        out["error_frames"] = json!(tally.errors.load(Ordering::Relaxed));
        println!("{out}");
        std::process::exit(0);
    }

    let (c_a, g_a) = (proc_stat(args.pid), own_cpu());
    if let Some(w) = &args.write_url {
        let host = w.split_once("://").map_or(w.as_str(), |(_, r)| r);
        let name = host.split(['/', ':']).next().unwrap_or_default();
        if !(name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
        {
            bail!("loadgen only targets this machine, not {w}");
        }
    }
    let own = tandem
        .as_ref()
        .map(|t| t.fork(args.write_url.as_deref()))
        .transpose()?;
    let plan = Plan {
        count,
        rate: args.rate,
        lanes: args.lanes,
        size: args.size,
    };
    let (host2, path2) = (host.clone(), path.clone());
    let thread = std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || publish(own, &host2, &path2, plan))?;
    let (t0, t_writes, w) = tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the publisher panicked"))??;
    let (ok, failed, failures, mut write_ms, lag_ms) = (w.ok, w.failed, w.failures, w.ms, w.lag_ms);

    // Drain: wait while deliveries still arrive (2 s without progress ends it).
    let expected = ok * args.n as u64;
    let mut last = u64::MAX;
    loop {
        let got = tally.received.load(Ordering::Relaxed);
        if got >= expected || got == last {
            break;
        }
        last = got;
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::Instant::now() < until
            && tally.received.load(Ordering::Relaxed) < expected
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (c_b, g_b) = (proc_stat(args.pid), own_cpu());
    let received = tally.received.load(Ordering::Relaxed);
    let span = (tally.last_ns.load(Ordering::Relaxed).saturating_sub(t0)) as f64 / 1e9;
    write_ms.sort_by(f64::total_cmp);
    let pct = |v: &[f64], p: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[(((p / 100.0) * v.len() as f64) as usize).min(v.len() - 1)]
        }
    };
    let lat = tally
        .latency
        .lock()
        .map_err(|_| anyhow::anyhow!("a subscriber panicked"))?
        .clone();
    let ms = |us: u64| f2(us as f64 / 1000.0);
    out["writes_ok"] = json!(ok);
    out["writes_failed"] = json!(failed);
    out["writes_per_s"] = json!(f2(ok as f64 / ((t_writes - t0) as f64 / 1e9)));
    out["write_ms"] = json!({"p50": f2(pct(&write_ms, 50.0)), "p99": f2(pct(&write_ms, 99.0))});
    if args.rate > 0 {
        out["send_lag_ms"] = json!({"max": f2(lag_ms)});
    }
    out["expected"] = json!(expected);
    out["received"] = json!(received);
    out["loss_pct"] = json!(f2(100.0 * (1.0 - received as f64 / expected.max(1) as f64)));
    out["delivered_per_s"] = json!((received as f64 / span.max(1e-9)).round());
    out["lat_ms"] = json!({"p50": ms(lat.value_at_quantile(0.5)), "p99": ms(lat.value_at_quantile(0.99)), "max": ms(lat.max())});
    out["resyncs"] = json!(tally.resyncs.load(Ordering::Relaxed));
    out["error_frames"] = json!(tally.errors.load(Ordering::Relaxed));
    out["other_frames"] = json!(tally.other.load(Ordering::Relaxed));
    out["sampled_gaps"] = json!(tally.gaps.load(Ordering::Relaxed));
    let (largest, frame) = tally.largest.lock().map(|l| l.clone()).unwrap_or_default();
    out["event_frame_bytes"] = json!(largest);
    // The generator's own CPU: near the span, the generator (one core) is the bound.
    let g = g_b - g_a;
    out["generator_cpu_s"] = json!(f2(g));
    out["generator_us_per_delivery"] = json!(f2(g * 1e6 / received.max(1) as f64));
    out["span_s"] = json!(f2(span));
    if let (Some(a), Some(b), Some(idle)) = (c_a, c_b, s1) {
        out["server_cpu_s"] = json!(f2(b.0 - a.0));
        out["server_us_per_delivery"] = json!(f2((b.0 - a.0) * 1e6 / received.max(1) as f64));
        out["server_rss_kib"] = json!(b.1);
        out["server_rss_idle_kib"] = json!(idle.1);
    }
    if !failures.is_empty() {
        out["failures"] = json!(failures);
    }
    if let Ok(odd) = tally.odd.lock() {
        if !odd.is_empty() {
            out["odd_frames"] = json!(*odd);
        }
    }
    if args.showframe > 0 {
        out["sample_frame"] = json!(frame);
    }
    println!("{out}");
    std::process::exit(0);
}
