// Runs the fan-out scenarios for socket.io, the floor and Tandem side by side on this
// machine (server pinned to CPU0, generator to CPU1), repeated, and prints the table of the
// performance issue: burst deliveries/s, server CPU per delivery, p99 at 50k deliveries/s,
// writes/s into one room, RSS per idle socket, the event frame and the release WASM.
// The floor (`fanout_floor`) is the least any server can do here: each delivery one
// `write` of a frame built once, nothing else; its frames are padded to Tandem's size.
//
//   node matrix.js [--reps 2] [--only tandem|sio|floor] [--json results.json]
// Needs a release build in the repository (target/release/tandem, target/site and the
// generator and the floor, target/release/loadgen and fanout_floor); `run` makes them.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const http = require('http');

const A = {};
for (let i = 2; i < process.argv.length; i += 2) A[process.argv[i].slice(2)] = process.argv[i + 1];
const reps = +(A.reps || 2);
const here = __dirname, root = path.resolve(here, '../..');
const peers = A.only ? [A.only] : ['sio', 'floor', 'tandem'];

// a) 10 msg/s, b) 50 msg/s (50k deliveries/s), c) a burst of 200, w) writes with 1 subscriber,
// p) writes paced at 300 a second into the room of 1,000 (300k deliveries/s: the goal's own
// terms, where the burst's writes measure the most the room takes), d) 10,000 idle sockets.
// All with 1,000 subscribers but w and d.
const SCENARIOS = [
  { id: 'a', args: ['--n', '1000', '--rate', '10', '--secs', '20'] },
  { id: 'b', args: ['--n', '1000', '--rate', '50', '--secs', '20'] },
  { id: 'c', args: ['--n', '1000', '--rate', '0', '--count', '200', '--showframe', '1'] },
  { id: 'w', args: ['--n', '1', '--rate', '0', '--count', '2000', '--sample', '1'], only: 'tandem' },
  { id: 'p', args: ['--n', '1000', '--rate', '300', '--secs', '10'], only: 'tandem' },
  { id: 'd', args: ['--n', '10000', '--idle', '10'] },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function ready(port) {
  return new Promise((res) => {
    const req = http.get({ host: '127.0.0.1', port, path: port === 3001 ? '/socket.io/?EIO=4&transport=polling' : '/healthz', timeout: 1000 }, (r) => { r.resume(); res(r.statusCode < 500); });
    req.on('error', () => res(false));
    req.on('timeout', () => { req.destroy(); res(false); });
  });
}

/** Starts a peer pinned to CPU0; returns { proc, url, proto, cleanup }. */
async function startPeer(peer) {
  let proc, url, port, dir = null;
  if (peer === 'sio') {
    port = 3001;
    proc = spawn('taskset', ['-c', '0', 'node', path.join(here, 'sio_server.js')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
    url = `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
  } else if (peer === 'floor') {
    port = 3002;
    proc = spawn('taskset', ['-c', '0', path.join(root, 'target/release/fanout_floor'), '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
    url = `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
  } else {
    port = 3010;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-'));
    const env = { ...process.env, TANDEM_MAX_SOCKETS_PER_USER: '20000', TANDEM_MAX_SOCKETS_PER_IP: '20000', TANDEM_WRITES_PER_USER_PER_SECOND: '1000000', TANDEM_CALLS_PER_USER_PER_SECOND: '1000000', TANDEM_CONNECTS_PER_USER_PER_MINUTE: '1000000', DATABASE_URL: `sqlite://${dir}/t.db`, LEPTOS_SITE_ROOT: path.join(root, 'target/site'), RUST_LOG: 'warn' };
    proc = spawn('taskset', ['-c', '0', path.join(root, 'target/release/tandem'), 'serve', '--listen', `127.0.0.1:${port}`], { env, stdio: 'ignore', cwd: root });
    url = `http://127.0.0.1:${port}`;
  }
  for (let i = 0; i < 120 && !(await ready(port)); i++) await sleep(250);
  const cleanup = async () => {
    proc.kill('SIGTERM');
    for (let i = 0; i < 60 && proc.exitCode === null && proc.signalCode === null; i++) await sleep(250);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  return { proc, url, proto: peer === 'tandem' ? 'tandem' : 'sio', cleanup };
}

async function runOne(peer, scenario) {
  const p = await startPeer(peer);
  // The floor's payloads padded so that its frames are as large as Tandem's (~311 B).
  const size = peer === 'floor' ? ['--size', '310'] : [];
  const args = ['--proto', p.proto, '--url', p.url, '--pid', String(p.proc.pid), ...scenario.args, ...size];
  const r = spawnSync('taskset', ['-c', '1', path.join(root, 'target/release/loadgen'), ...args], { encoding: 'utf8', timeout: 240000 });
  await p.cleanup();
  const line = (r.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) { console.error(`${peer} ${scenario.id}: no result`, r.stderr || r.stdout); return null; }
  const out = JSON.parse(line);
  console.error(`  ${peer} ${scenario.id}: ${line.slice(0, 400)}`);
  return out;
}

const range = (xs, f = (x) => x) => {
  const v = xs.filter((x) => x !== undefined && x !== null && !Number.isNaN(x));
  if (!v.length) return 'n/a';
  const lo = Math.min(...v), hi = Math.max(...v);
  return lo === hi ? f(lo) : `${f(lo)}-${f(hi)}`;
};
const k = (x) => `${Math.round(x / 1000)}k`;

/** The release WASM, brotli-compressed: what the first page loads (the main module and the
 * JS glue) and, in a split build (`cargo leptos build --split`), what each lazy route adds
 * (its chunks, from `__wasm_split_manifest.json`). Each file counts as its `.br` copy when
 * the build wrote one (`--precompress`: what the server sends), else compressed here at
 * the same quality (11). */
function wasmSize() {
  const dir = path.join(root, 'target/site/pkg');
  if (!fs.existsSync(dir)) return 'n/a';
  const br = (f) => {
    const copy = path.join(dir, `${f}.br`);
    if (fs.existsSync(copy)) return fs.statSync(copy).size;
    return zlib.brotliCompressSync(fs.readFileSync(path.join(dir, f)), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  };
  const kb = (b) => `${Math.round(b / 1024)} KB`;
  const files = fs.readdirSync(dir).filter((f) => !/\.(br|gz)$/.test(f));
  const first = files.filter((f) => /^tandem(_bg)?\.(wasm|js)$/.test(f) || f.startsWith('__wasm_split.')).reduce((n, f) => n + br(f), 0);
  const all = files.filter((f) => f.endsWith('.wasm')).reduce((n, f) => n + br(f), 0);
  let routes = '';
  const manifest = path.join(dir, '__wasm_split_manifest.json');
  if (fs.existsSync(manifest)) {
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    routes = '; lazy routes add: ' + Object.entries(m).map(([name, chunks]) => {
      const route = name.replace(/^__/, '').replace(/_route_view_\d+$/, '');
      return `${route} +${kb(chunks.reduce((n, c) => n + br(`${c}.wasm`), 0))}`;
    }).join(', ');
  }
  return `${kb(first)} first page (${kb(all)} all WASM)${routes}`;
}

(async () => {
  const results = {};
  for (let rep = 1; rep <= reps; rep++) {
    for (const s of SCENARIOS) {
      for (const peer of peers) {
        if (s.only && s.only !== peer) continue;
        const out = await runOne(peer, s);
        (results[`${peer}.${s.id}`] ||= []).push(out || {});
      }
    }
  }
  if (A.json) fs.writeFileSync(A.json, JSON.stringify(results, null, 1));
  const get = (peer, id, f) => (results[`${peer}.${id}`] || []).map(f);
  const col = (peer) => ({
    burst: range(get(peer, 'c', (o) => o.delivered_per_s), k) + ` (loss ${range(get(peer, 'c', (o) => o.loss_pct))}%)`,
    // Per scenario: at 10 and 50 messages/s each delivery is a write of its own; in the
    // burst a socket's queued frames go out together.
    cpu: [['a', '10/s'], ['b', '50/s'], ['c', 'burst']].map(([id, name]) => `${name}: ${range(get(peer, id, (o) => o.server_us_per_delivery))}`).join(', ') + ' us',
    p99: range(get(peer, 'b', (o) => o.lat_ms && o.lat_ms.p99)) + ' ms',
    writes: peer === 'tandem'
      ? `${range(get(peer, 'w', (o) => o.writes_per_s), Math.round)} / ${range(get(peer, 'c', (o) => o.writes_per_s), Math.round)} (p99 ${range(get(peer, 'w', (o) => o.write_ms && o.write_ms.p99))} / ${range(get(peer, 'c', (o) => o.write_ms && o.write_ms.p99))} ms); `
        + `paced 300/s into 1,000: ${range(get(peer, 'p', (o) => o.delivered_per_s), k)} deliveries/s (loss ${range(get(peer, 'p', (o) => o.loss_pct))}%), write p99 ${range(get(peer, 'p', (o) => o.write_ms && o.write_ms.p99))} ms`
      : 'n/a',
    idle: range(get(peer, 'd', (o) => o.rss_per_socket_b && o.rss_per_socket_b / 1024), (x) => x.toFixed(1)) + ' KB',
    frame: range(get(peer, 'c', (o) => o.event_frame_bytes)) + ' B',
    wasm: peer === 'tandem' ? wasmSize() : '',
    // How busy the generator's one core was in the burst and at 50k deliveries/s: near
    // 100%, it would be the bound (its queue, not the server, would set the figures).
    generator: ['c', 'b'].map((id) => `${id === 'c' ? 'burst' : '50k/s'}: `
      + range(get(peer, id, (o) => o.generator_cpu_s && o.span_s && Math.round((100 * o.generator_cpu_s) / o.span_s))) + '% busy, '
      + range(get(peer, id, (o) => o.generator_us_per_delivery)) + ' us per delivery').join('; '),
  });
  const cols = Object.fromEntries(peers.map((p) => [p, col(p)]));
  const rows = [
    ['burst of 200 messages, deliveries/s', 'burst', '>= 300k, 0 loss'],
    ['server CPU per delivery', 'cpu', '<= 2 us'],
    ['50k deliveries/s, p99', 'p99', '<= 15 ms'],
    ['writes/s into one room: 1 subscriber / 1,000 subscribers, back to back (write p99); paced', 'writes', '>= 2,000 / >= 300 (300k deliveries/s), p99 <= 10 ms'],
    ['10,000 idle subscribed sockets, RSS each', 'idle', '<= 6 KB'],
    ['event frame for a one-field edit', 'frame', 'changed fields only'],
    ['release WASM (brotli)', 'wasm', 'first page <= 300 KB'],
    ['generator (loadgen, one core: CPU1)', 'generator', ''],
  ];
  const names = { sio: 'socket.io', floor: 'floor: one write per delivery', tandem: 'Tandem' };
  console.log(`| | ${peers.map((p) => names[p]).join(' | ')} | goal |`);
  console.log(`| --- | ${peers.map(() => '---').join(' | ')} | --- |`);
  for (const [label, key, goal] of rows) console.log(`| ${label} | ${peers.map((p) => cols[p][key]).join(' | ')} | ${goal} |`);
})();
