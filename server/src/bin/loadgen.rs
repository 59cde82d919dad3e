//! `loadgen`: a load generator for the realtime hub. Against a running Tandem on this
//! machine it signs up a fresh user, opens N authenticated WebSockets subscribed to one
//! workspace room, makes real record writes at a given rate through the HTTP API, and
//! prints delivered frames per second, loss, and p50/p99/max latency from the write's
//! request to each socket's receipt. Bounded: it stops after `--seconds` plus a drain.
//!
//! Example (raise the open-files limit first): `ulimit -n 8192; target/release/loadgen
//! --url http://127.0.0.1:3000 --sockets 1000 --rate 20 --seconds 20`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use app::realtime::protocol::{Change, ClientFrame, Room, ServerFrame, PROTOCOL_VERSION};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use reqwest::cookie::CookieStore;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Flags.
#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for Tandem's realtime hub (loopback only)"
)]
struct Args {
    /// The server to load; must be on this machine (127.0.0.0/8 or localhost).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Sockets to open, all subscribed to one workspace room.
    #[arg(long, default_value_t = 100)]
    sockets: usize,
    /// Writes per second.
    #[arg(long, default_value_t = 10)]
    rate: u32,
    /// How long to write, seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Sockets opened at once while connecting.
    #[arg(long, default_value_t = 50)]
    connect_batch: usize,
}

/// When each write (by sequence number) was sent.
type Sent = Arc<Mutex<HashMap<u64, Instant>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let name = host.split(':').next().unwrap_or_default();
    if !(name == "localhost" || name.starts_with("127.")) {
        bail!("loadgen only targets this machine (127.0.0.0/8 or localhost), not {host}");
    }

    // A fresh user, workspace and customer to write to.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()?;
    let stamp = app::model::now_ms();
    let call = |f: &str, body: Value| {
        let http = http.clone();
        let url = format!("{}/api/{f}", args.url);
        let f = f.to_string();
        async move {
            let req = http.post(url);
            // The form endpoints (sign-up) take what an HTML form posts.
            let req = if app::api::FORM_ENDPOINTS.contains(&f.as_str()) {
                req.form(&body)
            } else {
                req.json(&body)
            };
            let res = req.send().await?;
            let status = res.status();
            let v: Value = res.json().await?;
            if !status.is_success() {
                bail!("{status}: {v}");
            }
            Ok::<Value, anyhow::Error>(v)
        }
    };
    call("sign_up", json!({"email": format!("load{stamp}@example.com"), "password": "password123", "display_name": "Load"}))
        .await
        .context("signing up")?;
    let ws = call(
        "create_workspace",
        json!({"name": format!("Load {stamp}"), "slug": null}),
    )
    .await?;
    let slug = ws["slug"].as_str().unwrap_or_default().to_string();
    let workspace_id = ws["id"].as_i64().unwrap_or_default();
    let customer = call(
        "create_record",
        json!({"slug": slug, "kind": "customer", "fields": {"name": "Load target"}}),
    )
    .await?;
    let customer_id = customer["id"].as_i64().unwrap_or_default();
    let cookie = jar
        .cookies(&args.url.parse()?)
        .context("no session cookie")?
        .to_str()?
        .to_string();
    let room = Room::Workspace(workspace_id);

    // Open the sockets, in batches.
    println!("opening {} sockets to {host} ...", args.sockets);
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(args.sockets);
    for batch in (0..args.sockets)
        .collect::<Vec<_>>()
        .chunks(args.connect_batch.max(1))
    {
        let mut pending = Vec::new();
        for _ in batch {
            pending.push(open(&host, &cookie, room));
        }
        for s in futures::future::join_all(pending).await {
            sockets.push(s?);
        }
    }
    println!(
        "{} sockets subscribed in {:.1} s",
        sockets.len(),
        opened.elapsed().as_secs_f64()
    );

    // Readers: each socket records the latency of every change it receives.
    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let received = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut readers = Vec::new();
    for mut s in sockets {
        let sent = sent.clone();
        let received = received.clone();
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            loop {
                let msg = tokio::select! {
                    m = s.next() => match m { Some(Ok(m)) => m, _ => break },
                    _ = stop.changed() => break,
                };
                let Message::Text(text) = msg else { continue };
                let Ok(ServerFrame::Event { change, .. }) =
                    serde_json::from_str::<ServerFrame>(text.as_str())
                else {
                    continue;
                };
                let notes = match &change {
                    Change::Updated { fields, .. } => fields.get("notes"),
                    other => other.record().map(|r| r.get("notes")),
                };
                let Some(seq) = notes
                    .and_then(|n| n.as_text())
                    .and_then(|n| n.parse::<u64>().ok())
                else {
                    continue;
                };
                let at = sent.lock().ok().and_then(|m| m.get(&seq).copied());
                if let Some(at) = at {
                    let _ = hist.record(at.elapsed().as_micros().max(1) as u64);
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
            hist
        }));
    }

    // Writer: `rate` updates a second for `seconds`, each a three-way-merged edit.
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let total = args.rate as u64 * args.seconds;
    let mut ticker = tokio::time::interval(interval);
    let started = Instant::now();
    let mut previous = Value::Null;
    let mut written = 0u64;
    for seq in 1..=total {
        ticker.tick().await;
        if let Ok(mut m) = sent.lock() {
            m.insert(seq, Instant::now());
        }
        let body = json!({"slug": slug, "kind": "customer", "id": customer_id,
            "changes": {"notes": {"base": previous, "value": seq.to_string()}}});
        match call("update_record", body).await {
            Ok(_) => {
                written += 1;
                previous = Value::String(seq.to_string());
            }
            Err(e) => eprintln!("write {seq} failed: {e}"),
        }
    }
    let writing = started.elapsed();

    // Drain: wait until everything arrived or 5 s passed, then close.
    let expected = written * readers.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let got = received.load(Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for r in readers {
        if let Ok(h) = r.await {
            hist.add(h)?;
        }
    }
    println!(
        "writes: {written} in {:.1} s ({:.1}/s)",
        writing.as_secs_f64(),
        written as f64 / writing.as_secs_f64()
    );
    println!(
        "delivered: {got} of {expected} ({:.0}/s), loss {} ({:.3} %)",
        got as f64 / elapsed.as_secs_f64(),
        expected.saturating_sub(got),
        100.0 * expected.saturating_sub(got) as f64 / expected.max(1) as f64
    );
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "latency, write request to socket receipt: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    Ok(())
}

/// One socket: connected, welcomed and subscribed.
async fn open(
    host: &str,
    cookie: &str,
    room: Room,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let mut req = format!("ws://{host}/ws").into_client_request()?;
    req.headers_mut().insert("cookie", cookie.parse()?);
    req.headers_mut()
        .insert("origin", format!("http://{host}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .context("opening a socket (raise ulimit -n?)")?;
    let hello = serde_json::to_string(&ClientFrame::Hello {
        version: PROTOCOL_VERSION,
    })?;
    ws.send(Message::Text(hello.into())).await?;
    let sub = serde_json::to_string(&ClientFrame::Subscribe { room, since: None })?;
    ws.send(Message::Text(sub.into())).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            if let Ok(ServerFrame::Subscribed { .. }) =
                serde_json::from_str::<ServerFrame>(t.as_str())
            {
                return Ok(ws);
            }
        }
    }
    bail!("the socket closed before subscribing")
}
