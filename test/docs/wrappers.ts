/**
 * Wrappers for blocks a page marks as partial (`// (partial: <name>) ...` on their first line): the
 * code the block leaves out, so that it compiles as written. Each names what the block may use.
 */
export interface Wrapper {
  before: string;
  after: string;
}

const SERVER_IMPORTS = `import { Connection, ConnectionManager, MeshClientService, MeshError, MeshForbiddenError, MeshModule, MeshServer, MeshSessionTokens, MeshValidationError, sessionTokenOf, type MeshModuleOptions } from 'nestjs-mesh';
import type { IncomingMessage } from 'node:http';`;

export const WRAPPERS: Record<string, Wrapper> = {
  /** Inside an async method of an injectable that has the mesh's injectables, and a connection at hand. */
  server: {
    before: `${SERVER_IMPORTS}
declare const mesh: MeshServer;
declare const connections: ConnectionManager;
declare const clients: MeshClientService;
declare const conn: Connection;
declare const connectionId: string;
declare const tokens: MeshSessionTokens;
export async function snippet(): Promise<unknown> {`,
    after: `\n  return undefined;\n}`,
  },
  /** Module options: the block is the object given to `MeshModule.forRoot(...)`. */
  options: {
    before: `${SERVER_IMPORTS}
declare const tokens: MeshSessionTokens;
export const options: MeshModuleOptions = `,
    after: `;`,
  },
  /** Inside an async function with a connected client. */
  client: {
    before: `import { MeshClient, MeshCommandError, MeshConnectionLostError, MeshTimeoutError, isErrorPayload } from 'nestjs-mesh/client';
declare const client: MeshClient;
export async function snippet(): Promise<unknown> {`,
    after: `\n  return undefined;\n}`,
  },
};
