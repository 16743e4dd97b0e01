/**
 * What a record's topic carries: its new version and either its full value and the JSON Patch
 * from the previous one, or its deletion. Kept as text (`<version>\n<full>\n<patch>` or
 * `<version>\n-`) so that a node builds both kinds of frame by concatenation, without parsing the
 * value (JSON text never holds a raw newline).
 */
export type RecordMessage = { version: number; deleted: false; full: string; patch: string } | { version: number; deleted: true };

export function encodeRecordWrite(version: number, fullJson: string, patchJson: string): string {
  return `${version}\n${fullJson}\n${patchJson}`;
}

export function encodeRecordDelete(version: number): string {
  return `${version}\n-`;
}

/** Undefined for anything this node did not write in that shape. */
export function decodeRecordMessage(text: string): RecordMessage | undefined {
  const first = text.indexOf('\n');
  const version = Number(text.slice(0, first));
  if (first < 1 || !Number.isSafeInteger(version) || version < 0) return undefined;
  if (text.length === first + 2 && text[first + 1] === '-') return { version, deleted: true };
  const second = text.indexOf('\n', first + 1);
  if (second < 0) return undefined;
  return { version, deleted: false, full: text.slice(first + 1, second), patch: text.slice(second + 1) };
}
