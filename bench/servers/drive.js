'use strict';
// Server-side loops shared by the targets: paced or burst fan-out, and the invoke driver.
const { summarize } = require('../common');

const wallMs = () => performance.timeOrigin + performance.now();

/** Deadline of one client-driven invoke (`invoke-client`), the same on every target. */
const INVOKE_TIMEOUT_MS = 5000;

/** Sends `count` ticks through `send(payload)`, every `intervalMs` (0: as fast as possible). */
async function fanout(send, { count, intervalMs }) {
  const started = wallMs();
  for (let seq = 0; seq < count; seq++) {
    if (intervalMs > 0) {
      const due = started + seq * intervalMs;
      const wait = due - wallMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await send({ seq, ts: wallMs() });
  }
  return { sent: count };
}

/** Calls `call(target)` with `concurrency` workers for `durationMs`, round-robin over targets. */
async function driveInvokes(call, { targets, concurrency, durationMs }) {
  const latencies = [];
  let ops = 0;
  let errors = 0;
  let next = 0;
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const target = targets[next++ % targets.length];
        const started = performance.now();
        try {
          await call(target);
          ops++;
          latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { ops, errors, ...summarize(latencies) };
}

/** Bytes of every channel message the `channel` workloads publish (JSON text). */
const CHANNEL_MESSAGE_BYTES = 100;

/** `{"tag":…,"seq":…,"ts":…,"pad":"xx…"}`, padded to CHANNEL_MESSAGE_BYTES. */
function channelMessage(tag, { seq, ts }) {
  const head = JSON.stringify({ tag, seq, ts });
  return `${head.slice(0, -1)},"pad":"${'x'.repeat(Math.max(0, CHANNEL_MESSAGE_BYTES - head.length - 9))}"}`;
}

/**
 * Publishes `count` channel messages through `publish(channel, text)`, one after another, every
 * `intervalMs` (0: as fast as each publish resolves); `ts` is taken just before each publish.
 * With `channels` (two names) instead of `channel`, messages alternate between them, the order
 * swapped every pair (a b, b a, a b, …), so neither channel always goes first.
 * Returns how long a publish took to resolve (ms, p50/p99), per channel under `byChannel`.
 */
async function publishDrive(publish, { channel, channels = [channel], tag, count, intervalMs }) {
  const durations = channels.map(() => []);
  await fanout(async (payload) => {
    const which = channels.length === 1 ? 0 : (payload.seq + Math.floor(payload.seq / 2)) % 2;
    const started = performance.now();
    await publish(channels[which], channelMessage(tag, payload));
    durations[which].push(performance.now() - started);
  }, { count, intervalMs });
  const byChannel = Object.fromEntries(channels.map((name, i) => [name, summarize(durations[i])]));
  const { p50, p99 } = summarize(durations.flat());
  return { sent: count, publishP50: p50, publishP99: p99, byChannel };
}

module.exports = { fanout, driveInvokes, publishDrive, channelMessage, wallMs, INVOKE_TIMEOUT_MS, CHANNEL_MESSAGE_BYTES };
