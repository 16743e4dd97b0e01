import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { isObservable, lastValueFrom } from 'rxjs';
import { MESH_CONTEXT_TYPE } from '../mesh.constants';
import type { MeshPipelineArgs } from './command-context';

/** Runs a command's handler: its result, or a Promise of it (a thrown error may be thrown synchronously). */
export type CommandInvoker = (...args: MeshPipelineArgs) => unknown;

/** Nest's exception filters of one handler, as `ExternalContextCreator` built them. */
export interface ExceptionFilters {
  /** The handled value, or a falsy value when no filter catches this error. */
  invokeCustomFilters(exception: unknown, host: ExecutionContextHost): unknown;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';

/**
 * What Nest's pipeline replies with for a handler's return value: a thenable awaited, an
 * Observable's last value; `onError` sees any failure of either (it may throw or give the reply).
 */
function settle(value: object, onError: (error: unknown) => unknown): unknown {
  if (isThenable(value)) {
    // One reaction for the usual case, a promise of a plain value.
    return Promise.resolve(value).then((settled) => (isObservable(settled) ? lastValueFrom(settled).then(undefined, onError) : settled), onError);
  }
  return isObservable(value) ? lastValueFrom(value).then(undefined, onError) : value;
}

/**
 * An error passed through the exception filters (`@UseFilters`, global ones) as Nest's error proxy
 * does: the value of the filter that caught it, else the error again.
 */
export function filtered(filters: ExceptionFilters, error: unknown, args: MeshPipelineArgs): unknown {
  const host = new ExecutionContextHost(args);
  host.setType(MESH_CONTEXT_TYPE);
  const handled = filters.invokeCustomFilters(error, host);
  if (handled) return handled;
  throw error;
}

/**
 * The invoker of a command that has no guard, interceptor or pipe (global or its own): `call`
 * runs its handler at once, with none of the pipeline's promise hops, execution contexts or rxjs.
 * A sync handler's result is returned as is; exception filters still see its errors.
 */
export function plainInvoker(call: (...args: MeshPipelineArgs) => unknown, filters: ExceptionFilters): CommandInvoker {
  // Named parameters, not a rest array: nothing is allocated per call until an error needs the arguments.
  return (connection, payload, context, command): unknown => {
    let value: unknown;
    try {
      value = call(connection, payload, context, command);
    } catch (error) {
      return filtered(filters, error, [connection, payload, context, command]);
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
    return settle(value, (error) => filtered(filters, error, [connection, payload, context, command]));
  };
}
