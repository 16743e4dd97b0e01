import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { MeshConfigurationError } from '../errors';
import { MESH_COMMAND_METADATA, MESH_COMMAND_OPTIONS_METADATA, MESH_MIDDLEWARE_METADATA } from '../mesh.constants';
import type { MeshMiddlewareFn } from './command-context';
import type { MeshCommandOptions } from './command-options';
import { CommandPipelineFactory } from './command-pipeline.factory';
import { CommandRegistry } from './command-registry';

/** Finds `@MeshCommand` methods on every controller and provider and registers them. */
@Injectable()
export class MeshCommandExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: CommandRegistry,
    private readonly pipelines: CommandPipelineFactory,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || wrapper.isAlias || seen.has(instance)) continue;
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      seen.add(instance);
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = instance[methodName];
        if (typeof method !== 'function') continue;
        const command = this.reflector.get<string | undefined>(MESH_COMMAND_METADATA, method);
        if (command === undefined) continue;
        const origin = `${prototype.constructor.name}.${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          throw new MeshConfigurationError(`@MeshCommand("${command}") on ${origin}: request-scoped providers cannot host commands`);
        }
        const middlewares: MeshMiddlewareFn[] = [
          ...(this.reflector.get<MeshMiddlewareFn[]>(MESH_MIDDLEWARE_METADATA, prototype.constructor) ?? []),
          ...(this.reflector.get<MeshMiddlewareFn[]>(MESH_MIDDLEWARE_METADATA, method) ?? []),
        ];
        const options = this.reflector.get<MeshCommandOptions | undefined>(MESH_COMMAND_OPTIONS_METADATA, method);
        this.registry.register({ name: command, origin, middlewares, invoke: this.pipelines.forMethod(instance, methodName), idempotent: options?.idempotent });
      }
    }
  }
}
