import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { MeshCommandOptions } from '../commands/command-options';
import { MESH_COMMAND_METADATA, MESH_COMMAND_OPTIONS_METADATA } from '../mesh.constants';

/**
 * Makes a controller or provider method answer the WebSocket command `name`. Nest guards,
 * interceptors, pipes and exception filters apply around it as for a gateway handler
 * (`context.getType() === 'ws'`). `options.idempotent` makes retries with one key run it once.
 */
export const MeshCommand = (name: string, options?: MeshCommandOptions): MethodDecorator =>
  options === undefined ? SetMetadata(MESH_COMMAND_METADATA, name) : (applyDecorators(SetMetadata(MESH_COMMAND_METADATA, name), SetMetadata(MESH_COMMAND_OPTIONS_METADATA, options)) as MethodDecorator);
