'use strict';
// Helpers shared by the benchmark processes: /proc readings, latency summaries, small utilities.
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');

const CLOCK_TICK_US = 10_000; // USER_HZ is 100 on Linux: one tick is 10 ms.

/** CPU time (user + system) a process has used, in microseconds. */
function cpuMicros(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
}

/** Resident memory now and at its peak, in bytes. */
function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

function summarize(latencies) {
  if (latencies.length === 0) return { p50: null, p99: null, max: null };
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/**
 * Latencies in ms as counts per bucket, each bucket 2 % wider than the one before (from 10 µs):
 * small enough to send between processes once a minute, and mergeable, so percentiles over
 * several load generators are exact up to the bucket width. Percentiles report the bucket's
 * upper bound; max is exact.
 */
class Histogram {
  static MIN_MS = 0.01;
  static GROWTH = Math.log(1.02);

  constructor() {
    this.counts = new Map();
    this.count = 0;
    this.max = 0;
  }

  record(ms) {
    const bucket = ms <= Histogram.MIN_MS ? 0 : Math.ceil(Math.log(ms / Histogram.MIN_MS) / Histogram.GROWTH);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** Plain data for process.send(). */
  toJSON() {
    return { counts: [...this.counts], count: this.count, max: this.max };
  }

  static merge(parts) {
    const merged = new Histogram();
    for (const part of parts) {
      for (const [bucket, n] of part.counts) merged.counts.set(bucket, (merged.counts.get(bucket) ?? 0) + n);
      merged.count += part.count;
      merged.max = Math.max(merged.max, part.max);
    }
    return merged;
  }

  /** The latency that a fraction `q` of the samples did not exceed (null when empty). */
  quantile(q) {
    if (this.count === 0) return null;
    const rank = Math.ceil(this.count * q);
    let seen = 0;
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(bucket);
      if (seen >= rank) return Math.min(this.max, Histogram.MIN_MS * Math.exp(bucket * Histogram.GROWTH));
    }
    return this.max;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts TCP connections on the port. */
async function waitForPort(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

/**
 * A private redis-server on a free port (no persistence); kill `child` when done. `wrap` may turn
 * the command into another (`pinning.js` puts it on a core).
 */
async function startRedis(wrap = (command, args) => [command, args]) {
  const port = await freePort();
  const [command, args] = wrap('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const child = spawn(command, args, { stdio: 'ignore' });
  await waitForPort(port);
  return { child, url: `redis://127.0.0.1:${port}` };
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/**
 * The result a load generator process prints as its last stdout line (JSON), killed after
 * `timeoutMs`; rejects if it exits with an error.
 */
async function loadResult(load, timeoutMs) {
  let out = '';
  load.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => load.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((resolve) => load.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop());
}

/** A load generator's ending: its result as one JSON line on stdout, then exit (1 on error). */
function reportAndExit(running) {
  running
    .then((result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}

/** The value after `--name` on the command line, if any. */
function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** ~100 bytes of JSON payload. */
const ECHO_PAYLOAD = { text: 'x'.repeat(64), n: 12345, ok: true };

/** Answers the parent process's `{ reqId, op, ... }` messages with `ops[op](message)`: `{ reqId, result }` or `{ reqId, error }`. */
function serveIpc(ops) {
  process.on('message', async (message) => {
    const { reqId, op } = message;
    try {
      process.send({ reqId, result: (await ops[op](message)) ?? null });
    } catch (error) {
      process.send({ reqId, error: String(error?.stack ?? error) });
    }
  });
}

module.exports = { serveIpc, cpuMicros, memory, summarize, sleep, nowMs, freePort, waitForPort, startRedis, stop, arg, loadResult, reportAndExit, Histogram, ECHO_PAYLOAD };
