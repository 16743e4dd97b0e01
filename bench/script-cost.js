'use strict';
// What Redis itself adds to a recoverable publish: the round trip of one EVALSHA of the library's
// stream-append.lua against one PUBLISH of the same message, over a bare TCP socket (hand-written
// RESP, no ioredis, no library code), on a private redis-server with two subscribers on the
// channel, as the channel workloads' two nodes. Alternating the commands one at a time:
// - idle: a 5 ms pause before each command (the paced workloads' rate), so each one wakes an
//   idle Redis, as at 200 messages/s;
// - busy: back to back.
// Also two stand-ins that split the script's cost: an EVALSHA whose script only PUBLISHes, and a
// plain XADD. Pinned as bench/run.js pins (this process where the server nodes run, Redis on
// its own core). `npm run build && node bench/script-cost.js [--count 6000] [--rounds 3]`.
const net = require('node:net');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { spawn } = require('node:child_process');
const { startRedis, summarize, sleep, arg } = require('./common');
const { corePlan, onCore } = require('./pinning');

const COUNT = Number(arg('count') ?? 6000);
const ROUNDS = Number(arg('rounds') ?? 3);
const MESSAGE = 'x'.repeat(100);

const resp = (...parts) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(String(p))}\r\n${p}\r\n`).join('')}`;

/** One connection that sends a command and waits for its whole reply (one reply in flight at a time). */
async function connection(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let pending;
  let buffered = '';
  socket.on('data', (chunk) => {
    // A subscriber's pushes, with no command waiting: not kept.
    if (!pending) return;
    buffered += chunk.toString('latin1');
    if (complete(buffered)) {
      const { resolve } = pending;
      pending = undefined;
      const reply = buffered;
      buffered = '';
      resolve(reply);
    }
  });
  return {
    send: (text) => new Promise((resolve) => ((pending = { resolve }), socket.write(text))),
    close: () => socket.destroy(),
  };
}

/** Whether `text` holds one whole RESP reply (the replies here: simple, integer, bulk, or an array of those). */
function complete(text) {
  let at = 0;
  const line = () => {
    const end = text.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const value = text.slice(at, end);
    at = end + 2;
    return value;
  };
  const one = () => {
    const head = line();
    if (head === undefined) return false;
    if (head[0] === '$') {
      const length = Number(head.slice(1));
      if (length < 0) return true;
      if (text.length < at + length + 2) return false;
      at += length + 2;
      return true;
    }
    if (head[0] === '*') {
      for (let i = Number(head.slice(1)); i > 0; i--) if (!one()) return false;
      return true;
    }
    return true;
  };
  return one() && at === text.length;
}

async function round(port) {
  const admin = await connection(port);
  const load = async (source) => {
    const reply = await admin.send(resp('SCRIPT', 'LOAD', source));
    return reply.split('\r\n')[1];
  };
  const append = readFileSync(join(__dirname, '../dist/lib/state/redis/lua/stream-append.lua'), 'utf8');
  const appendSha = await load(append);
  const publishOnlySha = await load("redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1");
  // Two subscribers, as the two nodes of the channel workloads.
  const subscribers = await Promise.all([connection(port), connection(port)]);
  for (const s of subscribers) {
    await s.send(resp('SUBSCRIBE', 'plain'));
    await s.send(resp('SUBSCRIBE', 'stream'));
  }
  const commands = [
    ['PUBLISH', resp('PUBLISH', 'plain', MESSAGE)],
    ['EVALSHA stream-append.lua', resp('EVALSHA', appendSha, 2, '{c}:log', '{c}:position', 'epoch0', 1000, 300000, 86400000, 'PUBLISH', 'stream', MESSAGE)],
    ['EVALSHA of a script that only PUBLISHes', resp('EVALSHA', publishOnlySha, 0, 'stream', MESSAGE)],
    ['XADD (MAXLEN ~ 1000)', resp('XADD', 'x', 'MAXLEN', '~', 1000, '*', 'm', MESSAGE)],
  ];
  const client = await connection(port);
  const result = {};
  for (const [mode, pauseMs] of [['idle', 5], ['busy', 0]]) {
    const times = commands.map(() => []);
    for (let i = 0; i < COUNT + 400; i++) {
      const k = i % commands.length;
      if (pauseMs) await sleep(pauseMs);
      const started = performance.now();
      await client.send(commands[k][1]);
      if (i >= 400) times[k].push((performance.now() - started) * 1000);
    }
    result[mode] = times.map((t) => summarize(t).p50);
  }
  for (const c of [admin, client, ...subscribers]) c.close();
  return result;
}

async function main() {
  // Planned once, before this process moves itself onto the servers' core (from there it would see only that one).
  const plan = process.env.SCRIPT_COST_PLAN ? JSON.parse(process.env.SCRIPT_COST_PLAN) : corePlan('auto');
  if (plan.cores && !process.env.SCRIPT_COST_PLAN) {
    const [command, args] = onCore(plan.cores.servers, process.execPath, process.argv.slice(1));
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, SCRIPT_COST_PLAN: JSON.stringify(plan) } });
    child.on('exit', (code) => process.exit(code ?? 1));
    return;
  }
  const redis = await startRedis((command, args) => onCore(plan.cores?.redis, command, args));
  try {
    const port = Number(redis.url.split(':').pop());
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(port));
    const names = ['PUBLISH', 'EVALSHA stream-append.lua', 'EVALSHA of a script that only PUBLISHes', 'XADD (MAXLEN ~ 1000)'];
    const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const pinning = plan.cores ? `pinned with taskset: this process on CPU ${plan.cores.servers}, Redis on CPU ${plan.cores.redis}` : plan.note;
    console.log(`${pinning}; ${COUNT / names.length} of each command per mode, ${ROUNDS} round(s); round trip p50 in µs, the median of the rounds (lowest–highest)\n`);
    console.log('| command | idle (5 ms apart) | busy (back to back) | idle − PUBLISH | busy − PUBLISH |');
    console.log('|---|---|---|---|---|');
    const cell = (mode, k) => {
      const values = rounds.map((r) => r[mode][k]);
      return `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    };
    const over = (mode, k) => median(rounds.map((r) => r[mode][k] - r[mode][0])).toFixed(0);
    names.forEach((name, k) => console.log(`| ${name} | ${cell('idle', k)} | ${cell('busy', k)} | ${k ? over('idle', k) : '–'} | ${k ? over('busy', k) : '–'} |`));
  } finally {
    redis.child.kill('SIGKILL');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
