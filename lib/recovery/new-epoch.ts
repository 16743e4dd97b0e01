import { randomBytes } from 'node:crypto';

/** A new stream's epoch: random, so a stream recreated after its history was lost never reuses one. */
export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}
