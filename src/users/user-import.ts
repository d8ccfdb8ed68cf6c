import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Database, Queryable } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { readLineBatches } from './jsonl-lines.js';
import { parseHash } from './legacy-hashes.js';
import { RoleNamesSchema, ScopesSchema } from './input.js';
import { MAX_PASSWORD_LENGTH, type PasswordHasher } from './passwords.js';
import { createUserImportRepository, type ImportRow } from './user-import-repository.js';
import { UsernameSchema } from './user-service.js';

export type ConflictMode = 'skip' | 'update' | 'fail';

export interface ImportOptions {
  onConflict?: ConflictMode;
  dryRun?: boolean;
  /** Called after each batch. */
  onProgress?(progress: { lines: number }): void;
  /** Called for each rejected line as it is found (the summary keeps only the first ones). */
  onRejected?(rejection: LineNote): void;
}

export interface LineNote {
  line: number;
  reason: string;
}

export interface ImportSummary {
  lines: number;
  imported: number;
  updated: number;
  skipped: number;
  rejected: number;
  /** The first MAX_LISTED rejected lines, with reasons that never quote the line. */
  rejections: LineNote[];
  /** Lines imported with a hash whose parameters are below today's advice. */
  weak: number;
  weakLines: LineNote[];
  dryRun: boolean;
}

export interface UserImporter {
  run(input: Readable, options?: ImportOptions): Promise<ImportSummary>;
}

/** Lists in the summary stop here, so a file of a million bad lines still has a small summary. */
export const MAX_LISTED = 1000;
export const DEFAULT_BATCH_SIZE = 1000;
/** Far above any real line (a username, a hash, a few flags), far below memory trouble. */
export const MAX_LINE_BYTES = 64 * 1024;

const LineSchema = z.object({
  username: z.unknown(),
  password: z.string('password must be a string').min(1, 'password must not be empty').max(MAX_PASSWORD_LENGTH, `password must be at most ${MAX_PASSWORD_LENGTH} characters`).optional(),
  password_hash: z.string('password_hash must be a string').optional(),
  disabled: z.boolean('disabled must be true or false').optional(),
  roles: RoleNamesSchema.optional(),
  scopes: ScopesSchema.optional(),
});

/** What became of a line: a reason when it was rejected. */
type Outcome = 'imported' | 'updated' | 'skipped' | (string & {});

interface Candidate {
  line: number;
  username: string;
  key: string;
  password?: string;
  passwordHash?: string;
  disabled: boolean;
  /** As given (absent: none for a new user, hers unchanged on an update); deduplicated. */
  roles?: string[];
  scopes?: string[];
  roleIds?: string[];
  weakness?: string;
}

/** `scopes[2] is not …` for an item, the message alone when it names its field already. */
function issueText(issue: z.core.$ZodIssue | undefined): string {
  const [field = 'line', item] = issue?.path ?? [];
  const message = issue?.message ?? 'invalid';
  if (typeof item === 'number') return `${String(field)}[${item}] ${message}`;
  return message.startsWith(String(field)) ? message : `${String(field)}: ${issue?.code === 'too_big' ? message : 'invalid'}`;
}

const USERNAME_CHARS = /^[^\p{Cc}]+$/u;

/**
 * The common line, a username and a password_hash (and maybe `disabled`), accepted without the
 * schemas' per-call cost: at tens of thousands of lines a second it showed in the profile. It
 * only accepts what the schemas accept, with the same result; anything else goes through them,
 * and they word the reasons.
 */
function plainLine(v: Record<string, unknown>, line: number): Candidate | undefined {
  const { username, password_hash: passwordHash, disabled } = v;
  if (typeof username !== 'string' || typeof passwordHash !== 'string') return undefined;
  if (v.password !== undefined || v.roles !== undefined || v.scopes !== undefined) return undefined;
  if (disabled !== undefined && typeof disabled !== 'boolean') return undefined;
  const name = username.trim();
  if (name.length < 1 || name.length > 255 || !USERNAME_CHARS.test(name)) return undefined;
  return { line, username: name, key: name.toLowerCase(), passwordHash, disabled: disabled ?? false };
}

/** One line to a candidate user or the reason it is refused. Reasons name the field, never its value. */
function parseLine(text: string, line: number): Candidate | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not a JSON object' };
  const plain = plainLine(value as Record<string, unknown>, line);
  if (plain) return withHash(plain);
  const fields = LineSchema.safeParse(value);
  if (!fields.success) return { error: issueText(fields.error.issues[0]) };
  const f = fields.data;
  const username = UsernameSchema.safeParse(f.username);
  if (!username.success) {
    const message = typeof f.username === 'string' ? (username.error.issues[0]?.message ?? 'invalid username') : 'username must be a string';
    return { error: message };
  }
  if ((f.password === undefined) === (f.password_hash === undefined)) {
    return { error: 'give either password or password_hash, not both or neither' };
  }
  const candidate: Candidate = { line, username: username.data, key: username.data.toLowerCase(), disabled: f.disabled ?? false };
  if (f.password !== undefined) candidate.password = f.password;
  else candidate.passwordHash = f.password_hash as string;
  if (f.roles) candidate.roles = f.roles;
  if (f.scopes) candidate.scopes = f.scopes;
  return withHash(candidate);
}

/** The candidate with its hash's strength noted, or the reason its hash is refused. */
function withHash(c: Candidate): Candidate | { error: string } {
  if (c.passwordHash === undefined) return c;
  const parsed = parseHash(c.passwordHash);
  if ('error' in parsed) return { error: parsed.error };
  if (parsed.weakness) c.weakness = parsed.weakness;
  return c;
}

/**
 * `sigil users import`: JSON Lines in, users out, in batches of bounded size, each batch one
 * transaction. A line is written whole or not at all, and a bad line never undoes the ones before
 * it. Rows written by this run are told apart from the users already there by their updated_at
 * (at or after the run's start), so a name repeated in the file is found without holding every
 * name of the file in memory.
 */
export function createUserImporter(
  db: Database,
  hasher: PasswordHasher,
  { batchSize = DEFAULT_BATCH_SIZE, maxLineBytes = MAX_LINE_BYTES } = {},
): UserImporter {
  return {
    async run(input, { onConflict = 'skip', dryRun = false, onProgress, onRejected } = {}) {
      const summary: ImportSummary = {
        lines: 0,
        imported: 0,
        updated: 0,
        skipped: 0,
        rejected: 0,
        rejections: [],
        weak: 0,
        weakLines: [],
        dryRun,
      };
      const reject = (line: number, reason: string) => {
        summary.rejected++;
        const note = { line, reason };
        if (summary.rejections.length < MAX_LISTED) summary.rejections.push(note);
        onRejected?.(note);
      };
      const since = await createUserImportRepository(db).clock();
      // A dry run writes nothing, so earlier lines are not in the database to be found there.
      const seenInDryRun = dryRun ? new Set<string>() : undefined;

      /** Writes (or, dry, checks) candidates whose keys are distinct; returns the reasons of those refused. */
      const write = async (batch: Candidate[]) => {
        const tx = async (q: Queryable) => {
          const repo = createUserImportRepository(q);
          const outcome = new Map<Candidate, Outcome>();
          const named = batch.filter((c) => c.roles?.length);
          if (named.length > 0) {
            // One lookup for the batch's roles, in its transaction: a role deleted before the
            // insert then fails its foreign key, and the batch falls back to row by row.
            const ids = await repo.roleIds([...new Set(named.flatMap((c) => c.roles as string[]))]);
            for (const c of named) {
              const roleIds = (c.roles as string[]).map((r) => ids.get(r.toLowerCase()));
              const unknown = roleIds.indexOf(undefined);
              if (unknown === -1) c.roleIds = roleIds as string[];
              else outcome.set(c, `roles[${unknown}] names no existing role`);
            }
          }
          const ready = batch.filter((c) => !outcome.has(c));
          const row = (c: Candidate): ImportRow => ({
            username: c.username,
            passwordHash: c.passwordHash as string,
            disabled: c.disabled,
            scopes: c.scopes,
            roleIds: c.roles && (c.roleIds ?? []),
          });
          // Inserted first, looked up after: on a fresh import every name is new, and the batch is
          // one statement. Only the names the insert found taken are looked up, to tell an earlier
          // line of this run from a user that was there before.
          const inserted = dryRun ? new Set<string>() : await repo.insert(ready.map(row));
          const taken = ready.filter((c) => !inserted.has(c.username));
          const existing = taken.length > 0 ? await repo.existing(taken.map((c) => c.username), since) : new Map();
          const known: Candidate[] = [];
          for (const c of ready) {
            if (inserted.has(c.username)) {
              outcome.set(c, 'imported');
              continue;
            }
            const e = existing.get(c.username);
            if (e?.sinceRun || seenInDryRun?.has(c.key)) outcome.set(c, 'the username is on an earlier line of the file');
            else if (!e) outcome.set(c, dryRun ? 'imported' : 'the user was created or deleted meanwhile');
            else if (onConflict === 'skip') outcome.set(c, 'skipped');
            else if (onConflict === 'fail') outcome.set(c, 'a user with this username already exists');
            else known.push(c);
          }
          const updated = dryRun ? new Set(known.map((c) => c.username)) : await repo.update(known.map(row));
          for (const c of known) outcome.set(c, updated.has(c.username) ? 'updated' : 'the user was deleted meanwhile');
          return outcome;
        };
        return dryRun ? tx(db) : db.transaction(tx);
      };

      const settle = (outcome: Map<Candidate, Outcome>) => {
        for (const [c, o] of outcome) {
          if (o === 'imported' || o === 'updated') {
            if (o === 'imported') summary.imported++;
            else summary.updated++;
            seenInDryRun?.add(c.key);
            if (c.weakness) {
              summary.weak++;
              if (summary.weakLines.length < MAX_LISTED) summary.weakLines.push({ line: c.line, reason: c.weakness });
            }
          } else if (o === 'skipped') summary.skipped++;
          else reject(c.line, o);
        }
      };

      let pending: Candidate[] = [];
      // One batch is written while the next is read and parsed; each write starts after the one
      // before has committed, so it sees the users that one wrote.
      let writing: Promise<void> = Promise.resolve();
      const flush = async () => {
        const batch = pending;
        pending = [];
        const previous = writing;
        writing = (async () => {
          await previous;
          await store(batch);
        })();
        // Surfaced at the next flush (or the end); marked handled meanwhile.
        writing.catch(() => {});
        await previous;
      };
      const hash = async (c: Candidate) => {
        c.passwordHash = await hasher.hash(c.password as string);
        c.password = undefined;
      };
      const store = async (batch: Candidate[]) => {
        if (batch.length === 0) return;
        // Plain passwords are hashed before the transaction opens, so it stays short; the
        // hasher's gate bounds how many argon2 hashes run at once.
        await Promise.all(
          batch.flatMap((c) => (c.password === undefined ? [] : [hash(c)])),
        );
        try {
          settle(await write(batch));
        } catch (err) {
          if (isDatabaseUnavailable(err) || batch.length === 1) throw err;
          // A row the database refused (a constraint the line checks missed): retry one by one,
          // so only that row is rejected.
          for (const c of batch) {
            try {
              settle(await write([c]));
            } catch (rowErr) {
              if (isDatabaseUnavailable(rowErr)) throw rowErr;
              const constraint = (rowErr as { constraint?: unknown }).constraint;
              reject(c.line, `the database refused the user${typeof constraint === 'string' ? ` (${constraint})` : ''}`);
            }
          }
        }
        onProgress?.({ lines: summary.lines });
      };

      const inBatch = new Map<string, number>();
      for await (const lines of readLineBatches(input, maxLineBytes)) {
        for (const line of lines) {
          summary.lines = line.number;
          if ('tooLong' in line) {
            reject(line.number, `line longer than ${maxLineBytes} bytes`);
            continue;
          }
          if (line.text.trim() === '') continue;
          const parsed = parseLine(line.text, line.number);
          if ('error' in parsed) {
            reject(line.number, parsed.error);
            continue;
          }
          const candidate = parsed;
          const earlier = inBatch.get(candidate.key);
          if (earlier !== undefined) {
            reject(line.number, `the username is on an earlier line of the file (line ${earlier})`);
            continue;
          }
          inBatch.set(candidate.key, line.number);
          pending.push(candidate);
          if (pending.length >= batchSize) {
            inBatch.clear();
            await flush();
          }
        }
      }
      await flush();
      await writing;
      // A repeated name is refused when read, the lines of its batch when the batch is written.
      summary.rejections.sort((a, b) => a.line - b.line);
      return summary;
    },
  };
}
