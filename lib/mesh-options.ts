import { MeshConfigurationError } from './errors';
import { MESH_OPTION_DEFAULTS, type MeshModuleOptions, type ResolvedMeshOptions } from './interfaces/mesh-module-options.interface';

export const MESH_RESOLVED_OPTIONS = Symbol('MESH_RESOLVED_OPTIONS');

function positiveInteger(name: string, value: number | undefined, allowZero = false): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new MeshConfigurationError(`MeshModule option "${name}" must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`);
  }
}

function validateAllowedOrigins(value: unknown): void {
  if (value === undefined || typeof value === 'function') return;
  const entries = Array.isArray(value) ? value : [value];
  for (const entry of entries) {
    if (typeof entry !== 'string' && !(entry instanceof RegExp)) {
      throw new MeshConfigurationError('MeshModule option "allowedOrigins" must be a string, a RegExp, a list of them, or a function');
    }
  }
}

/** The options that have no default. */
const OPTIONS_WITHOUT_DEFAULT: Array<Exclude<keyof MeshModuleOptions, keyof typeof MESH_OPTION_DEFAULTS>> = [
  'port',
  'redis',
  'allowedOrigins',
  'visibleMetadata',
  'authenticateConnection',
  'resolveClientId',
  'registryBackend',
  'clientInvokeFn',
];

/** Every option `MeshModuleOptions` declares. */
const KNOWN_OPTIONS = new Set<string>([...Object.keys(MESH_OPTION_DEFAULTS), ...OPTIONS_WITHOUT_DEFAULT]);

/** Applies defaults and rejects options that cannot work, with a message naming the option. */
export function resolveMeshOptions(options: MeshModuleOptions = {}): ResolvedMeshOptions {
  if (typeof options !== 'object' || options === null) throw new MeshConfigurationError('MeshModule options must be an object');
  // A misspelt option would otherwise be ignored silently, and its default (often the safe, closed one) used.
  const unknown = Object.keys(options).filter((key) => !KNOWN_OPTIONS.has(key));
  if (unknown.length) {
    throw new MeshConfigurationError(`Unknown MeshModule option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${[...KNOWN_OPTIONS].sort().join(', ')})`);
  }
  const resolved: ResolvedMeshOptions = { ...MESH_OPTION_DEFAULTS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  if (typeof resolved.path !== 'string' || !resolved.path.startsWith('/')) {
    throw new MeshConfigurationError(`MeshModule option "path" must start with "/", got ${JSON.stringify(resolved.path)}`);
  }
  if (typeof resolved.prefix !== 'string' || !/^[A-Za-z0-9_-]+$/.test(resolved.prefix)) {
    throw new MeshConfigurationError(`MeshModule option "prefix" must be letters, digits, "-" or "_", got ${JSON.stringify(resolved.prefix)}`);
  }
  // An empty prefix would put internal channels (`broadcast`, `node:<n>`) among user channel names.
  if (typeof resolved.keyPrefix !== 'string' || resolved.keyPrefix.length === 0) {
    throw new MeshConfigurationError('MeshModule option "keyPrefix" must be a non-empty string (internal keys and channels live under it)');
  }
  positiveInteger('port', resolved.port, true);
  if (resolved.port !== undefined && resolved.port > 65535) throw new MeshConfigurationError(`MeshModule option "port" must be at most 65535, got ${resolved.port}`);
  positiveInteger('pingInterval', resolved.pingInterval);
  positiveInteger('latencyInterval', resolved.latencyInterval);
  positiveInteger('maxMissedPongs', resolved.maxMissedPongs, true);
  positiveInteger('maxPayload', resolved.maxPayload);
  positiveInteger('maxBufferedAmount', resolved.maxBufferedAmount);
  positiveInteger('maxPayloadDepth', resolved.maxPayloadDepth);
  positiveInteger('maxInFlight', resolved.maxInFlight);
  positiveInteger('maxChannelsPerConnection', resolved.maxChannelsPerConnection);
  positiveInteger('maxRoomsPerConnection', resolved.maxRoomsPerConnection);
  positiveInteger('maxNameLength', resolved.maxNameLength);
  positiveInteger('maxHistoryLimit', resolved.maxHistoryLimit, true);
  positiveInteger('historyTtl', resolved.historyTtl, true);
  positiveInteger('maxClientMetadataBytes', resolved.maxClientMetadataBytes);
  positiveInteger('maxRecordsPerConnection', resolved.maxRecordsPerConnection);
  positiveInteger('maxCollectionsPerConnection', resolved.maxCollectionsPerConnection);
  positiveInteger('maxRecordBytes', resolved.maxRecordBytes);
  positiveInteger('maxTransactionOperations', resolved.maxTransactionOperations);
  positiveInteger('drainTimeout', resolved.drainTimeout, true);
  positiveInteger('nodeHeartbeatInterval', resolved.nodeHeartbeatInterval);
  positiveInteger('nodeTtl', resolved.nodeTtl);
  positiveInteger('invokeTimeout', resolved.invokeTimeout);
  positiveInteger('clientRouteCacheSize', resolved.clientRouteCacheSize, true);
  positiveInteger('idempotencyTtl', resolved.idempotencyTtl);
  positiveInteger('idempotencyLease', resolved.idempotencyLease);
  positiveInteger('idempotencyWaitTimeout', resolved.idempotencyWaitTimeout);
  positiveInteger('maxIdempotentResultBytes', resolved.maxIdempotentResultBytes);
  positiveInteger('maxIdempotencyKeysPerConnection', resolved.maxIdempotencyKeysPerConnection);
  for (const name of ['resolveClientId', 'clientInvokeFn', 'visibleMetadata'] as const) {
    if (resolved[name] !== undefined && typeof resolved[name] !== 'function') throw new MeshConfigurationError(`MeshModule option "${name}" must be a function`);
  }
  if (resolved.nodeTtl <= resolved.nodeHeartbeatInterval) {
    throw new MeshConfigurationError(`MeshModule option "nodeTtl" (${resolved.nodeTtl}) must be larger than "nodeHeartbeatInterval" (${resolved.nodeHeartbeatInterval})`);
  }
  if (resolved.rateLimit !== false) {
    if (typeof resolved.rateLimit !== 'object' || resolved.rateLimit === null) {
      throw new MeshConfigurationError('MeshModule option "rateLimit" must be { limit, windowMs } or false');
    }
    positiveInteger('rateLimit.limit', resolved.rateLimit.limit);
    positiveInteger('rateLimit.windowMs', resolved.rateLimit.windowMs);
    if (resolved.rateLimit.limit === undefined || resolved.rateLimit.windowMs === undefined) {
      throw new MeshConfigurationError('MeshModule option "rateLimit" needs both "limit" and "windowMs"');
    }
  }
  validateAllowedOrigins(resolved.allowedOrigins);
  if (resolved.authenticateConnection !== undefined && typeof resolved.authenticateConnection !== 'function') {
    throw new MeshConfigurationError('MeshModule option "authenticateConnection" must be a function');
  }
  return resolved;
}
