// What the scenario scripts of the published @prsm/realtime client share (each runs in its own
// Node process: the client is ESM only): a global WebSocket for it, a bounded wait, and the run
// that prints one `{ done, result }` (or `{ done, error }`) line for the test to read.
import { WebSocket } from 'ws';

globalThis.WebSocket ??= WebSocket; // Node 20 has no global WebSocket; the client needs one.
export const { RealtimeClient } = await import('@prsm/realtime/client');

/** Resolves once `check()` is true, polling every 20 ms; throws naming `what` after `ms`. */
export async function waitFor(check, what = 'a condition', ms = 8000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs the scenario named on the command line and exits with what it printed. */
export async function runScenario(scenarios, name) {
  try {
    const result = await scenarios[name]();
    console.log(JSON.stringify({ done: true, result }));
    process.exit(0);
  } catch (error) {
    console.log(JSON.stringify({ done: true, error: String(error?.stack ?? error) }));
    process.exit(1);
  }
}
