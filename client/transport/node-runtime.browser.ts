/** The browser build of `node-runtime.ts`: nothing (see there). */
import type { NodeRuntime } from './node-runtime';

export const nodeRuntime: NodeRuntime | undefined = undefined;
