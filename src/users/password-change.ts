import type { LoginLookup } from './login-lookup.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './passwords.js';
import type { UserRepository } from './user-repository.js';

export type PasswordChangeResult =
  | { ok: true; username: string; sessionsEnded: number }
  /** The current password is wrong (or the user is gone or disabled: the answer does not say which). */
  | { ok: false; reason: 'bad_password' }
  | { ok: false; reason: 'locked'; retryAfter: number };

export interface PasswordChangeDeps {
  lookup: LoginLookup;
  throttle: LoginThrottle;
  hasher: PasswordHasher;
  users: Pick<UserRepository, 'findById' | 'setPasswordHash'>;
  /** Ends the user's refresh-token families, all of them or all but one; returns how many. */
  endSessions(userId: string, keepFamilyId: string | undefined): Promise<number>;
}

/**
 * A user changes her own password. The current password is checked exactly as the password grant
 * checks it, under the same brute-force protection, so a stolen access token cannot be turned into
 * a password guesser; then every other session of hers ends, since a password change is what a
 * user does when she thinks someone else has it.
 */
export function createPasswordChange(d: PasswordChangeDeps) {
  return async (o: {
    userId: string;
    currentPassword: string;
    newPassword: string;
    address: string;
    keepFamilyId?: string;
  }): Promise<PasswordChangeResult> => {
    // The lock-out state is keyed by username; the token names the user by id (a rare request:
    // two round trips are fine here).
    const known = await d.users.findById(o.userId);
    const { user, waitSeconds, hasFailures } = known
      ? await d.lookup.find(known.username, o.address)
      : { user: undefined, waitSeconds: 0, hasFailures: false };
    // A user without a password has none to change: she gets one from an administrator.
    if (!user || user.id !== o.userId || user.passwordHash === null) {
      await d.hasher.verifyDummy(o.currentPassword);
      return { ok: false, reason: 'bad_password' };
    }
    if (waitSeconds > 0) return { ok: false, reason: 'locked', retryAfter: waitSeconds };
    const verdict = await d.hasher.verify(user.passwordHash, o.currentPassword);
    // Disabled users get the same answer as a wrong password, after the same work.
    if (!verdict.ok || user.disabled) {
      await d.throttle.recordFailure(user.username, o.address);
      return { ok: false, reason: 'bad_password' };
    }
    if (hasFailures) await d.throttle.recordSuccess(user.username, o.address);
    // Validates the new password (length) before anything is written.
    await d.users.setPasswordHash(user.id, await d.hasher.hash(o.newPassword));
    const sessionsEnded = await d.endSessions(user.id, o.keepFamilyId);
    return { ok: true, username: user.username, sessionsEnded };
  };
}
