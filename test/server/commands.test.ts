import {
  APP_GUARD,
  APP_INTERCEPTOR,
} from '@nestjs/core';
import {
  Catch,
  Controller,
  ForbiddenException,
  Injectable,
  NotFoundException,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  ValidationPipe,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { MessageBody, ConnectedSocket } from '@nestjs/websockets';
import { IsEmail, IsString, MinLength } from 'class-validator';
import { map } from 'rxjs';
import {
  Connection,
  MeshCommand,
  MeshConnection,
  MeshContext,
  MeshError,
  MeshMiddleware,
  MeshModule,
  MeshPayload,
  type MeshCommandContext,
} from '../../lib';
import { RawClient } from '../support/raw-client';
import { redisUrl, sleep, startApp, uniquePrefix, type TestApp } from '../support/test-app';

const seen: string[] = [];

class ProfileDto {
  @IsString()
  @MinLength(1)
  name!: string;

  @IsEmail()
  email!: string;
}

@Injectable()
class OnlyAdmins implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    seen.push(`guard:${context.getType()}:${context.switchToWs().getPattern()}`);
    return context.switchToWs().getData()?.admin === true;
  }
}

@Injectable()
class GlobalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const data = context.switchToWs().getData();
    return !(data && typeof data === 'object' && data.blockedByGlobalGuard);
  }
}

@Injectable()
class Upper implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle().pipe(map((value) => (typeof value === 'string' ? value.toUpperCase() : value)));
  }
}

@Injectable()
class Tagging implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    seen.push(`interceptor:${context.getClass().name}.${context.getHandler().name}`);
    return next.handle();
  }
}

@Catch(NotFoundException)
class NotFoundToValue implements ExceptionFilter {
  catch(exception: NotFoundException, host: ArgumentsHost) {
    return { filtered: exception.message, type: host.getType() };
  }
}

@Controller()
@MeshMiddleware((ctx) => {
  seen.push(`class-mw:${ctx.command}`);
})
class DemoController {
  @MeshCommand('echo')
  echo(@MeshPayload() payload: unknown) {
    return `echo: ${String(payload)}`;
  }

  @MeshCommand('throws')
  throws() {
    throw new Error('Something went wrong');
  }

  @MeshCommand('throws-coded')
  throwsCoded() {
    throw new MeshError('Out of stock', 'ESTOCK', { sku: 'a1' });
  }

  @MeshCommand('throws-string')
  throwsString() {
    throw 'plain string';
  }

  @MeshCommand('bug')
  bug() {
    const value: any = undefined;
    return value.property;
  }

  @MeshCommand('nothing')
  nothing() {
    return undefined;
  }

  @MeshCommand('admin')
  @UseGuards(OnlyAdmins)
  admin() {
    return 'welcome';
  }

  @MeshCommand('profile')
  @UsePipes(new ValidationPipe({ transform: true }))
  profile(@MeshPayload() dto: ProfileDto) {
    return { ok: true, isDto: dto instanceof ProfileDto };
  }

  @MeshCommand('shout')
  @UseInterceptors(Upper)
  shout(@MeshPayload('text') text: string) {
    return text;
  }

  @MeshCommand('find')
  @UseFilters(NotFoundToValue)
  find() {
    throw new NotFoundException('no such thing');
  }

  @MeshCommand('who')
  who(@MeshConnection() connection: Connection, @MeshContext() ctx: MeshCommandContext, @MeshPayload() payload: unknown) {
    return { isConnection: connection instanceof Connection, id: connection.id, command: ctx.command, same: ctx.payload === payload, enriched: ctx.user };
  }

  @MeshCommand('nest-params')
  nestParams(@MessageBody() body: { n: number }, @ConnectedSocket() connection: Connection) {
    return { n: body.n, id: connection.id };
  }

  @MeshCommand('slow')
  async slow(@MeshPayload() ms: number) {
    await sleep(ms);
    return ms;
  }

  @MeshCommand('ordered')
  @MeshMiddleware((ctx) => {
    seen.push(`method-mw:${ctx.command}`);
  })
  @UseInterceptors(Tagging)
  ordered() {
    seen.push('handler');
    return 'done';
  }
}

describe('commands: decorators, Nest enhancers and the error replies on the wire', () => {
  let t: TestApp;
  let client: RawClient;

  beforeAll(async () => {
    t = await startApp({
      mesh: { keyPrefix: uniquePrefix() },
      controllers: [DemoController],
      providers: [{ provide: APP_GUARD, useClass: GlobalGuard }],
    });
    t.mesh.addMiddleware((ctx) => {
      seen.push(`global-mw:${ctx.command}`);
      ctx.user = 'attached-by-middleware';
    });
    t.mesh.registerCommand('add', (ctx) => (ctx.payload as { a: number; b: number }).a + (ctx.payload as { a: number; b: number }).b);
    t.mesh.registerCommand('mw-denies', () => 'never', [
      () => {
        throw new Error('unauthorized');
      },
    ]);
    client = await RawClient.connect(t.url);
  });

  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('answers a @MeshCommand with a frame that echoes id and command', async () => {
    const reply = await client.request('echo', 'Hello, World!', 41);
    expect(reply).toEqual({ id: 41, command: 'echo', payload: 'echo: Hello, World!' });
  });

  it('accepts string ids and echoes them', async () => {
    expect(await client.request('echo', 'x', 'req-1')).toEqual({ id: 'req-1', command: 'echo', payload: 'echo: x' });
  });

  it('ESERVER for a thrown Error, exactly as the protocol and the seed say', async () => {
    expect(await client.command('throws')).toEqual({ error: 'Something went wrong', code: 'ESERVER', name: 'Error' });
  });

  it('an Error with a string code keeps it, with details', async () => {
    expect(await client.command('throws-coded')).toEqual({ error: 'Out of stock', code: 'ESTOCK', name: 'MeshError', details: { sku: 'a1' } });
  });

  it('EUNKNOWN when something that is not an Error is thrown', async () => {
    expect(await client.command('throws-string')).toEqual({ error: 'plain string', code: 'EUNKNOWN', name: 'UnknownError' });
  });

  it('a runtime bug is answered without its message or stack', async () => {
    const payload = await client.command('bug');
    expect(payload).toEqual({ error: 'Internal server error', code: 'ESERVER', name: 'InternalError' });
    expect(JSON.stringify(payload)).not.toMatch(/property|at /);
  });

  it('ENOTFOUND for an unknown command', async () => {
    expect(await client.command('unknown-command')).toEqual({
      error: 'Command "unknown-command" not found',
      code: 'ENOTFOUND',
      name: 'CommandError',
    });
  });

  it('a handler returning undefined produces a reply with no payload key', async () => {
    const reply = await client.request('nothing', {}, 7);
    expect(reply).toEqual({ id: 7, command: 'nothing' });
    expect('payload' in reply).toBe(false);
  });

  it('EFORBIDDEN when a @UseGuards guard denies; the guard sees context type ws and the command as pattern', async () => {
    expect(await client.command('admin', { admin: false })).toEqual({ error: 'Forbidden resource', code: 'EFORBIDDEN', name: 'ForbiddenError' });
    expect(seen).toContain('guard:ws:admin');
    expect(await client.command('admin', { admin: true })).toBe('welcome');
  });

  it('a global APP_GUARD applies to mesh commands', async () => {
    expect(await client.command('echo', { blockedByGlobalGuard: true })).toMatchObject({ code: 'EFORBIDDEN' });
  });

  it('EINVALID with details when ValidationPipe rejects a DTO, not "Internal server error"', async () => {
    const payload = await client.command('profile', { name: '', email: 'nope' });
    expect(payload).toMatchObject({ code: 'EINVALID', name: 'ValidationError', error: 'Validation failed' });
    expect(payload.details).toEqual(expect.arrayContaining(['name must be longer than or equal to 1 characters', 'email must be an email']));
    expect(await client.command('profile', { name: 'Ada', email: 'ada@example.com' })).toEqual({ ok: true, isDto: true });
  });

  it('interceptors map results; @MeshPayload(property) picks one field', async () => {
    expect(await client.command('shout', { text: 'hey' })).toBe('HEY');
  });

  it('exception filters see errors with host type ws and their return value becomes the reply', async () => {
    expect(await client.command('find')).toEqual({ filtered: 'no such thing', type: 'ws' });
  });

  it('injects the connection and the context, and the context carries what middlewares attached', async () => {
    const payload = await client.command('who', { any: 1 });
    expect(payload).toEqual({ isConnection: true, id: client.connectionId, command: 'who', same: true, enriched: 'attached-by-middleware' });
  });

  it('@MessageBody() and @ConnectedSocket() from @nestjs/websockets work too', async () => {
    expect(await client.command('nest-params', { n: 5 })).toEqual({ n: 5, id: client.connectionId });
  });

  it('runs middlewares global -> class -> method, then interceptors, then the handler', async () => {
    expect(await client.command('ordered')).toBe('done');
    expect(seen).toEqual(['global-mw:ordered', 'class-mw:ordered', 'method-mw:ordered', 'interceptor:DemoController.ordered', 'handler']);
  });

  it('registerCommand handlers get the context; their middlewares can stop them', async () => {
    expect(await client.command('add', { a: 2, b: 3 })).toBe(5);
    expect(await client.command('mw-denies')).toEqual({ error: 'unauthorized', code: 'ESERVER', name: 'Error' });
    expect(seen).toEqual(['global-mw:add', 'global-mw:mw-denies']);
  });

  it('handles requests on one connection concurrently and answers each as it completes', async () => {
    const order: unknown[] = [];
    const slow = client.request('slow', 300, 100).then((f) => order.push(f.id));
    const fast = client.request('slow', 10, 101).then((f) => order.push(f.id));
    await Promise.all([slow, fast]);
    expect(order).toEqual([101, 100]);
  });
});

describe('commands: registration errors', () => {
  it('refuses two handlers for one command name at start-up, naming both', async () => {
    @Controller()
    class A {
      @MeshCommand('dup')
      one() {
        return 1;
      }
    }
    @Controller()
    class B {
      @MeshCommand('dup')
      two() {
        return 2;
      }
    }
    await expect(startApp({ mesh: { keyPrefix: uniquePrefix() }, controllers: [A, B] })).rejects.toThrow(
      'Command "dup" is registered twice: by A.one and by B.two',
    );
  });

  it('refuses command names reserved by the protocol', async () => {
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix() } });
    try {
      expect(() => t.mesh.registerCommand('mesh/noop', () => 1)).toThrow('reserved by the protocol');
      expect(() => t.mesh.registerCommand('pong', () => 1)).toThrow('reserved by the protocol');
      expect(() => t.mesh.registerCommand('', () => 1)).toThrow('non-empty string');
      expect(() => t.mesh.registerCommand('x', 'nope' as never)).toThrow('the handler must be a function');
    } finally {
      await t.close();
    }
  });

  it('rejects invalid module options with a message naming the option', async () => {
    await expect(startApp({ mesh: { redis: redisUrl(), path: 'mesh' } })).rejects.toThrow('"path" must start with "/"');
    await expect(startApp({ mesh: { redis: redisUrl(), prefix: 'a/b' } })).rejects.toThrow('"prefix" must be letters');
    await expect(startApp({ mesh: { redis: redisUrl(), pingInterval: -5 } })).rejects.toThrow('"pingInterval" must be a positive integer');
  });

  it('a guard that throws ForbiddenException with its own message keeps the message', async () => {
    @Injectable()
    class Denier implements CanActivate {
      canActivate(): boolean {
        throw new ForbiddenException('members only');
      }
    }
    @Controller()
    class C {
      @MeshCommand('members')
      @UseGuards(Denier)
      members() {
        return 'ok';
      }
    }
    const t = await startApp({ mesh: { keyPrefix: uniquePrefix() }, controllers: [C], providers: [{ provide: APP_INTERCEPTOR, useClass: Tagging }] });
    const c = await RawClient.connect(t.url);
    try {
      expect(await c.command('members')).toEqual({ error: 'members only', code: 'EFORBIDDEN', name: 'ForbiddenError' });
    } finally {
      await c.close();
      await t.close();
    }
  });

  it('MeshModule can be imported with forRootAsync and isGlobal', async () => {
    const t = await startApp({
      meshModule: MeshModule.forRootAsync({ isGlobal: true, useFactory: async () => ({ redis: redisUrl(), keyPrefix: uniquePrefix(), path: '/async' }) }),
      mesh: { path: '/async' },
    });
    const c = await RawClient.connect(t.url);
    try {
      expect(await c.command('mesh/noop')).toBe(true);
    } finally {
      await c.close();
      await t.close();
    }
  });
});

describe('start-up without Redis', () => {
  it('fails with a clear error naming the Redis it could not reach, and leaves nothing running', async () => {
    const { freePort } = await import('../support/redis-server');
    const port = await freePort();
    await expect(startApp({ mesh: { redis: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix() } })).rejects.toThrow(
      `Cannot reach Redis at redis://127.0.0.1:${port}`,
    );
  });
});
