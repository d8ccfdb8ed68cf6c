import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../db/errors.js';
import type { StoredKey } from '../keys/key-repository.js';
import { changeJson, keyJson, keySetVersion, keyVersion, newestFirst } from '../keys/key-view.js';
import type { KeyChangeResult, KeyRotation } from '../keys/rotation.js';
import type { AdminContext } from './admin-api.js';
import { ifMatch, problems, sendWithEtag } from './http.js';

/** The signing keys as the CLI reaches them: the stored set, and the one rotation service. */
export interface SigningKeyAdmin {
  list(): Promise<StoredKey[]>;
  rotation: Pick<KeyRotation, 'rotate' | 'revoke'>;
}

const STATES = ['pending', 'active', 'retired', 'revoked', 'removed'] as const;
const KeySchema = z
  .object({
    kid: z.string(),
    alg: z.string(),
    state: z.enum(STATES),
    created_at: z.string().nullable(),
    activates_at: z.string().nullable().describe('when it starts signing'),
    retires_at: z.string().nullable().describe('when its successor takes over (null while it is the newest key)'),
    removes_at: z.string().nullable().describe('when it leaves the JWKS'),
    revoked_at: z.string().nullable(),
    kek_id: z.string().describe('which key-encryption key wraps its private half (an id, not key material)'),
  })
  .describe('a signing key: its schedule, never key material');
const ChangeSchema = z.object({
  changed: z.boolean().describe('false when there was nothing to do (a key already pending, a key already revoked)'),
  events: z.array(z.object({ type: z.string(), kid: z.string().optional() }).loose()),
  keys: z.array(KeySchema).describe('the key set after the change, oldest first'),
});
const KidParams = z.object({ kid: z.string().min(1).max(255) });
const notFound = 'no signing key with this kid';

export function keysRoutes(app: FastifyInstance, { signingKeys, audit, now }: AdminContext & { signingKeys: SigningKeyAdmin; now: () => Date }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['admin: keys'];

  /** One audit line per change, naming the key it is about (the new key of a rotation); none for a no-op. */
  const auditChange = (req: Parameters<AdminContext['audit']>[0], action: string, result: KeyChangeResult, kid?: string) => {
    const target = kid ?? result.events.find((e) => e.type === 'created')?.kid;
    if (result.changed && target) audit(req, action, `key:${target}`);
  };
  const sendChange = (reply: Parameters<typeof sendWithEtag>[0], result: KeyChangeResult, version: string) =>
    sendWithEtag(reply, version, changeJson(result, now()));

  r.get(
    '/keys',
    { config: { access: 'read' }, schema: { tags, summary: 'List the signing keys, newest first (the ETag is the whole set)', response: { 200: z.object({ items: z.array(KeySchema) }), ...problems(401, 403) } } },
    async (_req, reply) => {
      const keys = await signingKeys.list();
      const t = now();
      return sendWithEtag(reply, keySetVersion(keys), { items: newestFirst(keys).map((k) => keyJson(k, t)) });
    },
  );
  r.get(
    '/keys/:kid',
    { config: { access: 'read', notFound }, schema: { tags, summary: 'Get a signing key', params: KidParams, response: { 200: KeySchema, ...problems(401, 403, 404) } } },
    async (req, reply) => {
      const k = (await signingKeys.list()).find((s) => s.kid === req.params.kid);
      if (!k) throw new NotFoundError(notFound);
      return sendWithEtag(reply, keyVersion(k), keyJson(k, now()));
    },
  );
  for (const [path, emergency] of [
    ['/keys/rotate', false],
    ['/keys/rotate-now', true],
  ] as const) {
    r.post(
      path,
      {
        config: { access: 'write' },
        schema: {
          tags,
          summary: emergency
            ? 'Emergency rotation: a new key signs at once; the current one retires (still published until its tokens expire)'
            : 'Create the next key, published for the full lead time before it signs (nothing to do if one is already pending)',
          description: "If-Match takes the ETag of GET /keys: the change applies only to the key set as it was read.",
          response: { 200: ChangeSchema, ...problems(401, 403, 409, 412) },
        },
      },
      async (req, reply) => {
        const result = await signingKeys.rotation.rotate({ now: emergency, expectedVersion: ifMatch(req) });
        auditChange(req, emergency ? 'key.rotate_now' : 'key.rotate', result);
        return sendChange(reply, result, keySetVersion(result.keys));
      },
    );
  }
  r.post(
    '/keys/:kid/revoke',
    {
      config: { access: 'write', notFound },
      schema: {
        tags,
        summary: 'Compromised key: out of the JWKS at once, so the tokens it signed stop verifying (a new key signs if it was the signing key)',
        description: 'If-Match takes the ETag of GET /keys/{kid}. The ETag of the answer is the revoked key\'s.',
        params: KidParams,
        response: { 200: ChangeSchema, ...problems(401, 403, 404, 409, 412) },
      },
    },
    async (req, reply) => {
      const result = await signingKeys.rotation.revoke(req.params.kid, { expectedVersion: ifMatch(req) });
      auditChange(req, 'key.revoke', result, req.params.kid);
      const revoked = result.keys.find((k) => k.kid === req.params.kid);
      return sendChange(reply, result, revoked ? keyVersion(revoked) : keySetVersion(result.keys));
    },
  );
}
