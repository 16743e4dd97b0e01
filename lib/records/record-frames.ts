import type { BuiltinCommandNames } from '../protocol';
import type { RecordMessage } from './record-message';

/**
 * The pushes of one record update, built by concatenation from the topic's JSON text (the value
 * is never parsed on its way through a node): `<prefix>/record-update` with `full` or `patch`,
 * and `<prefix>/record-deleted`.
 */
export class RecordFrames {
  constructor(private readonly names: BuiltinCommandNames) {}

  full(recordId: string, version: number, fullJson: string): string {
    return `{"command":${JSON.stringify(this.names.recordUpdate)},"payload":{"recordId":${JSON.stringify(recordId)},"full":${fullJson},"version":${version}}}`;
  }

  patch(recordId: string, version: number, patchJson: string): string {
    return `{"command":${JSON.stringify(this.names.recordUpdate)},"payload":{"recordId":${JSON.stringify(recordId)},"patch":${patchJson},"version":${version}}}`;
  }

  deleted(recordId: string, version: number): string {
    return `{"command":${JSON.stringify(this.names.recordDeleted)},"payload":{"recordId":${JSON.stringify(recordId)},"version":${version}}}`;
  }

  /** The frame a subscriber in `mode` gets for a message. */
  of(recordId: string, message: RecordMessage, mode: 'full' | 'patch'): string {
    if (message.deleted) return this.deleted(recordId, message.version);
    return mode === 'patch' ? this.patch(recordId, message.version, message.patch) : this.full(recordId, message.version, message.full);
  }
}
