import type { FuzzConnection } from './fuzz-connection';
import type { Limits } from './oracle';

/** How a connection that broke a hard rule ended. */
export interface ProbeResult {
  name: string;
  expectedCode: number;
  closeCode?: number;
  /** Replies by error code before the close. */
  replies: Record<string, number>;
  problems: string[];
}

type Open = (label: string) => Promise<FuzzConnection>;

async function probe(name: string, expectedCode: number, open: Open, act: (connection: FuzzConnection) => void | Promise<void>): Promise<ProbeResult> {
  const connection = await open(name);
  connection.expectClose = true;
  await act(connection);
  const closeCode = await connection.whenClosed();
  const problems = [...connection.problems];
  if (closeCode !== expectedCode) problems.push(`${name}: closed with ${closeCode}, expected ${expectedCode}`);
  return { name, expectedCode, closeCode, replies: Object.fromEntries(connection.replyCodes), problems };
}

/** Bursts a flood sends at most before it counts as never closed. */
const FLOOD_BURSTS = 20;
/** Longest wait for a burst's last reply (a deadline, past the connection's own reply deadline). */
const BURST_DEADLINE_MS = 5000;

/**
 * A client far over the rate limit: bursts of `frames` noops written at once, the next as soon as
 * the last one's reply came, until the socket is closed. The limiter answers ERATELIMIT once the
 * bucket is empty and closes with 1008 once the debt reaches another limit's worth, so `frames`
 * must exceed twice the limit (three times leaves room for the refill while they are written).
 * A node slowed down by other work may read one burst over longer than the refill takes and
 * rightly not close: a flooder keeps going, so the probe does too (at most FLOOD_BURSTS bursts,
 * then it is a problem, not a hang). Replies that do come must come once each.
 */
export function flood(open: Open, limits: Limits, frames: number): Promise<ProbeResult> {
  return probe('flood', 1008, open, async (connection) => {
    let id = 0;
    const closed = connection.whenClosed();
    for (let burst = 0; burst < FLOOD_BURSTS && connection.isOpen; burst++) {
      let answered!: () => void;
      const lastAnswered = new Promise<void>((resolve) => (answered = resolve));
      for (let i = 1; i <= frames; i++) {
        connection.send({ data: `{"id":${++id},"command":"${limits.prefix}/noop","payload":{}}`, binary: false, kind: 'flood' }, i === frames ? () => answered() : undefined);
      }
      // A reply that never comes is the connection's problem at its deadline; the burst then goes on.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, BURST_DEADLINE_MS)));
      await Promise.race([lastAnswered, closed, deadline]);
      clearTimeout(timer);
    }
    // Still open: the close code (1006) is reported as not the expected 1008.
    if (connection.isOpen) await connection.terminate();
  }).then((result) => {
    if (!result.replies.ERATELIMIT) result.problems.push('flood: closed without a single ERATELIMIT reply first');
    return result;
  });
}

/** A frame over four times `maxPayload`: the socket is closed with 1009 rather than buffered. */
export function oversize(open: Open, limits: Limits): Promise<ProbeResult> {
  return probe('oversize', 1009, open, (connection) => {
    const frame = `{"id":1,"command":"echo","payload":"${'o'.repeat(4 * limits.maxPayload)}"}`;
    connection.send({ data: frame, binary: false, kind: 'oversize' });
  });
}

/** A text frame that is not UTF-8: RFC 6455 has the server fail the connection with 1007. */
export function invalidUtf8(open: Open, bytes: number[]): Promise<ProbeResult> {
  return probe('invalid-utf8', 1007, open, (connection) => {
    const data = Buffer.concat([Buffer.from('{"id":1,"command":"echo","payload":"'), Buffer.from(bytes), Buffer.from('"}')]);
    connection.socket.send(data, { binary: false });
  });
}
