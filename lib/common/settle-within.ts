/** How a promise ended within a time limit: 'done', 'timeout', or the error it failed with. */
export type SettleOutcome = 'done' | 'timeout' | Error;

/** Waits for `promise` at most `ms` (it keeps running afterwards); never rejects. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<SettleOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([promise.then(() => 'done' as const, (error: Error) => error), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A readable reason for an outcome other than 'done'. */
export function describeOutcome(outcome: Exclude<SettleOutcome, 'done'>, ms: number): string {
  return outcome === 'timeout' ? `no answer within ${ms} ms` : outcome.message;
}
