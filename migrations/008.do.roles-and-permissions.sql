-- Users' permissions (issue 13). A scope is a permission; a role is a named set of scopes; a user
-- holds roles and scopes of her own. Existing rows stay valid: every user starts with no roles and
-- no direct scopes, and version 1.

-- A user may exist without a password (created by an app's backend before she chose one, say):
-- she cannot log in by password until one is set. NULL passes the argon2id CHECK of 001.
alter table users alter column password_hash drop not null;

-- Direct scopes: a column, not a table, so the login's one statement reads them with the user.
alter table users add column scopes text[] not null default '{}'
  check (is_scope_list(scopes) and array_position(scopes, null) is null and cardinality(scopes) <= 256);

-- Bumped by the trigger below on every change to the row (and to the user's roles), so the admin
-- API can give out ETags and refuse a stale If-Match (update ... where version = expected).
alter table users add column version integer not null default 1 check (version > 0);

-- Role names: what the `roles` claim carries (RFC 9068 §2.2.3.1) and what the CLI and the admin
-- API name in paths and filters, so a plain, URL-safe alphabet; unique regardless of case
-- ("Editor" and "editor" are one role), stored as written.
create table roles (
  id          uuid primary key default gen_random_uuid(),
  name        text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
  scopes      text[] not null default '{}'
              check (is_scope_list(scopes) and array_position(scopes, null) is null and cardinality(scopes) <= 256),
  version     integer not null default 1 check (version > 0),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create unique index roles_name_lower_key on roles (lower(name));

-- Who holds which role; gone with either side.
create table user_roles (
  user_id  uuid not null references users (id) on delete cascade,
  role_id  uuid not null references roles (id) on delete cascade,
  primary key (user_id, role_id)
);
-- Listing a role's holders, and the cascade when a role is deleted.
create index user_roles_role_id_idx on user_roles (role_id, user_id);

-- Every update of a row is a new version, however it is made (the services, the CLI, plain SQL).
create function bump_version() returns trigger
  language plpgsql
  as $$
begin
  new.version := old.version + 1;
  new.updated_at := now();
  return new;
end
$$;

create trigger users_bump_version before update on users
  for each row execute function bump_version();
create trigger roles_bump_version before update on roles
  for each row execute function bump_version();

-- A user's roles are part of the user (her representation lists them), so granting or taking
-- one, or deleting a role she holds, is a change to her: once per statement and user.
create function user_roles_changed() returns trigger
  language plpgsql
  as $$
begin
  update users u set updated_at = now() where u.id in (select user_id from changed);
  return null;
end
$$;

create trigger user_roles_inserted after insert on user_roles
  referencing new table as changed
  for each statement execute function user_roles_changed();
create trigger user_roles_deleted after delete on user_roles
  referencing old table as changed
  for each statement execute function user_roles_changed();
