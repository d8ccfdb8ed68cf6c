import { randomUUID } from 'node:crypto';
import t from 'tap';
import { formatRefreshToken, parseRefreshToken } from '../../src/tokens/refresh-token-format.js';

t.test('a token names its family and generation and reads back', async (t) => {
  const familyId = randomUUID();
  for (const generation of [0, 1, 255, 65_536, 2 ** 31 - 2]) {
    const token = formatRefreshToken(familyId, generation);
    t.match(token, /^[A-Za-z0-9_-]{70}$/);
    t.same(parseRefreshToken(token), { familyId, generation });
  }
  t.not(formatRefreshToken(familyId, 0), formatRefreshToken(familyId, 0), 'a fresh secret each time');
});

t.test('anything else names nothing', async (t) => {
  const token = formatRefreshToken(randomUUID(), 3);
  const cases = {
    'a token from before the format (32 random bytes)': 'A'.repeat(43),
    'one character short': token.slice(1),
    'one character more': `${token}A`,
    'outside the base64url alphabet': `${token.slice(0, 69)}+`,
    padded: `${token.slice(0, 68)}==`,
    // Its successor would not fit PostgreSQL's integer.
    'the last generation': formatRefreshToken(randomUUID(), 2 ** 31 - 1),
    'a generation past int4': Buffer.concat([Buffer.alloc(16), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(32)]).toString('base64url'),
    empty: '',
  };
  for (const [what, text] of Object.entries(cases)) t.equal(parseRefreshToken(text), undefined, what);
});

t.test('formatting refuses what no token can carry', async (t) => {
  t.throws(() => formatRefreshToken('not-a-uuid', 0));
  t.throws(() => formatRefreshToken(randomUUID(), -1));
  t.throws(() => formatRefreshToken(randomUUID(), 2 ** 31));
  t.throws(() => formatRefreshToken(randomUUID(), 0, Buffer.alloc(16)));
});
