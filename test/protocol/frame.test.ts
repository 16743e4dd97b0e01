import { CloseCode, decodeFrame, encodeFrame, isErrorPayload, isValidCloseCode, peekFrame } from '../../lib/protocol';

describe('decodeFrame', () => {
  it('reads a request, and never throws on anything else', () => {
    expect(decodeFrame('{"id":1,"command":"echo","payload":{"a":[1]}}')).toEqual({ ok: true, frame: { id: 1, command: 'echo', payload: { a: [1] } } });
    expect(decodeFrame('{"command":"pong"}')).toEqual({ ok: true, frame: { id: undefined, command: 'pong', payload: undefined } });
    expect(decodeFrame('not json')).toEqual({ ok: false, reason: 'Frame is not valid JSON' });
    expect(decodeFrame('[1]')).toEqual({ ok: false, reason: 'Frame is not a JSON object' });
    expect(decodeFrame('null')).toEqual({ ok: false, reason: 'Frame is not a JSON object' });
    expect(decodeFrame('{"id":7}')).toEqual({ ok: false, id: 7, reason: 'Frame has no string "command"' });
    expect(decodeFrame('{"id":7,"command":""}')).toMatchObject({ ok: false, id: 7 });
  });

  it('takes numbers and strings of at most 200 characters as ids', () => {
    expect(decodeFrame('{"id":"abc","command":"x"}')).toMatchObject({ ok: true, frame: { id: 'abc' } });
    for (const id of ['{}', '[1]', 'true', 'null', JSON.stringify('x'.repeat(201))]) {
      expect(decodeFrame(`{"id":${id},"command":"x"}`)).toMatchObject({ ok: false, reason: expect.stringContaining('"id" must be a number or a string') });
    }
  });

  it('refuses nesting deeper than maxDepth, counting the frame object as level 1, with the id and command', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    expect(decodeFrame(`{"id":1,"command":"x","payload":${nested(3)}}`, 4)).toMatchObject({ ok: true });
    expect(decodeFrame(`{"id":1,"command":"x","payload":${nested(4)}}`, 4)).toEqual({ ok: false, id: 1, command: 'x', reason: 'Frame nests deeper than 4 levels' });
    expect(decodeFrame(`{"id":1,"command":"x","payload":{"a":{"b":{"c":{}}}}}`, 4)).toMatchObject({ ok: false });
    expect(decodeFrame(`{"id":1,"command":"x","payload":${nested(100_000)}}`, Infinity)).toMatchObject({ ok: true });
  });

  it('encodes a frame as one JSON object', () => {
    expect(JSON.parse(encodeFrame({ id: 3, command: 'c', payload: [1] }))).toEqual({ id: 3, command: 'c', payload: [1] });
  });
});

describe('peekFrame', () => {
  const big = 'x'.repeat(2_000_000);

  it('reads the top-level id and command wherever they are, skipping values without parsing them', () => {
    expect(peekFrame(`{"id":42,"command":"x","payload":"${big}"}`)).toEqual({ id: 42, command: 'x' });
    expect(peekFrame(`{"command":"echo","payload":"${big}","id":7,"x":1}`)).toEqual({ id: 7, command: 'echo' });
    expect(peekFrame(`{"payload":{"id":5,"nested":["a","}",{"id":6}]},"command":"c","id":"req-1"}`)).toEqual({ id: 'req-1', command: 'c' });
    expect(peekFrame(`{"payload":"quote \\" inside \\\\","id":8}`)).toEqual({ id: 8 });
  });

  it('reads ids as JSON does: exponents, escapes, the last of duplicates', () => {
    expect(peekFrame(`{"id":2e3,"command":"echo","payload":"${big}"}`)).toEqual({ id: 2000, command: 'echo' });
    expect(peekFrame(`{"id":${JSON.stringify('\\u0041'.repeat(200)).replace(/\\\\/g, '\\')}}`)).toEqual({ id: 'A'.repeat(200) });
    expect(peekFrame('{"id":1,"id":9,"command":"x"}')).toEqual({ id: 9, command: 'x' });
  });

  it('leaves out what cannot be read', () => {
    expect(peekFrame(`{"id":{"x":1},"command":"x"}`)).toEqual({ id: undefined, command: 'x' });
    expect(peekFrame(`{"id":"${'i'.repeat(201)}"}`)).toEqual({ id: undefined });
    expect(peekFrame('garbage')).toEqual({});
    expect(peekFrame('{"id":1,"payload":"unterminated')).toEqual({ id: 1 });
  });
});

describe('close codes and error payloads', () => {
  it('isValidCloseCode accepts what a server may send', () => {
    for (const code of [1000, 1001, 1008, 1011, 1012, 3000, 4001, 4999, CloseCode.SUPERSEDED]) expect(isValidCloseCode(code)).toBe(true);
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5, '1000', NaN]) expect(isValidCloseCode(code)).toBe(false);
  });

  it('isErrorPayload needs a string error and code', () => {
    expect(isErrorPayload({ error: 'x', code: 'E', name: 'N' })).toBe(true);
    expect(isErrorPayload({ error: 'x' })).toBe(false);
    expect(isErrorPayload({ success: false })).toBe(false);
    expect(isErrorPayload(null)).toBe(false);
  });
});
