import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from './metrics.js';

/** Security-relevant events: logged at info for the audit trail, and counted in the metrics. */
export type AuditEvent =
  | { event: 'token_issued'; grant: string; client_id: string }
  // A failed or locked login names the user only when the name is hers: a name that matches no user
  // is not logged, since it is often a password typed into the wrong field.
  | { event: 'login_failed'; user_id: string | null; username: string | null; client_id: string; address: string }
  | { event: 'login_locked'; user_id: string | null; username: string | null; client_id: string; address: string; retry_after: number }
  | { event: 'refresh_token_reused'; client_id: string }
  | { event: 'token_revoked'; client_id: string; kind: 'access_token' | 'refresh_token' }
  | { event: 'password_changed'; user_id: string; client_id: string; sessions_ended: number }
  | { event: 'password_change_failed'; user_id: string; client_id: string; address: string }
  // A change made through the admin API: who (the admin client, and the token's subject), what, to what. Never a secret.
  | { event: 'admin_change'; admin_client_id: string; admin_sub: string; action: string; target: string };

export type Audit = (e: AuditEvent) => void;

export function createAudit(log: FastifyBaseLogger, metrics: Metrics): Audit {
  return (e) => {
    switch (e.event) {
      case 'token_issued':
        metrics.tokensIssued.inc({ grant: e.grant });
        // Issuing is the hot path: its audit line is at debug, the counter is always there.
        log.debug({ audit: e }, e.event);
        return;
      case 'login_failed':
      case 'password_change_failed':
        metrics.loginFailures.inc();
        break;
      case 'login_locked':
        metrics.loginsThrottled.inc();
        break;
      case 'refresh_token_reused':
        metrics.refreshReuse.inc();
        break;
    }
    log.info({ audit: e }, e.event);
  };
}

/** The key service's log, counting its rotation steps on the way. */
export function keyEventLog(log: FastifyBaseLogger, metrics: Metrics) {
  return {
    info(obj: object, msg: string) {
      const type = (obj as { type?: unknown }).type;
      if (typeof type === 'string') metrics.keyEvents.inc({ event: type });
      log.info({ audit: { event: 'signing_key', ...obj } }, msg);
    },
    warn: (obj: object, msg: string) => log.warn(obj, msg),
    error: (obj: object, msg: string) => log.error(obj, msg),
  };
}
