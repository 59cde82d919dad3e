// Fan-out load generator: N subscribers in one room, one publisher, on this machine only.
// Every payload carries a CLOCK_MONOTONIC stamp (process.hrtime), so latency is measured
// from the write's send to each receipt. Prints one JSON line of results.
//
//   node generator.js --proto tandem --url http://127.0.0.1:3010 --n 1000 --rate 50 --secs 20 --pid PID
//   node generator.js --proto sio --url 'ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket' ...
//   --rate 0 --count M: a burst of M messages back to back;  --idle S: hold N sockets S seconds, no messages
//   --sample K: every K-th subscriber parses and times its frames, the others only count them
//
// Tandem: signs up a fresh user, creates a workspace and a customer, opens N authenticated
// sockets (cookie + Origin) that say hello (protocol 3) and subscribe to `customer:ID`; each
// message is an `update_record` of one text field. Writes run in up to 3 lanes, lane i owning
// one field and writing sequentially, so each write carries the right base (no conflicts).
// socket.io: every socket joins one room; the publisher emits `pub`, the server re-emits it.
// Adapted from the team's harness in ../shared/bench/fanout (protocol 3, form sign-up).
'use strict';
const WebSocket = require('ws');
const fs = require('fs');
const http = require('http');

const A = {};
for (let i = 2; i < process.argv.length; i += 2) A[process.argv[i].slice(2)] = process.argv[i + 1];
const url = A.url, proto = A.proto || 'sio', N = +(A.n || 1000), rate = +(A.rate || 10), secs = +(A.secs || 10);
const sample = +(A.sample || 10), idle = +(A.idle || 0), pid = A.pid, size = +(A.size || 100);
const count = +(A.count || (rate > 0 ? rate * secs : 200));
const now = () => process.hrtime.bigint();
const host = new URL(url).hostname;
if (!(host === 'localhost' || host.startsWith('127.'))) { console.error('loopback only'); process.exit(2); }

/** CPU seconds and memory (KiB) of a process, from /proc. */
function procStat(p) {
  if (!p) return null;
  const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
  const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
  const kb = (k) => +(st.match(new RegExp(k + ':\\s+(\\d+)')) || [0, 0])[1];
  return { cpu: (+s[11] + +s[12]) / 100, rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))] : 0);
const f2 = (x) => +(+x).toFixed(2);
const lat = new Float64Array(Math.min(N * count, 30e6));
let nl = 0, recv = 0, tLastRecv = 0n, largestFrame = 0, sampleFrame = '';
const odd = { resyncs: 0, errors: 0, other: 0, gaps: 0, first: [] };
const note = (d) => { if (odd.first.length < 6) odd.first.push(d.toString().slice(0, 160)); };
function timed(t) { const n = now(); tLastRecv = n; recv++; if (nl < lat.length) lat[nl++] = Number(n - t) / 1000; }

// ---- socket.io (engine.io v4 over a raw WebSocket) -------------------------------------
function sioOpen(onmsg) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', rej);
    ws.on('message', (d) => {
      if (d.length === 1 && d[0] === 0x32) { ws.send('3'); return; } // engine.io ping
      if (!ws._ready) { const s = d.toString(); if (s[0] === '0') ws.send('40'); else if (s.startsWith('40')) { ws._ready = true; res(ws); } return; }
      onmsg(d);
    });
  });
}
const sioCount = (d) => { if (d[0] === 0x34 && d[1] === 0x32) recv++; };
function sioTimed(d) {
  const s = d.toString(); if (!s.startsWith('42')) return;
  if (d.length > largestFrame) { largestFrame = d.length; sampleFrame = s; }
  const i = s.indexOf('"t":"'); timed(BigInt(s.slice(i + 5, s.indexOf('"', i + 5))));
}

// ---- Tandem ----------------------------------------------------------------------------
const T = { cookie: '', origin: '', host: '', port: 0, agent: null, slug: '', room: '', id: 0 };
const EVT = Buffer.from('{"type":"event"'), RSY = Buffer.from('{"type":"resync"'), ERR = Buffer.from('{"type":"error"');
const starts = (d, b) => d.length >= b.length && b.compare(d, 0, b.length, 0, b.length) === 0;
/** POSTs a server function: JSON, or form fields for the form endpoints. */
function post(fn, body, form) {
  return new Promise((res) => {
    const data = Buffer.from(form ? new URLSearchParams(body).toString() : JSON.stringify(body));
    const headers = { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
      'content-length': data.length, origin: T.origin, ...(T.cookie ? { cookie: T.cookie } : {}) };
    const req = http.request({ host: T.host, port: T.port, path: '/api/' + fn, method: 'POST', agent: T.agent, headers }, (r) => {
      for (const c of r.headers['set-cookie'] || []) { const m = c.match(/^(tandem\.sid=[^;]*)/); if (m) T.cookie = m[1]; }
      const chunks = []; r.on('data', (c) => chunks.push(c));
      r.on('end', () => { const text = Buffer.concat(chunks).toString(); let json = null; try { json = JSON.parse(text); } catch (e) {} res({ status: r.statusCode, json, text }); });
    });
    req.on('error', (e) => res({ status: 0, json: null, text: String(e) }));
    req.end(data);
  });
}
async function tandemSetup() {
  const u = new URL(url); T.host = u.hostname; T.port = +u.port; T.origin = `http://${u.host}`;
  T.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const stamp = `${Date.now()}${process.pid}`;
  let r = await post('sign_up', { email: `fan${stamp}@example.com`, password: 'password123', display_name: 'Fanout' }, true);
  if (r.status !== 200 || !T.cookie) throw new Error(`sign_up ${r.status} ${r.text.slice(0, 200)}`);
  r = await post('create_workspace', { name: `Fanout ${stamp}`, slug: null });
  if (r.status !== 200) throw new Error(`create_workspace ${r.status} ${r.text.slice(0, 200)}`);
  T.slug = r.json.slug;
  r = await post('create_record', { slug: T.slug, kind: 'customer', fields: { name: 'Fanout target' } });
  if (r.status !== 200) throw new Error(`create_record ${r.status} ${r.text.slice(0, 200)}`);
  T.id = r.json.id; T.room = `customer:${T.id}`;
}
function tandemCount(ws, d) {
  if (starts(d, EVT)) { recv++; return; }
  if (starts(d, RSY)) odd.resyncs++; else if (starts(d, ERR)) odd.errors++; else odd.other++;
  note(d);
}
function tandemTimed(ws, d) {
  if (!starts(d, EVT)) return tandemCount(ws, d);
  if (d.length > largestFrame) { largestFrame = d.length; sampleFrame = d.toString(); }
  const m = JSON.parse(d.toString());
  const off = m.position.offset; if (ws._last !== undefined && off !== ws._last + 1) odd.gaps++; ws._last = off;
  // Changed fields with their values; before, names only with the whole record beside.
  const f = m.change.fields;
  const v = Array.isArray(f) ? m.change.record.fields[f[0]] : Object.values(f)[0];
  timed(BigInt(v.slice(v.indexOf(':') + 1)));
}
function tandemOpen(onmsg) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(`ws://${T.host}:${T.port}/ws`, { perMessageDeflate: false, headers: { cookie: T.cookie, origin: T.origin } });
    ws.on('error', rej);
    ws.on('unexpected-response', (q, r) => rej(new Error(`upgrade refused ${r.statusCode}`)));
    ws.on('open', () => { ws.send('{"type":"hello","version":3}'); ws.send(`{"type":"subscribe","room":"${T.room}","since":null}`); });
    ws.on('message', (d) => {
      if (!ws._ready) {
        const m = JSON.parse(d.toString());
        if (m.type === 'subscribed') { ws._ready = true; ws._hb = setInterval(() => ws.send('{"type":"ping"}'), 25000 + Math.random() * 4000); res(ws); }
        else if (m.type === 'error') rej(new Error('subscribe: ' + d.toString()));
        return;
      }
      onmsg(ws, d);
    });
  });
}

// ---- publishing ------------------------------------------------------------------------
/** Runs `send(k, done)` for k = 0..count-1 on the open-loop schedule (k due at t0 + k/rate;
 * all at once for a burst) with at most `lanes` in flight; resolves when all are done. */
function schedule(lanes, send) {
  return new Promise((finish) => {
    const t0 = now(), queue = [], free = [...Array(lanes).keys()];
    let k = 0, done = 0;
    const pump = () => { while (free.length && queue.length) { const lane = free.shift(), j = queue.shift(); send(lane, j, t0, () => { free.push(lane); if (++done === count) finish(t0); else pump(); }); } };
    if (rate <= 0) { for (; k < count; k++) queue.push(k); pump(); return; }
    const tick = () => {
      const due = Math.min(count, Math.floor((Number(now() - t0) / 1e9) * rate) + 1);
      while (k < due) queue.push(k++);
      pump();
      if (k < count) setTimeout(tick, Math.max(0, (k / rate) * 1e3 - Number(now() - t0) / 1e6));
    };
    tick();
  });
}
async function drain(expected) {
  let last = -1;
  while (recv !== last && recv < expected) { last = recv; await new Promise((r) => setTimeout(r, 2000)); }
}

(async () => {
  if (proto === 'tandem') await tandemSetup();
  const s0 = procStat(pid);
  const open = proto === 'tandem' ? (j) => tandemOpen(j % sample === 0 ? tandemTimed : tandemCount) : (j) => sioOpen(j % sample === 0 ? sioTimed : sioCount);
  const subs = [];
  for (let i = 0; i < N; i += 100) { const batch = []; for (let j = i; j < Math.min(N, i + 100); j++) batch.push(open(j)); subs.push(...(await Promise.all(batch))); }
  await new Promise((r) => setTimeout(r, 1000));
  const s1 = procStat(pid);
  const out = { proto, N, rate, count };
  if (idle) {
    await new Promise((r) => setTimeout(r, idle * 1000));
    const s2 = procStat(pid);
    Object.assign(out, { idle_s: idle, rss_before_kib: s0.rss, rss_kib: s2.rss, rss_per_socket_b: Math.round(((s2.rss - s0.rss) * 1024) / N), resyncs: odd.resyncs, error_frames: odd.errors });
    console.log(JSON.stringify(out)); process.exit(0);
  }
  const rtt = [];
  let ok = 0, failed = 0; const failures = [];
  const cA = procStat(pid), gA = process.cpuUsage();
  let send, lanes;
  if (proto === 'tandem') {
    const fields = ['notes', 'office_location', 'sector'].slice(0, Math.max(1, Math.min(3, +(A.lanes || 3))));
    const prev = fields.map(() => null);
    lanes = fields.length;
    send = async (lane, k, t0, done) => {
      const ts = now(), value = `${k}:${ts}`, field = fields[lane];
      const r = await post('update_record', { slug: T.slug, kind: 'customer', id: T.id, changes: { [field]: { base: prev[lane], value } } });
      rtt.push(Number(now() - ts) / 1e6);
      if (r.status === 200) { ok++; prev[lane] = value; } else { failed++; if (failures.length < 3) failures.push(`${r.status} ${r.text.slice(0, 160)}`); }
      done();
    };
  } else {
    const pub = await sioOpen(() => {});
    const pad = 'x'.repeat(Math.max(0, size - 40));
    lanes = 1;
    send = (lane, k, t0, done) => { pub.send(`42["pub",{"s":${k},"t":"${now()}","p":"${pad}"}]`); ok++; done(); };
  }
  const t0 = await schedule(lanes, send);
  const tWrites = now();
  await drain(N * ok);
  const cB = procStat(pid), gB = process.cpuUsage(gA);
  const span = Number(tLastRecv - t0) / 1e9, sorted = lat.subarray(0, nl).sort(), R = Float64Array.from(rtt).sort();
  Object.assign(out, {
    writes_ok: ok, writes_failed: failed, writes_per_s: f2(ok / (Number(tWrites - t0) / 1e9)),
    write_ms: { p50: f2(pct(R, 50)), p99: f2(pct(R, 99)) },
    expected: N * ok, received: recv, loss_pct: f2(100 * (1 - recv / (N * ok))), delivered_per_s: Math.round(recv / span),
    lat_ms: { p50: f2(pct(sorted, 50) / 1000), p99: f2(pct(sorted, 99) / 1000), max: f2(sorted[nl - 1] / 1000) },
    resyncs: odd.resyncs, error_frames: odd.errors, other_frames: odd.other, sampled_gaps: odd.gaps, event_frame_bytes: largestFrame,
  });
  // The generator's own CPU: when it nears the span, the generator (one core) is the bound.
  Object.assign(out, { generator_cpu_s: f2((gB.user + gB.system) / 1e6), generator_us_per_delivery: f2((gB.user + gB.system) / recv), span_s: f2(span) });
  if (cA) Object.assign(out, { server_cpu_s: f2(cB.cpu - cA.cpu), server_us_per_delivery: f2(((cB.cpu - cA.cpu) * 1e6) / recv), server_rss_kib: cB.rss, server_rss_idle_kib: s1.rss });
  if (failures.length) out.failures = failures;
  if (odd.first.length) out.odd_frames = odd.first;
  if (A.showframe) out.sample_frame = sampleFrame;
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error('ERR', e.message); process.exit(1); });
