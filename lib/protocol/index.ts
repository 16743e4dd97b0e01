/** The wire protocol, shared by the server and the client (docs/protocol.md). */
export * from './frame';
export * from './close-codes';
export * from './builtin-commands';
export * from './error-codes';
export * from './metadata-strategy';
export * from './collection-member';
