'use strict';
// Server-side publisher for bench/sharded.js: broadcasts to a list of rooms, round-robin, at a
// fixed rate, for a fixed time. Each tick carries its room, a per-room sequence number and the
// send time, so the load generator can count losses, duplicates and latency.
const { wallMs } = require('./drive');

const TEXT = 'x'.repeat(64); // ~100-byte payload, as in the other workloads
const STEP_MS = 5;

/** Calls `send(room, payload)` `ratePerSecond` times a second over `rooms` for `durationMs`. */
async function driveRooms(send, { rooms, ratePerSecond, durationMs }) {
  const sent = Object.fromEntries(rooms.map((room) => [room, 0]));
  const limit = Math.floor((ratePerSecond * durationMs) / 1000);
  const started = performance.now();
  let total = 0;
  let failed = 0;
  while (total < limit) {
    const elapsed = performance.now() - started;
    if (elapsed > durationMs + 1000) break; // fell behind: stop on time rather than catch up forever
    const due = Math.min(limit, Math.floor((elapsed * ratePerSecond) / 1000));
    const batch = [];
    for (; total < due; total++) {
      const room = rooms[total % rooms.length];
      batch.push(Promise.resolve(send(room, { room, seq: sent[room]++, ts: wallMs(), text: TEXT })).catch(() => failed++));
    }
    await Promise.all(batch);
    await new Promise((resolve) => setTimeout(resolve, STEP_MS));
  }
  return { sent, total, failed, ms: performance.now() - started };
}

module.exports = { driveRooms };
