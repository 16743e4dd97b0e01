import type { FuzzConnection } from './fuzz-connection';
import type { Rng } from './prng';
import { randomString } from './values';

export interface EchoResult {
  echoes: number;
  worstMs: number;
  problems: string[];
}

/**
 * A neighbour's ordinary traffic on the node under attack: one `echo` at a time, each checked
 * word for word, until `stop` is called. Its reply times show how much the fuzzing slows others.
 */
export function keepEchoing(bystander: FuzzConnection, rng: Rng): { stop(): Promise<EchoResult> } {
  const result: EchoResult = { echoes: 0, worstMs: 0, problems: [] };
  let running = true;
  const loop = (async () => {
    while (running && bystander.isOpen) {
      const text = randomString(rng, 40);
      const sentAt = Date.now();
      const reply = await bystander.request('echo', JSON.stringify(text)).catch((error: Error) => ({ payload: error.message }));
      result.worstMs = Math.max(result.worstMs, Date.now() - sentAt);
      if (reply.payload !== `echo: ${text}`) result.problems.push(`bystander: echo of ${JSON.stringify(text)} answered ${JSON.stringify(reply.payload)}`);
      result.echoes++;
      // Pacing: ordinary traffic, not a second flood.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return result;
    },
  };
}
