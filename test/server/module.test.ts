import { Controller, Injectable, Logger, Module } from '@nestjs/common';
import { MeshCommand, MeshError, MeshModule, MeshServer } from '../../lib';
import { RawClient } from '../support/raw-client';
import { startApp } from '../support/test-app';

@Injectable()
class UsesMesh {
  constructor(readonly mesh: MeshServer) {}
}

/** A feature module that injects MeshServer without importing anything. */
@Module({ providers: [UsesMesh], exports: [UsesMesh] })
class FeatureModule {}

/** A feature module that imports the bare class, as Nest users often do. */
@Module({ imports: [MeshModule], providers: [UsesMesh] })
class ImportingFeatureModule {}

@Controller()
class Failing {
  @MeshCommand('bug')
  bug() {
    const value: { property?: unknown } | undefined = undefined;
    return value!.property;
  }

  @MeshCommand('out-of-stock')
  outOfStock() {
    throw new MeshError('Out of stock', 'ESTOCK');
  }

  @MeshCommand('plain')
  plain() {
    throw new Error('unexpected');
  }
}

describe('MeshModule', () => {
  it('is global by default: a feature module injects MeshServer without importing it', async () => {
    const t = await startApp({ memory: true, imports: [FeatureModule] });
    try {
      expect(t.app.get(UsesMesh).mesh).toBe(t.mesh);
    } finally {
      await t.close();
    }
  });

  it('a bare `imports: [MeshModule]` in a feature module adds nothing and fails nothing', async () => {
    const t = await startApp({ memory: true, imports: [ImportingFeatureModule] });
    try {
      expect(t.app.get(UsesMesh).mesh).toBe(t.mesh);
    } finally {
      await t.close();
    }
  });

  it('refuses unknown options at start-up, naming them', async () => {
    await expect(startApp({ memory: true, mesh: { bogus: 1, pingIntervall: 5 } as never })).rejects.toThrow('Unknown MeshModule options "bogus", "pingIntervall"');
  });

  it('logs where the endpoint is once it mounts', async () => {
    const logs = jest.spyOn(Logger.prototype, 'log');
    const t = await startApp({ memory: true });
    try {
      expect(logs.mock.calls.map(([message]) => String(message))).toContain(`Mesh endpoint on path /mesh of the app's HTTP server: prefix "mesh", in-memory (one process) state, node 1`);
    } finally {
      logs.mockRestore();
      await t.close();
    }
  });

  it('logs a bug once with its stack, a plain Error once, and a domain error with a code not at all', async () => {
    const t = await startApp({ memory: true, controllers: [Failing] });
    const errors = jest.spyOn(Logger.prototype, 'error');
    try {
      const client = await RawClient.connect(t.url);
      expect(await client.command('bug')).toEqual({ error: 'Internal server error', code: 'ESERVER', name: 'InternalError' });
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0][0])).toMatch(/^TypeError in a command: /);
      expect(errors.mock.calls[0][1]).toEqual(expect.stringContaining('at Failing.bug'));
      errors.mockClear();
      expect(await client.command('out-of-stock')).toEqual({ error: 'Out of stock', code: 'ESTOCK', name: 'MeshError' });
      expect(errors).not.toHaveBeenCalled();
      expect(await client.command('plain')).toEqual({ error: 'unexpected', code: 'ESERVER', name: 'Error' });
      expect(errors).toHaveBeenCalledTimes(1);
      await client.close();
    } finally {
      errors.mockRestore();
      await t.close();
    }
  });
});
