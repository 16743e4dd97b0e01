import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { MeshModuleOptions } from './interfaces/mesh-module-options.interface';

export const {
  ConfigurableModuleClass: MeshConfigurableModule,
  MODULE_OPTIONS_TOKEN: MESH_MODULE_OPTIONS,
  OPTIONS_TYPE: MESH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: MESH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<MeshModuleOptions>({ moduleName: 'Mesh' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createMeshOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
