import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { checkLimit, deleteBatch, deletePageRange } from '../db/batched-delete.js';
import { createBatcher } from '../db/batch.js';
import type { Database, Queryable } from '../db/database.js';
import { InvalidInputError } from '../db/errors.js';
import { decodeCursor, type Page, type PageRequest, pageSize, toPage } from '../db/pagination.js';
import { EFFECTIVE_SCOPES_OF_U, ROLE_NAMES_OF_U } from '../users/permissions-sql.js';
import { formatRefreshToken, parseRefreshToken } from './refresh-token-format.js';

export interface RefreshTokenSettings {
  /** A token unused for this long is dead. */
  idleSeconds: number;
  /** No token of a family outlives its login by more than this. */
  absoluteSeconds: number;
  /** 0: off. Else, for this long after a rotation, the previous token may be presented once more
   * and gets the same successor back (a client that lost the response can recover). */
  graceSeconds: number;
}

export interface RefreshGrant {
  familyId: string;
  userId: string;
  clientId: string;
  /**
   * What was granted at login, less what the user no longer holds (her roles and direct scopes as
   * they are now): a refresh may narrow it further, never widen it past the login's grant.
   */
  scopes: string[];
  /** The user's role names now (for the `roles` claim). */
  roles: string[];
  authTime: Date;
  /** RFC 9449 §5: the DPoP key thumbprint the login's refresh tokens are bound to. */
  dpopJkt?: string;
}

export type RotateResult =
  | { ok: true; token: string; grant: RefreshGrant }
  | {
      ok: false;
      reason:
        | 'unknown'
        | 'wrong_client'
        | 'expired'
        | 'revoked'
        | 'reused'
        | 'user_disabled'
        // Bound to a DPoP key (RFC 9449 §5) and presented without a proof of that key; left unspent.
        | 'wrong_key'
        // The client, as stored now (another instance's cache may be a second behind): disabled,
        // or no longer allowed the password grant, which ends the family.
        | 'client_disabled'
        | 'client_not_allowed';
    };

export interface RefreshTokenInfo extends RefreshGrant {
  username: string;
  issuedAt: Date;
  expiresAt: Date;
}

export type RevokeReason = 'reuse' | 'revoked' | 'user' | 'client' | 'admin';

/** A live login (refresh-token family) as an admin sees it: when and where, never a token. */
export interface RefreshFamilyInfo {
  familyId: string;
  clientId: string;
  scopes: string[];
  createdAt: Date;
  /** The last refresh (null: never refreshed since the login). */
  lastUsedAt: Date | null;
  /** When it ends unless refreshed before: the current token's idle expiry, within the absolute one. */
  expiresAt: Date;
  /** When it ends at the latest, refreshed or not. */
  absoluteExpiresAt: Date;
  /** RFC 9449 §5: its tokens are bound to a DPoP key. */
  dpopBound: boolean;
}

/** What ending one family found: it was live and is ended now, it had already ended, or no such family of that user. */
export type EndFamilyResult = 'ended' | 'already-ended' | 'unknown';

export interface RefreshTokenStore {
  /** Starts a family at login and returns its first token. `familyId`: the id the login's access
   * token already names (its `sid`); a new one when left out. */
  issue(grant: Omit<RefreshGrant, 'familyId' | 'roles'> & { familyId?: string | undefined }): Promise<string>;
  /**
   * Exchanges a token for its successor: exactly once; a second use is reuse and ends the family.
   * `check` sees the grant before anything changes; when it throws, the token stays unspent.
   * Without `check`, the usual case (a live token, used once) takes one statement.
   */
  rotate(token: string, clientId: string, check?: (grant: RefreshGrant) => void, dpopJkt?: string): Promise<RotateResult>;
  /** The token's grant when it is active now (for introspection), else undefined. */
  inspect(token: string): Promise<RefreshTokenInfo | undefined>;
  /** Ends the token's family when it belongs to `clientId`; false when there was nothing to end. */
  revoke(token: string, clientId: string): Promise<boolean>;
  /** Ends every live family of a user or a client; returns how many. */
  revokeAll(owner: { userId: string } | { clientId: string }, reason: RevokeReason, exceptFamilyId?: string): Promise<number>;
  /** A user's live families, ordered by family id; `next` is the cursor of the following page, or null. */
  listFamilies(userId: string, page?: PageRequest): Promise<Page<RefreshFamilyInfo>>;
  /** Ends one family of this user; a family of another user is 'unknown', as a family that never was. */
  revokeFamily(userId: string, familyId: string, reason: RevokeReason): Promise<EndFamilyResult>;
  /**
   * One step of a walk through the tokens (src/db/batched-delete.ts): deletes at most `limit`
   * tokens that expired more than `keepSeconds` ago, from page `fromPage` on.
   */
  purgeTokens(q: Queryable, keepSeconds: number, limit: number, fromPage?: number): Promise<{ deleted: number; nextPage: number | undefined }>;
  /**
   * Deletes at most `limit` families (their tokens go with them) that expired or were revoked
   * more than `keepSeconds` ago, the oldest first; returns how many families.
   */
  purgeFamilies(q: Queryable, keepSeconds: number, limit: number): Promise<number>;
}

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * Where a presented token's row is: by the family and generation it names (its hash must match
 * too), or, for a token from before migration 013 (no name), by its hash alone. Both fragments
 * take $1 family id, $2 generation and $3 hash, so a statement numbers its own parameters from $4.
 */
function locate(token: string): { where: string; params: [string | null, number | null, Buffer] } {
  const name = parseRefreshToken(token);
  return name
    ? { where: NAMED_TOKEN, params: [name.familyId, name.generation, hash(token)] }
    : { where: OLDER_TOKEN, params: [null, null, hash(token)] };
}
const NAMED_TOKEN = 't.family_id = $1::uuid and t.generation = $2::int and t.token_hash = $3';
const OLDER_TOKEN = 't.generation is null and t.token_hash = $3 and $1::uuid is null and $2::int is null';
// Purge batches (src/db/batched-delete.ts): tokens by a walk of the pages (their expiry has only a
// BRIN index); families the oldest first, by their expiry's and revocation's b-trees.
const PURGE_TOKENS = `with gone as (
  delete from refresh_tokens where ctid = any (array(
    select ctid from refresh_tokens where ctid >= $1::tid and ctid < $2::tid and expires_at < $4 limit $3))
  returning 1)
select count(*)::int as n from gone`;
const PURGE_EXPIRED_FAMILIES = `with gone as (
  delete from refresh_token_families where ctid = any (array(
    select ctid from refresh_token_families where expires_at < $1 order by expires_at limit $2))
  returning 1)
select count(*)::int as n from gone`;
const PURGE_REVOKED_FAMILIES = `with gone as (
  delete from refresh_token_families where ctid = any (array(
    select ctid from refresh_token_families where revoked_at < $1 order by revoked_at limit $2))
  returning 1)
select count(*)::int as n from gone`;

const later = (t: Date, seconds: number) => new Date(t.getTime() + seconds * 1000);

// The successor is kept only encrypted under a key that comes from the previous token, which the
// server does not have: only the client presenting that token again can unlock it.
const successorKey = (token: string) => createHash('sha256').update('sigil refresh successor\0').update(token).digest();

function sealSuccessor(previous: string, successor: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', successorKey(previous), iv);
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

function openSuccessor(previous: string, box: Uint8Array): string {
  const b = Buffer.from(box);
  const decipher = createDecipheriv('aes-256-gcm', successorKey(previous), b.subarray(0, 12));
  decipher.setAuthTag(b.subarray(12, 28));
  return Buffer.concat([decipher.update(b.subarray(28)), decipher.final()]).toString('utf8');
}

interface TokenRow {
  family_id: string;
  /** Null: a token from before migration 013, spent when used_at is set. */
  generation: number | null;
  expires_at: Date;
  used_at: Date | null;
  successor: Uint8Array | null;
  grace_used: boolean;
  client_id: string;
  user_id: string;
  scopes: string[];
  roles: string[];
  auth_time: Date;
  family_expires_at: Date;
  revoked_at: Date | null;
  user_disabled: boolean;
  client_disabled: boolean;
  client_may_refresh: boolean;
  dpop_jkt: string | null;
}

// The family's scopes that the user (aliased u) still holds, in the family's order: taking a role
// or a scope away is felt at her next refresh, within one access-token lifetime.
const SCOPES_HELD_NOW = `array(select s from unnest(f.scopes) with ordinality g(s, i)
  where s = any(${EFFECTIVE_SCOPES_OF_U}) order by i)`;

// A family's client always exists (families are deleted with their client).
const SELECT_TOKEN = `
  select t.family_id, t.generation, t.expires_at, t.used_at, t.successor, t.grace_used,
         f.client_id, f.user_id, ${SCOPES_HELD_NOW} as scopes, ${ROLE_NAMES_OF_U} as roles, f.auth_time, f.expires_at as family_expires_at, f.revoked_at, f.dpop_jkt,
         u.disabled as user_disabled, c.disabled as client_disabled, 'password' = any (c.grant_types) as client_may_refresh
  from refresh_tokens t
  join refresh_token_families f on f.id = t.family_id
  join users u on u.id = f.user_id
  join clients c on c.client_id = f.client_id`;

/**
 * The usual rotations, any number of them in one statement (one round trip and one commit for
 * all; concurrent refreshes share it, src/db/batch.ts). A named token (src/tokens/refresh-token-format.ts)
 * is spent by inserting its successor at the next generation, only when every check passes:
 * unexpired, family live, user enabled, the caller is the family's client and that client is
 * enabled and still allowed the password grant. The unique (family_id, generation) is what makes a
 * token spend once: of concurrent uses (in this statement or in others, whose insert it waits for)
 * one inserts and the others conflict and get no row, and a token whose successor exists already
 * conflicts the same way. The presented row is only read, never written. A successor never expires
 * before its predecessor (SUCCESSOR_OUTLIVES). A request left without a
 * row goes to the full transaction, which tells why (reuse, grace retry, expiry…) and acts on it.
 * The user's current roles and scopes come from the same statement (a few index lookups per token).
 *   $1 family ids, $2 generations, $3 token hashes (hex), $4 client_ids, $5 successor hashes (hex),
 *   $6 sealed successors (hex or null), $7 the DPoP key thumbprints of the requests' proofs (or null),
 *   $8 now, $9 now + idle lifetime
 */
const ROTATE_AT_ONCE = `
  with input as (
    select i.family_id, i.generation, decode(i.token_hash, 'hex') as token_hash, i.client_id,
           decode(i.successor_hash, 'hex') as successor_hash, decode(i.sealed, 'hex') as sealed, i.jkt, i.n
    from unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
      with ordinality as i(family_id, generation, token_hash, client_id, successor_hash, sealed, jkt, n)
  ), cur as materialized (
    select i.n, i.family_id, i.generation, i.successor_hash, i.sealed, t.expires_at, f.client_id, f.user_id, u.scopes, u.roles,
           f.auth_time, f.expires_at as family_expires_at, f.dpop_jkt
    from input i
    -- A lateral with a limit: one index lookup per request, whatever the planner knows of the table.
    cross join lateral (
      select t.expires_at from refresh_tokens t
      where t.family_id = i.family_id and t.generation = i.generation and t.token_hash = i.token_hash and t.expires_at > $8
        and t.used_at is null
      limit 1
    ) t
    cross join lateral (
      select f.client_id, f.user_id, f.scopes, f.auth_time, f.expires_at, f.dpop_jkt from refresh_token_families f
      where f.id = i.family_id and f.client_id = i.client_id and f.revoked_at is null and f.expires_at > $8
        and (f.dpop_jkt is null or f.dpop_jkt = i.jkt)
    ) f
    cross join lateral (
      select ${SCOPES_HELD_NOW} as scopes, ${ROLE_NAMES_OF_U} as roles from users u
      where u.id = f.user_id and not u.disabled
    ) u
    where (select not c.disabled and 'password' = any (c.grant_types) from clients c where c.client_id = f.client_id)
  ), successor as (
    insert into refresh_tokens (family_id, generation, token_hash, created_at, expires_at, sealed)
    select family_id, generation + 1, successor_hash, $8, greatest(expires_at, least($9::timestamptz, family_expires_at)), sealed from cur
    on conflict (family_id, generation) do nothing
    returning token_hash
  )
  select cur.n::int, cur.family_id, cur.client_id, cur.user_id, cur.scopes, cur.roles, cur.auth_time, cur.dpop_jkt
  from cur join successor s on s.token_hash = cur.successor_hash`;

interface RotateInput {
  familyId: string;
  generation: number;
  tokenHash: string;
  clientId: string;
  successorHash: string;
  sealed: string | null;
  jkt: string | null;
}

type RotatedRow = Pick<TokenRow, 'family_id' | 'client_id' | 'user_id' | 'scopes' | 'roles' | 'auth_time'> & { dpop_jkt?: string | null };

const REVOKE_ALL = 'update refresh_token_families set revoked_at = $2, revoked_reason = $3';

// Live: not revoked, before its absolute end, and its current token (the unspent one of the last
// generation, or an older token's: nulls sort first, and a family holds an unspent older token only
// while it has no unspent named one) not idle past its expiry. The current token was made by the
// last refresh, unless it is the login's own (generation 0, or an older token made with the family).
const LIST_FAMILIES = `
  select f.id, f.client_id, f.scopes, f.created_at, f.expires_at, f.dpop_jkt is not null as dpop_bound,
         case when t.generation > 0 then t.created_at else nullif(t.created_at, f.created_at) end as last_used_at,
         t.expires_at as idle_expires_at
  from refresh_token_families f
  cross join lateral (
    select t.generation, t.created_at, t.expires_at from refresh_tokens t
    where t.family_id = f.id and t.used_at is null
    order by t.generation desc limit 1
  ) t
  where f.user_id = $1 and f.revoked_at is null and f.expires_at > $2 and t.expires_at > $2
    and ($3::uuid is null or f.id > $3::uuid)
  order by f.id limit $4`;

interface FamilyRow {
  id: string;
  client_id: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date;
  dpop_bound: boolean;
  last_used_at: Date | null;
  idle_expires_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toFamilyInfo = (r: FamilyRow): RefreshFamilyInfo => ({
  familyId: r.id,
  clientId: r.client_id,
  scopes: r.scopes,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
  expiresAt: new Date(Math.min(new Date(r.idle_expires_at).getTime(), new Date(r.expires_at).getTime())),
  absoluteExpiresAt: new Date(r.expires_at),
  dpopBound: r.dpop_bound,
});

const toGrant = (r: RotatedRow): RefreshGrant => ({
  familyId: r.family_id,
  userId: r.user_id,
  clientId: r.client_id,
  scopes: r.scopes,
  roles: r.roles,
  authTime: new Date(r.auth_time),
  ...(r.dpop_jkt && { dpopJkt: r.dpop_jkt }),
});

export function createRefreshTokenStore(db: Database, s: RefreshTokenSettings, now: () => Date = () => new Date()): RefreshTokenStore {
  const revokeFamily = (q: Queryable, familyId: string, reason: RevokeReason, at: Date) =>
    q.query('update refresh_token_families set revoked_at = $2, revoked_reason = $3 where id = $1 and revoked_at is null', [
      familyId,
      at,
      reason,
    ]);

  // SUCCESSOR_OUTLIVES: a named token is spent while its successor's row exists, and the purge
  // deletes rows by expiry; were a successor to expire first (the idle lifetime lowered between the
  // two), purging it would make its spent predecessor look unspent again. Both paths never give a
  // successor an expiry before its predecessor's.
  const tokenExpiry = (at: Date, familyExpiresAt: Date, predecessorExpiresAt = 0) =>
    new Date(Math.max(predecessorExpiresAt, Math.min(later(at, s.idleSeconds).getTime(), familyExpiresAt.getTime())));

  /** Inserts the successor of `row` at `generation`; false when that generation exists already. */
  const insertSuccessor = async (q: Queryable, row: TokenRow, token: string, generation: number, at: Date, sealed: Buffer | null) =>
    (
      await q.query(
        `insert into refresh_tokens (family_id, generation, token_hash, created_at, expires_at, sealed) values ($1, $2, $3, $4, $5, $6)
         on conflict (family_id, generation) do nothing returning 1`,
        [row.family_id, generation, hash(token), at, tokenExpiry(at, new Date(row.family_expires_at), new Date(row.expires_at).getTime()), sealed],
      )
    ).rows.length > 0;

  // A failed statement (a deadlock between two batches holding the same tokens, say) commits
  // nothing, so each of its requests simply takes the full transaction instead.
  const rotations = createBatcher<RotateInput, RotatedRow | undefined>(async (inputs) => {
    const t = now();
    try {
      const r = await db.query<RotatedRow & { n: number }>(ROTATE_AT_ONCE, [
        inputs.map((i) => i.familyId),
        inputs.map((i) => i.generation),
        inputs.map((i) => i.tokenHash),
        inputs.map((i) => i.clientId),
        inputs.map((i) => i.successorHash),
        inputs.map((i) => i.sealed),
        inputs.map((i) => i.jkt),
        t,
        later(t, s.idleSeconds),
      ]);
      const byN = new Map(r.rows.map((row) => [row.n, row]));
      return inputs.map((_, i) => byN.get(i + 1));
    } catch {
      return inputs.map(() => undefined);
    }
  });

  interface Spent {
    at: Date;
    sealed: Uint8Array | null;
    graceUsed: boolean;
    claimRetry(): Promise<boolean>;
  }

  /**
   * How the token was spent, if it was: when, the successor sealed for a retry in the grace window,
   * and a claim on that one retry (false when another retry had it). A named token is spent by its
   * successor's row, which holds both. A token from before migration 013 is spent by its own row,
   * as is a named one that an instance still running the code from before it rotated.
   */
  const spending = async (tx: Queryable, token: string, row: TokenRow): Promise<Spent | undefined> => {
    if (row.used_at) {
      return {
        at: new Date(row.used_at),
        sealed: row.successor,
        graceUsed: row.grace_used,
        claimRetry: async () =>
          (await tx.query('update refresh_tokens set grace_used = true where family_id = $1 and token_hash = $2 and not grace_used returning 1', [row.family_id, hash(token)]))
            .rows.length > 0,
      };
    }
    if (row.generation === null) return undefined;
    // Any later generation: the purge walks pages, so it may delete the successor a batch before
    // this row, while one after it remains (the successor alone holds the retry's box).
    const r = await tx.query<{ generation: number; created_at: Date; sealed: Uint8Array | null; grace_used: boolean }>(
      'select generation, created_at, sealed, grace_used from refresh_tokens where family_id = $1 and generation > $2 order by generation limit 1',
      [row.family_id, row.generation],
    );
    const later = r.rows[0];
    if (!later) return undefined;
    const isSuccessor = later.generation === row.generation + 1;
    return {
      at: new Date(later.created_at),
      sealed: isSuccessor ? later.sealed : null,
      graceUsed: later.grace_used,
      claimRetry: async () =>
        (await tx.query('update refresh_tokens set grace_used = true where family_id = $1 and generation = $2 and not grace_used returning 1', [row.family_id, later.generation]))
          .rows.length > 0,
    };
  };

  /** Every case, each with its reason and its consequence (reuse ends the family, a grace retry…). */
  const rotateInTransaction = (token: string, clientId: string, check: (grant: RefreshGrant) => void, jkt: string | null) =>
    db.transaction(async (tx): Promise<RotateResult> => {
      const t = now();
      const at = locate(token);
      // FOR UPDATE: concurrent uses of one token in this path queue here; against the batched
      // statement, the successor's unique generation decides (below).
      const row = (await tx.query<TokenRow>(`${SELECT_TOKEN} where ${at.where} for update of t`, at.params)).rows[0];
      if (!row) return { ok: false, reason: 'unknown' };
      if (row.client_id !== clientId) return { ok: false, reason: 'wrong_client' };
      // Before reuse detection: a thief without the key must not be able to end the login.
      if (row.dpop_jkt !== null && row.dpop_jkt !== jkt) return { ok: false, reason: 'wrong_key' };
      if (row.revoked_at) return { ok: false, reason: 'revoked' };
      if (row.client_disabled) return { ok: false, reason: 'client_disabled' };
      if (!row.client_may_refresh) {
        // Refresh tokens come only with the password grant: a client that lost it loses them.
        await revokeFamily(tx, row.family_id, 'client', t);
        return { ok: false, reason: 'client_not_allowed' };
      }
      if (row.user_disabled) {
        await revokeFamily(tx, row.family_id, 'user', t);
        return { ok: false, reason: 'user_disabled' };
      }
      const spentAlready = async (spent: Spent): Promise<RotateResult> => {
        const inGrace = s.graceSeconds > 0 && t.getTime() - spent.at.getTime() <= s.graceSeconds * 1000;
        if (inGrace && !spent.graceUsed && spent.sealed) {
          check(toGrant(row));
          if (await spent.claimRetry()) return { ok: true, token: openSuccessor(token, spent.sealed), grant: toGrant(row) };
        }
        // RFC 9700 §4.14.2: a rotated token used again means it leaked; end the whole family.
        await revokeFamily(tx, row.family_id, 'reuse', t);
        return { ok: false, reason: 'reused' };
      };
      const spent = await spending(tx, token, row);
      if (spent) return spentAlready(spent);
      if (new Date(row.expires_at) <= t || new Date(row.family_expires_at) <= t) return { ok: false, reason: 'expired' };

      check(toGrant(row));
      // An older token's successor takes the family's next generation: 0, unless an instance still
      // running the code from before migration 013 rotated a named token of it into this one.
      const generation =
        row.generation !== null
          ? row.generation + 1
          : ((await tx.query<{ g: number }>('select coalesce(max(generation) + 1, 0)::int as g from refresh_tokens where family_id = $1', [row.family_id])).rows[0]?.g ?? 0);
      const successor = formatRefreshToken(row.family_id, generation);
      const sealed = s.graceSeconds > 0 ? sealSuccessor(token, successor) : null;
      if (!(await insertSuccessor(tx, row, successor, generation, t, row.generation === null ? null : sealed))) {
        // The batched statement spent it meanwhile (this statement sees its successor committed).
        const meanwhile = await spending(tx, token, row);
        if (meanwhile) return spentAlready(meanwhile);
        await revokeFamily(tx, row.family_id, 'reuse', t);
        return { ok: false, reason: 'reused' };
      }
      if (row.generation === null) {
        await tx.query('update refresh_tokens set used_at = $2, successor = $3 where generation is null and token_hash = $1', [hash(token), t, sealed]);
      }
      return { ok: true, token: successor, grant: toGrant(row) };
    });

  return {
    async issue({ userId, clientId, scopes, authTime, dpopJkt, familyId = randomUUID() }) {
      const t = now();
      const familyExpiresAt = later(t, s.absoluteSeconds);
      const token = formatRefreshToken(familyId, 0);
      // One statement, so atomic without a transaction (one round trip instead of four).
      await db.query(
        `with family as (
           insert into refresh_token_families (id, client_id, user_id, scopes, auth_time, created_at, expires_at, dpop_jkt)
           values ($1, $2, $3, $4, $5, $6, $7, $10) returning id
         )
         insert into refresh_tokens (family_id, generation, token_hash, created_at, expires_at) select id, 0, $8, $6, $9 from family`,
        [familyId, clientId, userId, scopes, authTime, t, familyExpiresAt, hash(token), tokenExpiry(t, familyExpiresAt), dpopJkt ?? null],
      );
      return token;
    },

    async rotate(token, clientId, check, dpopJkt) {
      const jkt = dpopJkt ?? null;
      const name = parseRefreshToken(token);
      if (!check && name) {
        const successor = formatRefreshToken(name.familyId, name.generation + 1);
        const sealed = s.graceSeconds > 0 ? sealSuccessor(token, successor).toString('hex') : null;
        const row = await rotations.load({
          ...name,
          tokenHash: hash(token).toString('hex'),
          clientId,
          successorHash: hash(successor).toString('hex'),
          sealed,
          jkt,
        });
        if (row) return { ok: true, token: successor, grant: toGrant(row) };
      }
      return rotateInTransaction(token, clientId, check ?? (() => {}), jkt);
    },

    async inspect(token) {
      const at = locate(token);
      const r = await db.query<TokenRow & { username: string; created_at: Date }>(
        `select t.family_id, t.generation, t.expires_at, t.used_at, t.created_at, f.client_id, f.user_id,
                ${SCOPES_HELD_NOW} as scopes, ${ROLE_NAMES_OF_U} as roles, f.auth_time,
                f.expires_at as family_expires_at, f.revoked_at, u.disabled as user_disabled, u.username
         from refresh_tokens t
         join refresh_token_families f on f.id = t.family_id
         join users u on u.id = f.user_id
         join clients c on c.client_id = f.client_id
         where ${at.where} and t.used_at is null and f.revoked_at is null
           and not exists (select 1 from refresh_tokens s where s.family_id = t.family_id and s.generation = t.generation + 1)
           and t.expires_at > $4 and f.expires_at > $4
           and not u.disabled and not c.disabled and 'password' = any (c.grant_types)`,
        [...at.params, now()],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      return { ...toGrant(row), username: row.username, issuedAt: new Date(row.created_at), expiresAt: new Date(row.expires_at) };
    },

    async revoke(token, clientId) {
      const at = locate(token);
      const r = await db.query(
        `update refresh_token_families f set revoked_at = $5, revoked_reason = 'revoked'
         from refresh_tokens t
         where ${at.where} and f.id = t.family_id and f.client_id = $4 and f.revoked_at is null
         returning f.id`,
        [...at.params, clientId, now()],
      );
      return r.rows.length > 0;
    },

    async revokeAll(owner, reason, exceptFamilyId) {
      const r =
        'userId' in owner
          ? await db.query(
              `${REVOKE_ALL} where user_id = $1 and revoked_at is null and expires_at > $2
               and ($4::uuid is null or id <> $4::uuid) returning id`,
              [owner.userId, now(), reason, exceptFamilyId ?? null],
            )
          : await db.query(`${REVOKE_ALL} where client_id = $1 and revoked_at is null and expires_at > $2 returning id`, [
              owner.clientId,
              now(),
              reason,
            ]);
      return r.rows.length;
    },

    async listFamilies(userId, page = {}) {
      const limit = pageSize(page.limit);
      const after = decodeCursor(page.after);
      // Cursors carry a family id; one that is not a uuid was not made here (and must not reach the cast).
      if (after !== undefined && !UUID.test(after)) throw new InvalidInputError('the after cursor is not one this server handed out', { field: 'after' });
      if (!UUID.test(userId)) return { items: [], next: null };
      const r = await db.query<FamilyRow>(LIST_FAMILIES, [userId, now(), after ?? null, limit + 1]);
      return toPage(r.rows.map(toFamilyInfo), limit, (f) => f.familyId);
    },

    async revokeFamily(userId, familyId, reason) {
      if (!UUID.test(userId) || !UUID.test(familyId)) return 'unknown';
      // One statement: the family is found by id *and* owner, and ended only if still live.
      const r = await db.query<{ found: boolean; ended: boolean }>(
        `with f as (select id, revoked_at from refresh_token_families where id = $1 and user_id = $2),
         ended as (
           update refresh_token_families r set revoked_at = $3, revoked_reason = $4
           from f where r.id = f.id and f.revoked_at is null returning r.id
         )
         select exists (select 1 from f) as found, exists (select 1 from ended) as ended`,
        [familyId, userId, now(), reason],
      );
      const row = r.rows[0];
      return row?.ended ? 'ended' : row?.found ? 'already-ended' : 'unknown';
    },

    purgeTokens(q, keepSeconds, limit, fromPage) {
      return deletePageRange(q, 'refresh_tokens', PURGE_TOKENS, [later(now(), -keepSeconds)], limit, fromPage);
    },

    async purgeFamilies(q, keepSeconds, limit) {
      const before = later(now(), -keepSeconds);
      checkLimit(limit);
      const expired = await deleteBatch(q, PURGE_EXPIRED_FAMILIES, [before, limit]);
      if (expired >= limit) return expired;
      return expired + (await deleteBatch(q, PURGE_REVOKED_FAMILIES, [before, limit - expired]));
    },
  };
}
