import { BadRequestException, ForbiddenException, HttpException, Logger, UnauthorizedException } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { toErrorPayload } from '../../lib/commands/error-payload';
import { MeshError, MeshForbiddenError, MeshLimitError, MeshValidationError } from '../../lib';

describe('toErrorPayload', () => {
  let errors: jest.SpyInstance;
  beforeEach(() => (errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined)));
  afterEach(() => errors.mockRestore());

  it.each([
    ['a coded MeshError', new MeshError('Out of stock', 'ESTOCK', { sku: 1 }), { error: 'Out of stock', code: 'ESTOCK', name: 'MeshError', details: { sku: 1 } }, false],
    ['a plain Error', new Error('boom'), { error: 'boom', code: 'ESERVER', name: 'Error' }, true],
    ['a bug', new TypeError('x is undefined'), { error: 'Internal server error', code: 'ESERVER', name: 'InternalError' }, true],
    ['a thrown string', 'plain', { error: 'plain', code: 'EUNKNOWN', name: 'UnknownError' }, false],
    ['MeshForbiddenError', new MeshForbiddenError('no'), { error: 'no', code: 'EFORBIDDEN', name: 'ForbiddenError' }, false],
    ['MeshValidationError', new MeshValidationError('bad', ['a']), { error: 'bad', code: 'EINVALID', name: 'ValidationError', details: ['a'] }, false],
    ['MeshLimitError', new MeshLimitError('too many'), { error: 'too many', code: 'ELIMIT', name: 'LimitError' }, false],
    ['ForbiddenException', new ForbiddenException('nope'), { error: 'nope', code: 'EFORBIDDEN', name: 'ForbiddenError' }, false],
    ['UnauthorizedException', new UnauthorizedException(), { error: 'Unauthorized', code: 'EFORBIDDEN', name: 'ForbiddenError' }, false],
    ['BadRequestException with messages', new BadRequestException(['x must be a string']), { error: 'Validation failed', code: 'EINVALID', name: 'ValidationError', details: ['x must be a string'] }, false],
    ['HttpException 429', new HttpException('slow down', 429), { error: 'slow down', code: 'ERATELIMIT', name: 'HttpException' }, false],
    ['WsException with a body', new WsException({ error: 'gone', code: 'EGONE' }), { error: 'gone', code: 'EGONE', name: 'Error' }, false],
  ])('%s', (_label, thrown, payload, logged) => {
    expect(toErrorPayload(thrown)).toEqual(payload);
    expect(errors).toHaveBeenCalledTimes(logged ? 1 : 0);
  });

  it('exposeInternalErrors sends the real message of a bug', () => {
    expect(toErrorPayload(new TypeError('x is undefined'), true)).toEqual({ error: 'x is undefined', code: 'ESERVER', name: 'TypeError' });
  });
});
