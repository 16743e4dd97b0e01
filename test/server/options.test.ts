import { MESH_OPTION_DEFAULTS } from '../../lib/interfaces/mesh-module-options.interface';
import { resolveMeshOptions } from '../../lib/mesh-options';

/** Option resolution is a pure function: checked here without booting Nest. */
describe('resolveMeshOptions', () => {
  it('applies the documented defaults, safe ones included', () => {
    expect(resolveMeshOptions({})).toMatchObject({
      ...MESH_OPTION_DEFAULTS,
      rateLimit: { limit: 10000, windowMs: 1000 },
      maxInFlight: 256,
      maxPayloadDepth: 64,
      maxBufferedAmount: 4 * 1024 * 1024,
      maxChannelsPerConnection: 128,
      maxRoomsPerConnection: 128,
      maxNameLength: 256,
      maxHistoryLimit: 100,
      maxClientMetadataBytes: 16384,
      historyTtl: 0,
      allowClientMetadataReads: false,
      allowClientMetadataWrites: false,
    });
    expect(resolveMeshOptions({}).allowedOrigins).toBeUndefined();
  });

  it('rateLimit: false turns the limit off; a partial one is refused', () => {
    expect(resolveMeshOptions({ rateLimit: false }).rateLimit).toBe(false);
    expect(() => resolveMeshOptions({ rateLimit: { limit: 10 } as never })).toThrow('"rateLimit" needs both "limit" and "windowMs"');
    expect(() => resolveMeshOptions({ rateLimit: 'fast' as never })).toThrow('"rateLimit" must be { limit, windowMs } or false');
  });

  it.each([
    [{ keyPrefix: '' }, '"keyPrefix" must be a non-empty string'],
    [{ maxInFlight: 0 }, '"maxInFlight" must be a positive integer'],
    [{ maxPayloadDepth: 1.5 }, '"maxPayloadDepth" must be a positive integer'],
    [{ maxChannelsPerConnection: -1 }, '"maxChannelsPerConnection" must be a positive integer'],
    [{ maxRoomsPerConnection: 0 }, '"maxRoomsPerConnection" must be a positive integer'],
    [{ maxNameLength: 0 }, '"maxNameLength" must be a positive integer'],
    [{ historyTtl: -5 }, '"historyTtl" must be a non-negative integer'],
    [{ allowedOrigins: [42] }, '"allowedOrigins" must be a string, a RegExp, a list of them, or a function'],
    [{ visibleMetadata: 'name' }, '"visibleMetadata" must be a function'],
  ])('refuses %j', (options, message) => {
    expect(() => resolveMeshOptions(options as never)).toThrow(message);
  });
});
