import type { FrameGenerator } from './frames';
import type { FuzzConnection } from './fuzz-connection';
import { expectationOf, type Limits } from './oracle';

/**
 * Connections that vanish mid-work: each fires a burst of generated frames (joins, subscriptions,
 * metadata, invokes among them) and drops its TCP connection with requests still in flight, no
 * closing handshake; every other one does it before the node has even registered it (before
 * `<p>/assign-id`). The node must clean up after each as after any close (`audit` checks).
 * `broadcast` frames are left out: an announcement whose confirmation was never read could not
 * be told apart from an unasked push at the bystander.
 */
export async function churn(open: (index: number, waitForId: boolean) => Promise<FuzzConnection>, generatorFor: (index: number) => FrameGenerator, limits: Limits, connections: number, frames: number): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < connections; i++) {
    const connection = await open(i, i % 2 === 0);
    const generator = generatorFor(i);
    for (let n = 0; n < frames; n++) {
      const frame = generator.next();
      if (frame.heavy || expectationOf(frame.data, frame.binary, limits).command === 'broadcast') continue;
      connection.send(frame);
    }
    await connection.terminate();
    problems.push(...connection.problems);
  }
  return problems;
}
