// SQL fragments for a user's permissions, on a users row aliased `u`. They are scalar
// subqueries, so they ride along in whatever statement already reads the user (the login's
// lookup, the refresh rotation, introspection) and cost no round trip of their own; each is a
// few index lookups (user_roles' primary key, then roles' primary key per role).

/** The names of the roles the user holds, sorted case-insensitively (text[]). */
export const ROLE_NAMES_OF_U = `array(select r.name from user_roles ur join roles r on r.id = ur.role_id
  where ur.user_id = u.id order by lower(r.name), r.name)`;

/** The user's effective scopes: her direct scopes ∪ her roles' scopes, distinct, sorted (text[]). */
export const EFFECTIVE_SCOPES_OF_U = `array(select distinct s from (
    select unnest(u.scopes) union all
    select unnest(r.scopes) from user_roles ur join roles r on r.id = ur.role_id where ur.user_id = u.id
  ) p(s) order by s collate "C")`;
