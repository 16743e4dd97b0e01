'use strict';
// The soak: `node bench/soak.js [--minutes 10] [--connections 5000]` after `npm run build`.
// Two nestjs-mesh nodes (servers/soak.js, one process each) share a private redis-server; two
// load generators (soak-load.js) hold the MeshClient connections, spread over both nodes, each
// client echoing at a steady low rate and sitting in rooms whose members are on both nodes; a
// driver in this process broadcasts to those rooms at a steady rate. Prints a line after the
// warm-up, one per minute and one at the end; exits 1 if anything was lost, duplicated or errored.
const { spawn, fork } = require('node:child_process');
const { createInterface } = require('node:readline');
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const os = require('node:os');
const { WebSocket } = require('ws');
const { cpuMicros, freePort, waitForPort, startRedis, stop, arg, nowMs, Histogram } = require('./common');
const { wallMs } = require('./servers/drive');

const DIST_CLIENT = join(__dirname, '../dist/client/index.js');
const KB = 1024;
const MB = 1024 * 1024;

function intArg(name, fallback, min, max) {
  const raw = arg(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return value;
}

const opts = {
  minutes: intArg('minutes', 10, 1, 24 * 60),
  connections: intArg('connections', 5000, 20, 20_000),
  warmupSeconds: intArg('warmup', 30, 5, 600),
  echoIntervalMs: intArg('echo-interval', 5000, 100, 60_000), // per client
  broadcastsPerSecond: intArg('broadcasts', 100, 1, 1000), // in total, round-robin over the rooms
  roomSize: intArg('room-size', 50, 2, 1000),
  roomsPerClient: intArg('rooms-per-client', 2, 1, 16), // the server allows 128
  generators: intArg('generators', 2, 1, 8),
};
const COMMAND_TIMEOUT_MS = 10_000;
// A broadcast acknowledged this long ago must have reached every member (delivery p99 is ms).
const DELIVERY_GRACE_MS = 5_000;
// The driver's broadcasts in flight, over its two node connections (the server allows 256 per
// connection; at the default rate this is ~2 s of a stalled node); beyond that it skips a slot
// (reported as "behind") rather than pile up.
const DRIVER_MAX_IN_FLIGHT = 200;
const CONNECT_BATCH = 50; // concurrent connects per generator
const HARD_DEADLINE_MS = (opts.warmupSeconds + opts.minutes * 60 + 900) * 1000;

// ---- the plan: which node and rooms each connection gets ------------------------------------

/**
 * Connection i goes to node i % 2; connections 2p and 2p+1 (one per node) share their rooms,
 * so every room has members on both nodes. Each pair's k-th room is (p + k * offset) mod rooms.
 */
function makePlan({ connections, roomSize, roomsPerClient }, ports) {
  const roomCount = Math.max(roomsPerClient, Math.round((connections * roomsPerClient) / roomSize));
  const rooms = Array.from({ length: roomCount }, (_, r) => `soak:${r}`);
  const offset = Math.floor(roomCount / roomsPerClient);
  const specs = Array.from({ length: connections }, (_, index) => {
    const pair = Math.floor(index / 2);
    const mine = Array.from({ length: roomsPerClient }, (_, k) => rooms[(pair + k * offset) % roomCount]);
    return { index, port: ports[index % 2], rooms: mine };
  });
  const nodesOf = new Map(rooms.map((room) => [room, new Set()]));
  for (const spec of specs) for (const room of spec.rooms) nodesOf.get(room).add(spec.port);
  const oneNode = rooms.filter((room) => nodesOf.get(room).size < 2);
  if (oneNode.length) throw new Error(`rooms with members on one node only: ${oneNode.slice(0, 5).join(', ')} (more connections or larger rooms)`);
  return { rooms, specs };
}

// ---- processes -------------------------------------------------------------------------------

// SOAK_PROF=<dir>: the server nodes and load generators write V8 CPU profiles there.
const profFlags = () => (process.env.SOAK_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SOAK_PROF}`] : []);

/** A server node; its log lines are printed with a prefix and counted (a clean soak logs none). */
function startNode(name, port, env, logs) {
  const child = spawn(process.execPath, [...profFlags(), '--expose-gc', join(__dirname, 'servers/soak.js')], {
    env: { ...process.env, ...env, PORT: String(port), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      logs.count++;
      if (logs.count <= 20) console.log(`  [${name}] ${line}`);
      else if (logs.count === 21) console.log(`  [${name}] (further server log lines are counted, not printed)`);
    });
  }
  return child;
}

let askId = 0;
/** A request to a load generator over IPC, answered or failed within `timeoutMs`. */
function ask(generator, type, body = {}, timeoutMs = 30_000) {
  const id = ++askId;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      generator.off('message', onMessage);
      generator.off('exit', onExit);
    };
    const onMessage = (message) => {
      if (message.id !== id) return;
      done();
      if (message.ok) resolve(message.result);
      else reject(new Error(`load generator ${generator.pid}, ${type}: ${message.error}`));
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`load generator ${generator.pid} exited (${signal ?? code}) during ${type}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`load generator ${generator.pid} did not answer ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    generator.on('message', onMessage);
    generator.on('exit', onExit);
    generator.send({ id, type, ...body });
  });
}

// ---- the broadcast driver ----------------------------------------------------------------------

/**
 * Broadcasts `tick {room, seq, ts}` at a steady total rate, round-robin over the rooms, each
 * room's broadcasts alternating between the two nodes (so every room sees both a local and a
 * remote origin). Remembers when each (room, seq) was acknowledged, to tell the generators
 * which seqs every member must have received by now.
 */
class Driver {
  constructor(clients, rooms, perSecond) {
    this.clients = clients;
    this.rooms = rooms;
    this.perSecond = perSecond;
    this.acked = rooms.map(() => []); // per room, per seq: ack time (ms), or -1 if it failed
    this.settled = rooms.map(() => 0); // per room: seqs below this are acked or failed
    this.failed = {};
    this.slots = 0;
    this.sent = 0;
    this.inFlight = 0;
    this.behind = 0;
    this.errors = 0;
    this.firstError = undefined;
  }

  start() {
    this.startedAt = nowMs();
    this.timer = setInterval(() => this.pace(), 10);
  }

  stop() {
    clearInterval(this.timer);
  }

  pace() {
    const due = Math.floor(((nowMs() - this.startedAt) * this.perSecond) / 1000);
    for (; this.slots < due; this.slots++) {
      if (this.inFlight >= DRIVER_MAX_IN_FLIGHT) this.behind++;
      else this.send(this.sent++);
    }
  }

  send(n) {
    const r = n % this.rooms.length;
    const room = this.rooms[r];
    const seq = Math.floor(n / this.rooms.length);
    const client = this.clients[(r + seq) % 2];
    this.inFlight++;
    client
      .command('broadcast', { room, seq, ts: wallMs() })
      .then((reply) => (reply === true ? nowMs() : Promise.reject(new Error(JSON.stringify(reply)))))
      .catch((error) => {
        this.errors++;
        this.firstError ??= `broadcast ${room} seq ${seq}: ${error.message}`;
        (this.failed[room] ??= []).push(seq);
        return -1;
      })
      .then((at) => {
        this.acked[r][seq] = at;
        this.inFlight--;
      });
  }

  /** Per room, how many seqs every member must have by now: all acked at least `graceMs` ago. */
  due(graceMs) {
    const cutoff = nowMs() - graceMs;
    const out = {};
    this.rooms.forEach((room, r) => {
      const acked = this.acked[r];
      while (acked[this.settled[r]] !== undefined && acked[this.settled[r]] <= cutoff) this.settled[r]++;
      out[room] = this.settled[r];
    });
    return out;
  }

  /** Waits (bounded by the command timeout) until no broadcast is in flight. */
  async settle() {
    const deadline = Date.now() + COMMAND_TIMEOUT_MS + 1000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.inFlight === 0;
  }
}

// ---- readings --------------------------------------------------------------------------------

const fmt = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? '–' : Number(value).toFixed(digits));
const pad = (text, width) => String(text).padStart(width);
const ERROR_KINDS = ['commandErrors', 'timeouts', 'disconnects', 'reconnects', 'clientErrors', 'strays'];

async function nodeStats(drivers) {
  return Promise.all(drivers.map((client) => client.command('stats', {}, { timeoutMs: COMMAND_TIMEOUT_MS, throwOnError: true })));
}

/** CPU of each watched process since the previous reading, in % of one core. */
function cpuMeter(pids) {
  let last = { at: nowMs(), cpu: pids.map((p) => (p === 'self' ? selfCpu() : cpuMicros(p))) };
  return () => {
    const now = { at: nowMs(), cpu: pids.map((p) => (p === 'self' ? selfCpu() : cpuMicros(p))) };
    const wallUs = (now.at - last.at) * 1000;
    const shares = now.cpu.map((c, i) => (100 * (c - last.cpu[i])) / wallUs);
    last = now;
    return shares;
  };
}
const selfCpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const HEADER =
  '| phase | errors | lost | dup | echo/s | echo p50 ms | echo p99 ms | deliveries/s | delivery p99 ms | node1 RSS / heap per conn | node2 RSS / heap per conn | CPU % node1 / node2 / redis / load / driver | longest event-loop stall ms node1 / node2 / load |';

function row(label, r) {
  const perConn = (n) => `${fmt(n.rssPerConn / KB, 1)} / ${fmt(n.heapPerConn / KB, 1)} KB`;
  return (
    `| ${label} | ${r.errors} | ${r.lost} | ${r.duplicates} | ${fmt(r.echoRate)} | ${fmt(r.echo.quantile(0.5), 2)} | ${fmt(r.echo.quantile(0.99), 2)} | ` +
    `${fmt(r.deliveryRate)} | ${fmt(r.delivery.quantile(0.99), 2)} | ${perConn(r.nodes[0])} | ${perConn(r.nodes[1])} | ` +
    `${r.cpu.map((c) => fmt(c)).join(' / ')} | ${fmt(r.nodes[0].loopMaxMs)} / ${fmt(r.nodes[1].loopMaxMs)} / ${fmt(Math.max(...r.loadLoopMaxMs))} |`
  );
}

// ---- the run ---------------------------------------------------------------------------------

async function main() {
  if (!existsSync(DIST_CLIENT)) throw new Error('dist/ is missing: run `npm run build` first');
  const { MeshClient } = require(DIST_CLIENT);
  const children = [];
  const hardStop = setTimeout(() => {
    console.error(`soak: still running after ${HARD_DEADLINE_MS / 1000} s, giving up`);
    for (const child of children) child.kill('SIGKILL');
    process.exit(2);
  }, HARD_DEADLINE_MS);
  hardStop.unref();

  const redis = await startRedis();
  children.push(redis.child);
  const logs = { count: 0 };
  const ports = await Promise.all([freePort(), freePort()]);
  const nodes = ports.map((port, i) => startNode(`node${i + 1}`, port, { REDIS_URL: redis.url, KEY_PREFIX: 'soak:' }, logs));
  children.push(...nodes);
  let nodeExit;
  const nodeDied = new Promise((_, reject) => (nodeExit = reject));
  nodeDied.catch(() => undefined);
  nodes.forEach((node, i) => node.once('exit', (code, signal) => nodeExit(new Error(`node${i + 1} exited (${signal ?? code}) during the soak`))));
  const generators = [];
  try {
    await Promise.all(ports.map((port) => waitForPort(port)));

    // One driver connection per node; it also reads the nodes' memory. Baseline: one connection each.
    const drivers = await Promise.all(ports.map(async (port) => {
      const client = new MeshClient(`ws://127.0.0.1:${port}/mesh`, { WebSocket, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      await client.connect();
      return client;
    }));
    const driverEvents = { disconnects: 0, reconnects: 0 };
    let stopping = false;
    for (const client of drivers) {
      client.on('disconnect', () => stopping || driverEvents.disconnects++);
      client.on('reconnect', () => stopping || driverEvents.reconnects++);
    }
    const baseline = await nodeStats(drivers);

    const plan = makePlan(opts, ports);
    const share = Math.ceil(opts.connections / opts.generators);
    for (let g = 0; g < opts.generators; g++) {
      generators.push(fork(join(__dirname, 'soak-load.js'), [], { execArgv: profFlags(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    }
    children.push(...generators);
    const cpus = os.cpus();
    console.log(
      `Soak: ${opts.connections} connections over 2 nodes, ${opts.generators} load generators; echo every ${opts.echoIntervalMs} ms per client ` +
        `(${fmt((opts.connections * 1000) / opts.echoIntervalMs)}/s); ${plan.rooms.length} rooms of ~${opts.roomSize}, ${opts.roomsPerClient} per client, ` +
        `${opts.broadcastsPerSecond} broadcasts/s (~${fmt(opts.broadcastsPerSecond * ((opts.connections * opts.roomsPerClient) / plan.rooms.length))} deliveries/s); ` +
        `${opts.warmupSeconds} s warm-up, then ${opts.minutes} min.` +
        `${process.env.SOAK_SERVER_OPTIONS ? ` Server options: ${process.env.SOAK_SERVER_OPTIONS}.` : ''}\n` +
        `Machine: ${cpus.length} × ${cpus[0].model.trim()}, Node ${process.version}. Redis ${redis.url}, nodes pid ${nodes.map((n) => n.pid).join(', ')}.\n` +
        `Baseline (the driver's connection only; after a full GC): ` +
        baseline.map((b, i) => `node${i + 1} RSS ${fmt(b.rss / MB)} MB, heap ${fmt(b.heapUsed / MB, 1)} MB`).join('; ') + '.',
    );

    let started = nowMs();
    const startCpu = cpuMeter([...nodes.map((n) => n.pid), ...generators.map((g) => g.pid)]);
    const connected = await Promise.race([
      nodeDied,
      Promise.all(
        generators.map((generator, g) =>
          ask(generator, 'start', { specs: plan.specs.slice(g * share, (g + 1) * share), batch: CONNECT_BATCH, timeoutMs: COMMAND_TIMEOUT_MS }, 300_000),
        ),
      ),
    ]);
    const connectCpu = startCpu();
    const total = connected.reduce((sum, c) => sum + c.connected, 0);
    const connectSeconds = (nowMs() - started) / 1000;
    console.log(
      `Connected and joined: ${total} connections in ${fmt(connectSeconds, 1)} s (${fmt(total / connectSeconds)}/s; ` +
        `CPU % node1 / node2 / load: ${fmt(connectCpu[0])} / ${fmt(connectCpu[1])} / ${fmt(connectCpu.slice(2).reduce((a, b) => a + b, 0))}).`,
    );

    // Steady load from here on.
    const driver = new Driver(drivers, plan.rooms, opts.broadcastsPerSecond);
    await nodeStats(drivers); // starts the nodes' stall readings afresh: the connects are not part of the soak
    await Promise.all(generators.map((generator) => ask(generator, 'go', { intervalMs: opts.echoIntervalMs, total: opts.connections })));
    driver.start();
    const watched = [nodes[0].pid, nodes[1].pid, redis.child.pid, ...generators.map((g) => g.pid), 'self'];
    const cpu = cpuMeter(watched);
    const wholeCpu = cpuMeter(watched); // read once, at the end: the average over the soak
    started = nowMs();
    let windowStart = started;
    const rows = [];

    /** One line: counters so far, latencies and CPU over the window since the previous line. */
    const report = async (label, { final = false, stats, shares = cpu(), at = nowMs() } = {}) => {
      const nodeReadings = stats ?? (await nodeStats(drivers));
      const graceMs = final ? 0 : DELIVERY_GRACE_MS;
      const snapshots = await Promise.all(
        generators.map((generator) =>
          final
            ? ask(generator, 'drain', { due: driver.due(0), failed: driver.failed, deadlineMs: 15_000 }, 30_000)
            : ask(generator, 'snapshot', { due: driver.due(graceMs), failed: driver.failed }),
        ),
      );
      const seconds = (at - windowStart) / 1000;
      windowStart = at;
      const counters = {};
      for (const s of snapshots) for (const [k, v] of Object.entries(s.counters)) counters[k] = (counters[k] ?? 0) + v;
      const previous = rows.at(-1)?.counters ?? { echoes: 0, deliveries: 0 };
      const errorsByKind = Object.fromEntries(ERROR_KINDS.map((k) => [k, counters[k]]));
      errorsByKind.broadcastErrors = driver.errors;
      errorsByKind.driverDisconnects = driverEvents.disconnects + driverEvents.reconnects;
      errorsByKind.serverLogLines = logs.count;
      errorsByKind.offline = opts.connections - snapshots.reduce((sum, s) => sum + s.online, 0);
      const r = {
        counters,
        errorsByKind,
        errors: Object.values(errorsByKind).reduce((a, b) => a + b, 0),
        lost: snapshots.reduce((sum, s) => sum + s.lost, 0),
        lostExamples: snapshots.flatMap((s) => s.examples),
        firstErrors: Object.assign({}, ...snapshots.map((s) => s.firstErrors)),
        duplicates: counters.duplicates,
        echoRate: (counters.echoes - previous.echoes) / seconds,
        deliveryRate: (counters.deliveries - previous.deliveries) / seconds,
        echo: Histogram.merge(snapshots.map((s) => s.commandLatency)),
        delivery: Histogram.merge(snapshots.map((s) => s.deliveryLatency)),
        loadLoopMaxMs: snapshots.map((s) => s.loopMaxMs),
        nodes: nodeReadings.map((n, i) => {
          const conns = n.connections - baseline[i].connections;
          return { ...n, conns, rssPerConn: (n.rss - baseline[i].rss) / conns, heapPerConn: (n.heapUsed - baseline[i].heapUsed) / conns };
        }),
        cpu: [shares[0], shares[1], shares[2], shares.slice(3, 3 + generators.length).reduce((a, b) => a + b, 0), shares.at(-1)],
      };
      rows.push(r);
      console.log(row(label, r));
      if (r.errors || r.lost || r.duplicates) {
        const kinds = Object.entries(errorsByKind).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
        console.log(`    errors: ${kinds.join(', ') || 'none'}; first: ${JSON.stringify(r.firstErrors)}${driver.firstError ? `; ${driver.firstError}` : ''}`);
        if (r.lostExamples.length) console.log(`    lost, e.g.: ${r.lostExamples.slice(0, 5).join('; ')}`);
      }
      return r;
    };

    const until = (atMs) => Promise.race([nodeDied, new Promise((resolve) => setTimeout(resolve, Math.max(0, atMs - nowMs())))]);
    await until(started + opts.warmupSeconds * 1000);
    console.log(`\n${HEADER}\n|${'---|'.repeat(HEADER.split('|').length - 2)}`);
    const first = await report('start');
    const measuredFrom = nowMs();
    for (let minute = 1; minute < opts.minutes; minute++) {
      await until(measuredFrom + minute * 60_000);
      await report(`${minute} min`);
    }
    await until(measuredFrom + opts.minutes * 60_000);

    // The end: memory with every connection still open, then stop the load and let it drain.
    const endAt = nowMs();
    const endStats = await nodeStats(drivers);
    const endShares = cpu();
    const averageCpu = wholeCpu();
    driver.stop();
    const settled = await driver.settle();
    await Promise.all(generators.map((generator) => ask(generator, 'stopLoad', { deadlineMs: COMMAND_TIMEOUT_MS + 1000 }, COMMAND_TIMEOUT_MS + 5000)));
    const last = await report('end', { final: true, stats: endStats, shares: endShares, at: endAt });

    stopping = true;
    await Promise.all(generators.map((generator) => ask(generator, 'closeAll', { batch: 200 }, 60_000)));
    await Promise.all(drivers.map((client) => client.close()));

    const members = new Map(plan.rooms.map((room) => [room, 0]));
    for (const spec of plan.specs) for (const room of spec.rooms) members.set(room, members.get(room) + 1);
    const due = driver.due(0);
    const expected = plan.rooms.reduce((sum, room) => sum + members.get(room) * (due[room] - (driver.failed[room]?.length ?? 0)), 0);
    console.log(
      `\nBroadcasts: ${driver.sent} sent, ${driver.errors} failed${settled ? '' : `, ${driver.inFlight} never answered`}, ${driver.behind} slots skipped (driver behind); ` +
        `deliveries: ${last.counters.deliveries} of ${expected} expected; echoes: ${last.counters.echoes}.`,
    );
    const [n1, n2, redisCpu, ...rest] = averageCpu;
    console.log(
      `Average CPU over the soak, % of one core: node1 ${fmt(n1)}, node2 ${fmt(n2)}, redis ${fmt(redisCpu)}, load generators ${fmt(rest.slice(0, -1).reduce((a, b) => a + b, 0))}, driver ${fmt(rest.at(-1))} ` +
        `(${os.cpus().length} cores).`,
    );
    console.log(
      `Memory per connection, start → end: ` +
        last.nodes.map((n, i) => `node${i + 1} RSS ${fmt(first.nodes[i].rssPerConn / KB, 1)} → ${fmt(n.rssPerConn / KB, 1)} KB, heap ${fmt(first.nodes[i].heapPerConn / KB, 1)} → ${fmt(n.heapPerConn / KB, 1)} KB ` +
          `(RSS ${fmt(first.nodes[i].rss / MB)} → ${fmt(n.rss / MB)} MB, heap ${fmt(first.nodes[i].heapUsed / MB, 1)} → ${fmt(n.heapUsed / MB, 1)} MB, ${n.conns} connections)`).join('; ') + '.',
    );
    console.log(
      `Echo p99 start → end: ${fmt(first.echo.quantile(0.99), 2)} → ${fmt(last.echo.quantile(0.99), 2)} ms; delivery p99: ${fmt(first.delivery.quantile(0.99), 2)} → ${fmt(last.delivery.quantile(0.99), 2)} ms.`,
    );
    const ok = last.errors === 0 && last.lost === 0 && last.duplicates === 0 && settled;
    console.log(ok ? 'PASS: nothing lost, duplicated or errored.' : `FAIL: ${last.errors} errors, ${last.lost} lost, ${last.duplicates} duplicates.`);
    return ok ? 0 : 1;
  } finally {
    await Promise.all([...generators, ...nodes].map(stop));
    redis.child.kill('SIGKILL');
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
