import { expect } from 'chai';
import { MASK, Masker } from '../../src/security/masking';

describe('masking secret values (Masker)', () => {
  it('masks with ***', () => {
    expect(MASK).to.equal('***');
  });

  describe('text', () => {
    const cases: { name: string; secrets: string[]; text: string; masked: string }[] = [
      { name: 'masks a secret inside text', secrets: ['tok-abcdef'], text: 'Bearer tok-abcdef', masked: 'Bearer ***' },
      { name: 'masks a string that is the secret', secrets: ['tok-abcdef'], text: 'tok-abcdef', masked: '***' },
      {
        name: 'masks every occurrence',
        secrets: ['s3cr3t'],
        text: 's3cr3t, s3cr3t s3cr3ts3cr3t',
        masked: '***, *** ******',
      },
      {
        name: 'masks every secret',
        secrets: ['alpha-1', 'beta-22'],
        text: 'a=alpha-1 b=beta-22',
        masked: 'a=*** b=***',
      },
      {
        name: 'leaves text without a secret as it is',
        secrets: ['tok-abcdef'],
        text: 'nothing here',
        masked: 'nothing here',
      },
      {
        name: 'masks exact matches only (case counts)',
        secrets: ['tok-abcdef'],
        text: 'TOK-ABCDEF',
        masked: 'TOK-ABCDEF',
      },
      { name: 'leaves a part of a secret as it is', secrets: ['tok-abcdef'], text: 'tok-abc', masked: 'tok-abc' },
      {
        name: 'masks the longest first, so a secret containing another is masked whole',
        secrets: ['abcd', 'abcd-efgh-ijkl'],
        text: 'x abcd-efgh-ijkl y abcd',
        masked: 'x *** y ***',
      },
      {
        name: 'masks the longest first whatever order the secrets come in',
        secrets: ['abcd-efgh-ijkl', 'abcd'],
        text: 'abcd-efgh-ijkl',
        masked: '***',
      },
      {
        name: 'takes characters that mean something in a regular expression literally',
        secrets: ['a.b*c+(d)$'],
        text: 'x a.b*c+(d)$ y aXbbbcc(d)',
        masked: 'x *** y aXbbbcc(d)',
      },
      { name: 'masks a secret of 4 characters inside text', secrets: ['abcd'], text: 'xxabcdxx', masked: 'xx***xx' },
      { name: 'masks a secret under 4 characters standing alone', secrets: ['abc'], text: 'abc', masked: '***' },
      {
        name: 'leaves a secret under 4 characters inside text (it would mask ordinary words)',
        secrets: ['abc'],
        text: 'xabcx',
        masked: 'xabcx',
      },
      { name: 'leaves a one-character secret inside text', secrets: ['7'], text: 'build 1.7', masked: 'build 1.7' },
      { name: 'masks a one-character secret standing alone', secrets: ['7'], text: '7', masked: '***' },
      {
        name: 'masks long and short secrets together by their own rules',
        secrets: ['ab', 'tok-abcdef'],
        text: 'ab tok-abcdef',
        masked: 'ab ***',
      },
      { name: 'ignores an empty secret', secrets: [''], text: 'anything', masked: 'anything' },
      { name: 'leaves the empty string', secrets: ['tok-abcdef'], text: '', masked: '' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(new Masker(c.secrets).text(c.text)).to.equal(c.masked);
      });
    }
  });

  describe('json', () => {
    const when = new Date('2026-01-02T03:04:05Z');
    const cases: { name: string; secrets: string[]; value: unknown; masked: unknown }[] = [
      { name: 'masks a string', secrets: ['tok-abcdef'], value: 'tok-abcdef', masked: '***' },
      {
        name: 'masks strings in nested objects and arrays',
        secrets: ['tok-abcdef'],
        value: {
          url: 'https://x/?t=tok-abcdef',
          list: ['tok-abcdef', ['a tok-abcdef b']],
          deep: { h: { auth: 'tok-abcdef' } },
        },
        masked: { url: 'https://x/?t=***', list: ['***', ['a *** b']], deep: { h: { auth: '***' } } },
      },
      {
        name: 'leaves numbers, booleans and null',
        secrets: ['tok-abcdef'],
        value: { n: 42, b: true, z: null, s: 'tok-abcdef' },
        masked: { n: 42, b: true, z: null, s: '***' },
      },
      {
        name: 'leaves Dates, even when their text would contain a secret',
        secrets: ['2026'],
        value: { at: when },
        masked: { at: new Date(when) },
      },
      {
        name: 'masks a short secret only where a string is exactly it',
        secrets: ['abc'],
        value: { a: 'abc', b: 'xabcx', c: ['abc', 'abcabc'] },
        masked: { a: '***', b: 'xabcx', c: ['***', 'abcabc'] },
      },
      { name: 'leaves a number at the top', secrets: ['tok-abcdef'], value: 42, masked: 42 },
      { name: 'leaves null', secrets: ['tok-abcdef'], value: null, masked: null },
      {
        name: 'changes nothing without secrets',
        secrets: [],
        value: { s: 'tok-abcdef', at: when },
        masked: { s: 'tok-abcdef', at: new Date(when) },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(new Masker(c.secrets).json(c.value)).to.deep.equal(c.masked);
      });
    }

    it('returns a copy and leaves its argument as it was', () => {
      const value = { s: 'tok-abcdef', list: ['tok-abcdef'], at: when };
      const masked = new Masker(['tok-abcdef']).json(value);
      expect(value).to.deep.equal({ s: 'tok-abcdef', list: ['tok-abcdef'], at: when });
      expect(masked.list).not.to.equal(value.list);
      expect(masked.at).to.equal(when); // the same Date object, not a string or a copy
    });
  });

  describe('empty', () => {
    const cases: { secrets: string[]; empty: boolean }[] = [
      { secrets: [], empty: true },
      { secrets: [''], empty: true },
      { secrets: ['', 'x'], empty: false },
      { secrets: ['tok', 'tok'], empty: false },
    ];
    for (const c of cases) {
      it(`is ${c.empty} for ${JSON.stringify(c.secrets)}`, () => {
        expect(new Masker(c.secrets).empty).to.equal(c.empty);
      });
    }
  });

  describe('encoded forms', () => {
    const secret = 'p@ss "w/rd" ä&1';
    const b64 = (s: string, enc: BufferEncoding = 'utf8') => Buffer.from(s, enc).toString('base64');
    const cases: { name: string; text: string; masked: string }[] = [
      { name: 'JSON-escaped', text: `{"k":${JSON.stringify(secret)}}`, masked: '{"k":"***"}' },
      { name: 'percent-encoded', text: `?k=${encodeURIComponent(secret)}&x=1`, masked: '?k=***&x=1' },
      {
        name: 'percent-encoded with lower-case hex',
        text: encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
        masked: '***',
      },
      { name: 'form-encoded', text: new URLSearchParams({ k: secret }).toString(), masked: 'k=***' },
      { name: 'base64', text: `token ${b64(secret)}`, masked: 'token ***' },
      { name: 'base64 of user:secret, whatever the user', text: `Basic ${b64(`u:${secret}`)}`, masked: 'Basic ***' },
      { name: 'base64 at another offset', text: `Basic ${b64(`admin:${secret}`)}`, masked: 'Basic ***' },
      { name: 'base64 with text after', text: `Basic ${b64(`ab:${secret}:tail`)} ok`, masked: 'Basic *** ok' },
      { name: 'base64 of the Latin-1 bytes (btoa)', text: b64(`x:${secret}`, 'latin1'), masked: '***' },
      {
        name: 'leaves other base64 alone',
        text: `Basic ${b64('user:other-password')}`,
        masked: `Basic ${b64('user:other-password')}`,
      },
    ];
    for (const c of cases) {
      it(`masks a secret ${c.name}`, () => {
        expect(new Masker([secret]).text(c.text)).to.equal(c.masked);
      });
    }

    it('masks object keys too', () => {
      expect(new Masker([secret]).json({ [secret]: 1 })).to.deep.equal({ '***': 1 });
    });

    it('does not mask base64 cores of short secrets (they would match ordinary text)', () => {
      expect(new Masker(['abcdefg']).text(b64('u:abcdefg'))).to.equal(b64('u:abcdefg'));
    });
  });
});
