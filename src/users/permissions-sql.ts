// SQL fragments for a user's permissions, on a users row aliased `u`. They are scalar
// subqueries, so they ride along in whatever statement already reads the user (the login's
// lookup, the refresh rotation, introspection) and cost no round trip of their own. Each role is
// looked up by its primary key from the user's holdings (a LATERAL ... LIMIT 1, as in the refresh
// rotation): without statistics (a fresh database) PostgreSQL would otherwise hash-join every
// role, which is cheap on a test database and ruinous with many roles (test/db/hot-plans.test.ts).

const HELD_ROLES = `user_roles ur
  cross join lateral (select r.name, r.scopes from roles r where r.id = ur.role_id limit 1) r
  where ur.user_id = u.id`;

/** The names of the roles the user holds, sorted case-insensitively (text[]). */
export const ROLE_NAMES_OF_U = `array(select r.name from ${HELD_ROLES} order by lower(r.name), r.name)`;

/** The user's effective scopes: her direct scopes ∪ her roles' scopes, each once, sorted (text[]). */
export const EFFECTIVE_SCOPES_OF_U = `array(select s from (
    select unnest(u.scopes) union all select unnest(r.scopes) from ${HELD_ROLES}
  ) p(s) group by s order by s collate "C")`;
