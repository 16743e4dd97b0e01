'use strict';
// Helpers shared by the benchmark processes: /proc readings, latency summaries, small utilities.
const fs = require('node:fs');
const net = require('node:net');

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

/** ~100 bytes of JSON payload. */
const ECHO_PAYLOAD = { text: 'x'.repeat(64), n: 12345, ok: true };

module.exports = { cpuMicros, memory, summarize, sleep, nowMs, freePort, waitForPort, ECHO_PAYLOAD };
