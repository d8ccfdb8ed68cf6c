import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClientService } from '../clients/client-service.js';
import type { Audit } from '../ops/audit.js';
import type { RefreshTokenStore } from '../tokens/refresh-tokens.js';
import type { RoleService } from '../users/role-service.js';
import type { UserService } from '../users/user-service.js';
import { clientsRoutes } from './clients-routes.js';
import { type AdminAccess, type AdminCaller, createDoor, type DoorDeps } from './door.js';
import { keysRoutes, type SigningKeyAdmin } from './keys-routes.js';
import { adminErrorHandler, Problem, sendProblem } from './problem.js';
import { rolesRoutes } from './roles-routes.js';
import { sessionsRoutes } from './sessions-routes.js';
import { usersRoutes } from './users-routes.js';

export const ADMIN_PREFIX = '/admin/v1';

/** Whether a request URL is the admin API's (its errors are problem+json, not OAuth's). */
export const isAdminPath = (url: string) =>
  url === ADMIN_PREFIX || url.startsWith(`${ADMIN_PREFIX}/`) || url.startsWith(`${ADMIN_PREFIX}?`);

export interface AdminApiOptions extends DoorDeps {
  users: UserService;
  roles: RoleService;
  clients: ClientService;
  signingKeys: SigningKeyAdmin;
  refreshTokens: RefreshTokenStore;
  audit: Audit;
  /** SIGIL_CLIENT_SECRET_GRACE_HOURS, for rotate-secret. */
  graceHours: number;
  /** Requests per minute per client address (0: off). */
  rateLimitPerMinute: number;
}

/** What every admin route module gets: the audit of a change by the calling admin. */
export interface AdminContext {
  audit(req: FastifyRequest, action: string, target: string): void;
}

const callers = new WeakMap<FastifyRequest, AdminCaller>();
const MEDIA = ['application/json', 'application/merge-patch+json'];

/** The admin HTTP surface: a thin layer over the same services the CLI calls. */
export async function adminApi(app: FastifyInstance, o: AdminApiOptions) {
  await app.register(
    async (scope) => {
      scope.setErrorHandler(adminErrorHandler);
      scope.setNotFoundHandler((req, reply) => sendProblem(new Problem('not-found', 'no admin API route for this method and path'), req, reply));
      // JSON only (a merge patch is JSON too): a form or text body gets 415, not a guess.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(MEDIA, { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'));

      if (o.rateLimitPerMinute > 0) {
        if (!scope.hasDecorator('createRateLimit')) await scope.register(rateLimit, { global: false });
        const limit = scope.createRateLimit({
          max: o.rateLimitPerMinute,
          timeWindow: 60_000,
          allowList: () => false,
          keyGenerator: (req) => `admin:${req.ip}`,
        });
        scope.addHook('onRequest', async (req) => {
          const r = await limit(req);
          if (!r.isAllowed && r.isExceeded) {
            throw new Problem('rate-limited', 'too many admin requests from this address: retry later', { retryAfter: r.ttlInSeconds });
          }
        });
      }

      const authenticate = createDoor(o);
      scope.addHook('onRequest', async (req) => {
        const access = (req.routeOptions.config as { access?: AdminAccess } | undefined)?.access;
        // Unknown routes are refused at the door too: the API's shape is not for anonymous eyes.
        callers.set(req, await authenticate(req, access ?? 'read'));
      });

      const ctx: AdminContext = {
        audit(req, action, target) {
          const caller = callers.get(req);
          o.audit({ event: 'admin_change', admin_client_id: caller?.clientId ?? '', admin_sub: caller?.sub ?? '', action, target });
        },
      };
      usersRoutes(scope, { ...ctx, users: o.users, roles: o.roles });
      rolesRoutes(scope, { ...ctx, roles: o.roles });
      clientsRoutes(scope, { ...ctx, clients: o.clients, graceHours: o.graceHours });
      keysRoutes(scope, { ...ctx, signingKeys: o.signingKeys, now: o.now });
      sessionsRoutes(scope, { ...ctx, users: o.users, refreshTokens: o.refreshTokens });
    },
    { prefix: ADMIN_PREFIX },
  );
}
