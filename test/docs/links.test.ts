import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { anchorsOf, brokenLinks, githubSlug, linkTargets } from '../helpers/markdown-links.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manual = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
];

t.test('every relative link and #anchor in README.md and docs/ resolves', async (t) => {
  t.ok(manual.length >= 5, 'README.md and the docs/ chapters');
  for (const file of manual) {
    const broken = brokenLinks(file, readFileSync(file, 'utf8'));
    t.same(broken, [], `${file.slice(root.length)}: every relative link resolves`);
  }
});

t.test('GitHub-style anchors', async (t) => {
  t.equal(githubSlug('The `sigil` command'), 'the-sigil-command');
  t.equal(githubSlug('Introspection (RFC 7662)'), 'introspection-rfc-7662');
  t.equal(githubSlug('Health, readiness and metrics'), 'health-readiness-and-metrics');
  t.equal(githubSlug('What changed (before → after)'), 'what-changed-before--after');
  t.equal(githubSlug('Targets: met, or the gap and its cause'), 'targets-met-or-the-gap-and-its-cause');
  t.same([...anchorsOf('# A\n## Notes\n### Notes\n```\n# not a heading\n```\n<a id="x"></a>')], ['a', 'notes', 'notes-1', 'x']);
});

t.test('the check fails on a broken link or anchor', async (t) => {
  const file = join(root, 'docs', 'fixture.md');
  const text = [
    '# Fixture',
    'Fine: [ok](#fixture), [readme](../README.md), [quick](../README.md#quick-start), [web](https://example.com/#x).',
    'Broken: [gone](missing.md), [anchor](#nowhere), [far](../README.md#no-such-heading).',
    'Not links: `[code](nope.md)`, and in a fence:',
    '```',
    '[fenced](nope.md)',
    '```',
  ].join('\n');
  t.same(linkTargets('[a](b.md) ![i](c.png "title") `[x](y)`'), ['b.md', 'c.png']);
  t.same(
    brokenLinks(file, text).map((b) => [b.target, b.reason]),
    [
      ['missing.md', 'no such file'],
      ['#nowhere', 'no such heading'],
      ['../README.md#no-such-heading', 'no such heading'],
    ],
  );
});
