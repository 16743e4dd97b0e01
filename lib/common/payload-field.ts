/** A field of a payload a client sent, whatever it sent: undefined unless the payload is an object that has it. */
export function field(payload: unknown, key: string): unknown {
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[key] : undefined;
}
