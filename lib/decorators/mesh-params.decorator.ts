import type { PipeTransform, Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';

/**
 * Parameter kinds. Connection (0) and payload (3) use the numbers of `@nestjs/websockets`'
 * `@ConnectedSocket()` and `@MessageBody()`, so those decorators work on `@MeshCommand` methods too.
 */
export const MeshParamType = {
  CONNECTION: 0,
  PAYLOAD: 3,
  CONTEXT: 40,
} as const;

type PipeLike = PipeTransform | Type<PipeTransform>;

function meshParam(type: number, data: string | PipeLike | undefined, pipes: PipeLike[]): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) return;
    const hasProperty = typeof data === 'string';
    const allPipes = hasProperty ? pipes : ([data, ...pipes].filter(Boolean) as PipeLike[]);
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, target.constructor, key) ?? {};
    Reflect.defineMetadata(
      ROUTE_ARGS_METADATA,
      { ...args, [`${type}:${index}`]: { index, data: hasProperty ? data : undefined, pipes: allPipes } },
      target.constructor,
      key,
    );
  };
}

/** The command payload, or one property of it; pipes (e.g. `ValidationPipe`) apply. */
export function MeshPayload(property?: string | PipeLike, ...pipes: PipeLike[]): ParameterDecorator {
  return meshParam(MeshParamType.PAYLOAD, property, pipes);
}

/** The `Connection` that sent the command. */
export function MeshConnection(): ParameterDecorator {
  return meshParam(MeshParamType.CONNECTION, undefined, []);
}

/** The whole `MeshCommandContext` (frame, connection, what middlewares attached). */
export function MeshContext(): ParameterDecorator {
  return meshParam(MeshParamType.CONTEXT, undefined, []);
}
