import { SetMetadata } from '@nestjs/common';
import { MESH_COMMAND_METADATA } from '../mesh.constants';

/**
 * Makes a controller or provider method answer the WebSocket command `name`. Nest guards,
 * interceptors, pipes and exception filters apply around it as for a gateway handler
 * (`context.getType() === 'ws'`).
 */
export const MeshCommand = (name: string): MethodDecorator => SetMetadata(MESH_COMMAND_METADATA, name);
