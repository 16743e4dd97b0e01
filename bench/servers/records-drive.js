'use strict';
// Server-side record writes for `records.js`, shared by both targets' nodes and driven over IPC
// (not over a client: a 5 s burst would outlive a client's command timeout, and the writes are
// what is measured, so no client should sit between the clock and the write).
const { serveIpc, summarize } = require('../common');
const { wallMs } = require('./drive');

/** In-flight paced writes past which a paced run stops launching (the node has fallen behind). */
const MAX_IN_FLIGHT = 500;

/**
 * Answers the runner's requests `{ reqId, op, ... }` with `{ reqId, result }` or `{ reqId, error }`.
 * `write(id, value, strategy)` resolves with the new version when the target returns one (else
 * undefined); `version(id)` reads the record's version; `from` names this node in the values.
 */
function serveRecordDrive({ write, version, from }) {
  let n = 0;
  const value = (phase) => ({ n: ++n, t: wallMs(), from, phase });

  /** `writers` closed loops for `durationMs`: each write starts when its loop's previous one resolved. */
  async function burst({ id, writers, durationMs, keepVersions }) {
    const durations = [];
    const versions = [];
    let ok = 0;
    let errors = 0;
    let firstError;
    const end = Date.now() + durationMs;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (Date.now() < end) {
          const started = performance.now();
          try {
            const v = await write(id, value('burst'), 'merge');
            ok++;
            durations.push(performance.now() - started);
            if (keepVersions && typeof v === 'number') versions.push(v);
          } catch (error) {
            errors++;
            firstError ??= String(error?.message ?? error);
          }
        }
      }),
    );
    const { p50, p99, max } = summarize(durations);
    return { ok, errors, firstError, versions: keepVersions ? versions : undefined, writeP50: p50, writeP99: p99, writeMax: max };
  }

  /**
   * Open loop: a write launched every 1000/rate ms whether or not the ones before resolved (a
   * slow write then shows in the latency of the writes behind it instead of slowing the rate).
   * `t` in the value is the write's launch time: what a subscriber's latency is measured from.
   */
  async function paced({ id, rate, durationMs }) {
    const interval = 1000 / rate;
    const count = Math.round((rate * durationMs) / 1000);
    const started = wallMs();
    const inFlight = new Set();
    const durations = [];
    let ok = 0;
    let errors = 0;
    let skipped = 0;
    let maxInFlight = 0;
    let firstError;
    for (let i = 0; i < count; i++) {
      const wait = started + i * interval - wallMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (inFlight.size >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      const t0 = performance.now();
      const p = write(id, value('paced'), 'merge').then(
        () => {
          ok++;
          durations.push(performance.now() - t0);
        },
        (error) => {
          errors++;
          firstError ??= String(error?.message ?? error);
        },
      );
      inFlight.add(p);
      maxInFlight = Math.max(maxInFlight, inFlight.size);
      void p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
    const { p50, p99, max } = summarize(durations);
    // Launch of the first write to the end of the last: longer than durationMs when the node fell behind.
    return { ok, errors, skipped, maxInFlight, firstError, elapsedMs: wallMs() - started, writeP50: p50, writeP99: p99, writeMax: max };
  }

  const ops = {
    init: ({ id, value: v }) => write(id, v, 'replace'),
    version: ({ id }) => version(id),
    burst,
    paced,
  };
  serveIpc(ops);
}

module.exports = { serveRecordDrive };
