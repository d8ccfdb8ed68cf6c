import type { UserAccount } from './user-service.js';

/** A user as the admin API and the CLI's JSON show her: never her password hash. */
export const userView = (u: UserAccount) => ({
  id: u.id,
  username: u.username,
  roles: u.roles,
  scopes: u.scopes,
  disabled: u.disabled,
  has_password: u.hasPassword,
  created_at: u.createdAt.toISOString(),
  updated_at: u.updatedAt.toISOString(),
});
