import type { Connection } from '../../lib/connection/connection';
import { Heartbeat } from '../../lib/transport/heartbeat';
import { SocketState } from '../../lib/transport/socket-state';

/** Stands in for a Connection: the heartbeat only writes to it and reads its latency. */
function recordingConnection(onPing: () => void): SocketState {
  return new SocketState({ latency: 0, sendRaw: () => (onPing(), true), terminate: () => undefined, recordLatency: () => undefined } as unknown as Connection);
}

const busyFor = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

describe('Heartbeat schedule', () => {
  it('keeps each connection pinged every pingInterval on average even when every tick runs late', async () => {
    const interval = 320;
    const heartbeat = new Heartbeat({ pingInterval: interval, latencyInterval: 3_600_000, maxMissedPongs: 1_000 });
    const pingsOfFirst: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    // One connection per slice; each write stalls the loop 5 ms, so every tick ends 5 ms late.
    for (let i = 0; i < 16; i++) {
      heartbeat.track(
        recordingConnection(() => {
          busyFor(5);
          if (i === 0 && pingsOfFirst.push(Date.now()) === 11) done();
        }),
      );
    }
    heartbeat.start();
    try {
      await finished;
    } finally {
      heartbeat.stop();
    }
    // Ten gaps: 3,200 ms on a fixed schedule; a timer restarted after each late tick would drift
    // by 16 × 5 ms a round (4,000 ms). One round of slack covers a loaded machine's last delay.
    const tenGaps = pingsOfFirst[10] - pingsOfFirst[0];
    expect(tenGaps).toBeGreaterThanOrEqual(10 * interval - 20);
    expect(tenGaps).toBeLessThan(11 * interval);
  });
});
