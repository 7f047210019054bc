/** The hand-written client's surface: every generated API on FlowRunnerClient, start keys in any context. */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { FlowRunnerClient } from '../../generated/client/index';
import { newIdempotencyKey } from '../../generated/client/transport';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('FlowRunnerClient', () => {
  it('carries every generated API', () => {
    const dir = path.resolve(__dirname, '../../generated/client/api');
    const classes = fs
      .readdirSync(dir)
      .flatMap((f) => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/export class (\w+Api) extends/g)])
      .map((m) => m[1]);
    expect(classes.length).to.be.greaterThan(10);
    const client = new FlowRunnerClient({ baseUrl: 'http://127.0.0.1:1' });
    // An object's class and the classes it extends (paging helpers extend the generated API).
    const names = new Set(
      Object.values(client).flatMap((v: unknown) => {
        const out: string[] = [];
        for (let p = v ? Object.getPrototypeOf(v) : null; p && p !== Object.prototype; p = Object.getPrototypeOf(p))
          out.push(p.constructor.name);
        return out;
      }),
    );
    expect(classes.filter((c) => !names.has(c))).to.deep.equal([]);
  });

  it('makes a start key without randomUUID (a browser page outside HTTPS has none)', () => {
    const crypto = globalThis.crypto as { randomUUID?: unknown };
    expect(newIdempotencyKey()).to.match(UUID_V4);
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      const keys = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()));
      expect(keys.size).to.equal(100);
      for (const k of keys) expect(k).to.match(UUID_V4);
    } finally {
      delete crypto.randomUUID;
    }
    expect(newIdempotencyKey()).to.match(UUID_V4);
  });
});
