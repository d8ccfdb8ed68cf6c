import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A link that does not resolve: the file it is in, the target as written, and why. */
export interface BrokenLink {
  file: string;
  target: string;
  reason: string;
}

/** The markdown outside fenced code blocks, with inline code spans and HTML comments blanked. */
function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .replace(/<!--[\s\S]*?-->/g, '')
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return '';
      }
      return inFence ? '' : line;
    })
    .join('\n');
}

/**
 * GitHub's heading anchor: lower case, punctuation dropped (letters, digits, spaces, `-` and `_`
 * kept), spaces to `-`; inline code, emphasis and link syntax count only by their text.
 */
export function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers: its headings (duplicates numbered, as GitHub does) and `<a id>`/`name`. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) if (m[1]) anchors.add(m[1]);
  }
  return anchors;
}

/** The targets of inline links and images, `[text](target "title")`, outside code. */
export function linkTargets(markdown: string): string[] {
  const text = prose(markdown).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
}

/**
 * The relative links and anchors of one markdown file that do not resolve. `read` returns a
 * file's content (undefined when it does not exist), so that a check can run on inline text too.
 */
export function brokenLinks(
  file: string,
  markdown: string,
  read: (path: string) => string | undefined = readMarkdown,
  exists: (path: string) => boolean = existsSync,
): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: … are not checked here
    const [pathPart = '', anchor] = target.split('#', 2);
    const path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    if (pathPart !== '' && !exists(path)) {
      broken.push({ file, target, reason: 'no such file' });
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!path.endsWith('.md')) {
      broken.push({ file, target, reason: 'an anchor into a file that is not markdown' });
      continue;
    }
    const content = path === file ? markdown : read(path);
    if (content === undefined || !anchorsOf(content).has(decodeURIComponent(anchor))) {
      broken.push({ file, target, reason: 'no such heading' });
    }
  }
  return broken;
}

function readMarkdown(path: string): string | undefined {
  return existsSync(path) && statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
}
