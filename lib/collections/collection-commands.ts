import { Inject, Injectable } from '@nestjs/common';
import { field } from '../common/payload-field';
import { BuiltinCommandTable } from '../commands/builtin-command-table';
import { MESH_COMMAND_NAMES } from '../mesh.constants';
import type { BuiltinCommandNames } from '../protocol';
import { CollectionManager } from './collection-manager';


/** `<prefix>/subscribe-collection` and `<prefix>/unsubscribe-collection`. */
@Injectable()
export class CollectionCommands {
  constructor(@Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames, collections: CollectionManager, builtins: BuiltinCommandTable) {
    builtins.add(names.subscribeCollection, (c, p) => collections.subscribe(c, field(p, 'collectionId')));
    builtins.add(names.unsubscribeCollection, (c, p) => collections.unsubscribe(c, field(p, 'collectionId')));
  }
}
