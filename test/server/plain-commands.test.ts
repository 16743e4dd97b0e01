import {
  Catch,
  Controller,
  createParamDecorator,
  Injectable,
  NotFoundException,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { ConnectedSocket, MessageBody } from '@nestjs/websockets';
import { map, of } from 'rxjs';
import { Connection, MeshCommand, MeshConnection, MeshContext, MeshError, MeshMiddleware, MeshPayload, type MeshCommandContext } from '../../lib';
import { RawClient } from '../support/raw-client';
import { startApp, type TestApp } from '../support/test-app';

// Commands with no guard, interceptor or pipe are called without Nest's pipeline
// (lib/commands/plain-invoker.ts): these check that they behave exactly as through it.

@Catch(NotFoundException)
class NotFoundToValue implements ExceptionFilter {
  catch(exception: NotFoundException, host: ArgumentsHost) {
    return { filtered: exception.message, type: host.getType() };
  }
}

const Pattern = createParamDecorator((_data: unknown, context: ExecutionContext) => context.switchToWs().getPattern());

@Controller()
class PlainController {
  @MeshCommand('p-echo')
  echo(@MeshPayload() payload: unknown) {
    return `echo: ${String(payload)}`;
  }

  @MeshCommand('p-field')
  field(@MeshPayload('text') text: unknown) {
    return { text };
  }

  @MeshCommand('p-who')
  @MeshMiddleware((ctx) => {
    ctx.user = 'attached';
  })
  who(@MeshConnection() connection: Connection, @MeshContext() ctx: MeshCommandContext, @MeshPayload() payload: unknown) {
    return { isConnection: connection instanceof Connection, id: connection.id, command: ctx.command, same: ctx.payload === payload, user: ctx.user };
  }

  /** No decorators: Nest passes the pipeline arguments themselves. */
  @MeshCommand('p-raw-args')
  rawArgs(...args: unknown[]) {
    const [connection, payload, context, command] = args as [Connection, unknown, MeshCommandContext, string];
    return { count: args.length, isConnection: connection instanceof Connection, payload, contextCommand: context.command, command };
  }

  @MeshCommand('p-sparse')
  sparse(first: unknown, @MeshPayload() payload: unknown) {
    return { first: first === undefined ? 'undefined' : typeof first, payload };
  }

  @MeshCommand('p-nest-params')
  nestParams(@MessageBody() body: { n: number }, @ConnectedSocket() connection: Connection) {
    return { n: body.n, id: connection.id };
  }

  @MeshCommand('p-custom-param')
  customParam(@Pattern() pattern: string) {
    return { pattern };
  }

  @MeshCommand('p-async')
  async asyncValue(@MeshPayload() n: number) {
    await Promise.resolve();
    return n * 2;
  }

  @MeshCommand('p-observable')
  observable() {
    return of(1, 2, 3);
  }

  @MeshCommand('p-promised-observable')
  async promisedObservable() {
    return of('a', 'b');
  }

  @MeshCommand('p-nothing')
  nothing() {
    return undefined;
  }

  @MeshCommand('p-throws')
  throws() {
    throw new Error('Something went wrong');
  }

  @MeshCommand('p-rejects-coded')
  async rejectsCoded() {
    throw new MeshError('Out of stock', 'ESTOCK', { sku: 'a1' });
  }

  @MeshCommand('p-throws-string')
  throwsString() {
    throw 'plain string';
  }

  @MeshCommand('p-bug')
  bug() {
    const value: any = undefined;
    return value.property;
  }

  @MeshCommand('p-filtered')
  @UseFilters(NotFoundToValue)
  filtered() {
    throw new NotFoundException('no such thing');
  }

  @MeshCommand('p-filtered-async')
  @UseFilters(new NotFoundToValue())
  async filteredAsync() {
    throw new NotFoundException('not here either');
  }

  @MeshCommand('p-filter-misses')
  @UseFilters(NotFoundToValue)
  filterMisses() {
    throw new MeshError('Other', 'EOTHER');
  }
}

@Injectable()
class DenyAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Controller()
@UseGuards(DenyAll)
class GuardedClassController {
  @MeshCommand('class-guarded')
  guarded() {
    return 'never';
  }
}

describe('commands without enhancers behave as through the Nest pipeline', () => {
  let t: TestApp;
  let client: RawClient;

  beforeAll(async () => {
    t = await startApp({ memory: true, controllers: [PlainController, GuardedClassController], providers: [DenyAll] });
    t.mesh.registerCommand('p-add', (ctx) => ctx.payload.a + ctx.payload.b);
    t.mesh.registerCommand('p-add-async', async (ctx) => ctx.payload.a + ctx.payload.b);
    t.mesh.registerCommand('p-handler-throws', () => {
      throw new MeshError('Nope', 'ENOPE');
    });
    client = await RawClient.connect(t.url);
  });

  afterAll(async () => {
    await client?.close();
    await t?.close();
  });

  it('answers with the id and command of the request', async () => {
    expect(await client.request('p-echo', 'hi', 9)).toEqual({ id: 9, command: 'p-echo', payload: 'echo: hi' });
    expect(await client.command('p-field', { text: 'one' })).toEqual({ text: 'one' });
    expect(await client.command('p-field', 'not an object')).toEqual({});
  });

  it('injects the connection, the context (with what middlewares attached) and the payload', async () => {
    expect(await client.command('p-who', { any: 1 })).toEqual({ isConnection: true, id: client.connectionId, command: 'p-who', same: true, user: 'attached' });
    expect(await client.command('p-nest-params', { n: 5 })).toEqual({ n: 5, id: client.connectionId });
  });

  it('passes the pipeline arguments to a method without decorators, and undefined where none is decorated', async () => {
    expect(await client.command('p-raw-args', { x: 1 })).toEqual({ count: 4, isConnection: true, payload: { x: 1 }, contextCommand: 'p-raw-args', command: 'p-raw-args' });
    expect(await client.command('p-sparse', 7)).toEqual({ first: 'undefined', payload: 7 });
  });

  it('custom param decorators still get their execution context', async () => {
    expect(await client.command('p-custom-param')).toEqual({ pattern: 'p-custom-param' });
  });

  it('awaits promises and takes the last value of observables', async () => {
    expect(await client.command('p-async', 21)).toBe(42);
    expect(await client.command('p-observable')).toBe(3);
    expect(await client.command('p-promised-observable')).toBe('b');
    const reply = await client.request('p-nothing', {}, 3);
    expect(reply).toEqual({ id: 3, command: 'p-nothing' });
  });

  it('answers thrown and rejected errors with the same payloads', async () => {
    expect(await client.command('p-throws')).toEqual({ error: 'Something went wrong', code: 'ESERVER', name: 'Error' });
    expect(await client.command('p-rejects-coded')).toEqual({ error: 'Out of stock', code: 'ESTOCK', name: 'MeshError', details: { sku: 'a1' } });
    expect(await client.command('p-throws-string')).toEqual({ error: 'plain string', code: 'EUNKNOWN', name: 'UnknownError' });
    expect(await client.command('p-bug')).toEqual({ error: 'Internal server error', code: 'ESERVER', name: 'InternalError' });
  });

  it('runs exception filters on sync and async errors, and passes on what they do not catch', async () => {
    expect(await client.command('p-filtered')).toEqual({ filtered: 'no such thing', type: 'ws' });
    expect(await client.command('p-filtered-async')).toEqual({ filtered: 'not here either', type: 'ws' });
    expect(await client.command('p-filter-misses')).toEqual({ error: 'Other', code: 'EOTHER', name: 'MeshError' });
  });

  it('a class-level guard applies to the class commands', async () => {
    expect(await client.command('class-guarded')).toEqual({ error: 'Forbidden resource', code: 'EFORBIDDEN', name: 'ForbiddenError' });
  });

  it('registerCommand handlers answer synchronously or asynchronously, and their errors become replies', async () => {
    expect(await client.command('p-add', { a: 2, b: 3 })).toBe(5);
    expect(await client.command('p-add-async', { a: 4, b: 5 })).toBe(9);
    expect(await client.command('p-handler-throws')).toEqual({ error: 'Nope', code: 'ENOPE', name: 'MeshError' });
  });
});

@Injectable()
class DenyFlagged implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToWs().getData()?.deny !== true;
  }
}

class Wrap implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle().pipe(map((value) => ({ wrapped: value })));
  }
}

class EverythingToValue implements ExceptionFilter {
  catch(exception: Error) {
    return { caught: exception.message };
  }
}

describe('global enhancers set on the app reach every command', () => {
  it('useGlobalGuards and useGlobalInterceptors apply to decorated and registered commands', async () => {
    const t = await startApp({
      memory: true,
      controllers: [PlainController],
      configure: (app) => {
        app.useGlobalGuards(new DenyFlagged());
        app.useGlobalInterceptors(new Wrap());
      },
    });
    t.mesh.registerCommand('registered', () => 'r');
    const client = await RawClient.connect(t.url);
    try {
      expect(await client.command('p-field', { text: 'a' })).toEqual({ wrapped: { text: 'a' } });
      expect(await client.command('p-field', { deny: true })).toMatchObject({ code: 'EFORBIDDEN' });
      expect(await client.command('registered')).toEqual({ wrapped: 'r' });
      expect(await client.command('registered', { deny: true })).toMatchObject({ code: 'EFORBIDDEN' });
    } finally {
      await client.close();
      await t.close();
    }
  });

  it('useGlobalFilters catches the errors of commands that have nothing else', async () => {
    const t = await startApp({ memory: true, controllers: [PlainController], configure: (app) => app.useGlobalFilters(new EverythingToValue()) });
    t.mesh.registerCommand('registered-throws', () => {
      throw new Error('from a handler');
    });
    const client = await RawClient.connect(t.url);
    try {
      expect(await client.command('p-throws')).toEqual({ caught: 'Something went wrong' });
      expect(await client.command('p-rejects-coded')).toEqual({ caught: 'Out of stock' });
      expect(await client.command('registered-throws')).toEqual({ caught: 'from a handler' });
      expect(await client.command('p-echo', 'still')).toBe('echo: still');
    } finally {
      await client.close();
      await t.close();
    }
  });
});
