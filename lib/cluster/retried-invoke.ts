import { ClientDisconnectedError, ClientNotFoundError, MeshRequestTimeoutError } from '../errors';

/** After a failed attempt, the next waits this long at first, then twice as long each time, up to the cap. */
const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An invoke that outlives its client's reconnects: `attempt` (an invoke with one idempotency key,
 * given the time left) is made again whenever the client's socket closed before it answered, or
 * the client is gone from the registry after that, until the deadline. The key lets a client
 * that supports it answer a repeat without running its handler again. A client not registered
 * at the first attempt fails at once (`ClientNotFoundError`): it is not a reconnect.
 */
export async function retriedInvoke<T>(attempt: (timeoutMs: number) => Promise<T>, clientId: string, type: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = FIRST_DELAY_MS;
  let dropped = false;
  for (;;) {
    try {
      return await attempt(deadline - Date.now());
    } catch (error) {
      if (!(error instanceof ClientDisconnectedError) && !(dropped && error instanceof ClientNotFoundError)) throw error;
      dropped = true;
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      // Less than a millisecond left cannot carry an attempt.
      if (deadline - Date.now() < 1) {
        throw new MeshRequestTimeoutError(`Client ${clientId} did not connect again within ${timeoutMs} ms to answer "${type}" (last: ${(error as Error).message})`);
      }
    }
  }
}
