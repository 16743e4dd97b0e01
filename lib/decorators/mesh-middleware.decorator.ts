import { MESH_MIDDLEWARE_METADATA } from '../mesh.constants';
import type { MeshMiddlewareFn } from '../commands/command-context';

/**
 * Runs seed-style middlewares before a command: on a class for all of its `@MeshCommand`
 * methods, on a method for that command. Order: `MeshServer.addMiddleware` ones, then the
 * class's, then the method's, then Nest guards, interceptors, pipes and the handler.
 */
export function MeshMiddleware(...middlewares: MeshMiddlewareFn[]): ClassDecorator & MethodDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const host = descriptor ? descriptor.value : target;
    const existing: MeshMiddlewareFn[] = Reflect.getMetadata(MESH_MIDDLEWARE_METADATA, host) ?? [];
    Reflect.defineMetadata(MESH_MIDDLEWARE_METADATA, [...existing, ...middlewares], host);
  };
}
