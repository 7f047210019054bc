import { expect } from 'chai';
import { InvalidatedCache, InvalidationBus } from '../../src/db/invalidation';
import { newId } from '../../src/db/ids';

describe('invalidation bus and caches', () => {
  function listeningBus(): InvalidationBus {
    const bus = new InvalidationBus();
    bus.connected();
    return bus;
  }

  it('serves a kept value without loading again, and loads again after an invalidation', async () => {
    const bus = listeningBus();
    const cache = new InvalidatedCache<string>(bus, 10);
    bus.on('flow', (id) => cache.delete(id));
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get('flow-1', load)).to.equal('v1');
    expect(await cache.get('flow-1', load)).to.equal('v1');
    bus.changed('flow', 'flow-1');
    expect(await cache.get('flow-1', load)).to.equal('v2');
    bus.received('flow:flow-1');
    expect(await cache.get('flow-1', load)).to.equal('v3');
    bus.received('secrets:flow-1');
    expect(await cache.get('flow-1', load)).to.equal('v3');
  });

  it('ignores payloads of kinds it does not know', () => {
    const bus = listeningBus();
    const seen: string[] = [];
    bus.on('flow', (id) => seen.push(id));
    bus.received('something-new:flow-1');
    bus.received('no colon');
    bus.received('flow:a:b');
    expect(seen).to.deep.equal(['a:b']);
  });

  it('does not keep a value read while an invalidation came', async () => {
    const bus = listeningBus();
    const cache = new InvalidatedCache<string>(bus, 10);
    bus.on('account', (id) => cache.delete(id));
    let release!: () => void;
    const slow = cache.get('acct-1', () => new Promise<string>((resolve) => (release = () => resolve('old'))));
    bus.changed('account', 'acct-1');
    release();
    expect(await slow).to.equal('old');
    expect(await cache.get('acct-1', async () => 'new')).to.equal('new');
  });

  it('keeps nothing while not listening, and empties itself when the connection comes or goes', async () => {
    const bus = new InvalidationBus();
    const cache = new InvalidatedCache<string>(bus, 10);
    await cache.get('k', async () => 'v');
    expect(cache.size).to.equal(0);
    bus.connected();
    await cache.get('k', async () => 'v');
    expect(cache.size).to.equal(1);
    bus.connected(); // a reconnect: a notification may have been missed
    expect(cache.size).to.equal(0);
    await cache.get('k', async () => 'v');
    bus.disconnected();
    expect(cache.size).to.equal(0);
    expect(bus.listening).to.equal(false);
  });

  it('keeps at most its bound, dropping the least recently used, and never caches undefined', async () => {
    const cache = new InvalidatedCache<string>(listeningBus(), 2);
    await cache.get('a', async () => 'A');
    await cache.get('b', async () => 'B');
    await cache.get('a', async () => 'not read');
    await cache.get('c', async () => 'C');
    expect(cache.size).to.equal(2);
    expect(await cache.get('a', async () => 'reloaded')).to.equal('A');
    expect(await cache.get('b', async () => 'reloaded')).to.equal('reloaded');
    await cache.get('missing', async () => undefined);
    expect(await cache.get('missing', async () => 'found')).to.equal('found');
  });
});

describe('ids', () => {
  it('sort in the order they were made, within one millisecond too', () => {
    const ids = Array.from({ length: 2000 }, () => newId('exec'));
    expect([...ids].sort()).to.deep.equal(ids);
    expect(new Set(ids).size).to.equal(ids.length);
  });
});
