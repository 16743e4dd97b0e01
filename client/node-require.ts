import { MeshUnsupportedError } from './errors';

/** True in Node.js (the main thread or a worker), false in browsers. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Loads a Node-only module (`ws`, `worker_threads`) at run time through `module.require`, which
 * browser bundlers do not follow, so a browser build never needs these modules.
 */
export function nodeRequire<T>(id: string): T {
  if (!isNode() || typeof module === 'undefined' || typeof module.require !== 'function') {
    throw new MeshUnsupportedError(`The "${id}" module is only available in Node.js`);
  }
  return module.require(id) as T;
}

