-- Users who log in with the password grant, and the OAuth clients (apps and services).

create table users (
  id            uuid primary key default gen_random_uuid(),
  username      text not null
                check (char_length(username) between 1 and 255
                       and username = btrim(username)
                       and username !~ '[[:cntrl:]]'),
  password_hash text not null check (password_hash like '$argon2id$%'),
  disabled      boolean not null default false,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
-- Usernames are unique regardless of case: "Alice" and "alice" are one account.
create unique index users_username_lower_key on users (lower(username));

-- RFC 6749 §3.3: a scope is one or more of %x21 / %x23-5B / %x5D-7E; no NULLs.
create function is_scope_list(scopes text[]) returns boolean
  language sql immutable
  as $$ select coalesce(bool_and(s is not null and s ~ '^[\x21\x23-\x5b\x5d-\x7e]+$'), true) from unnest(scopes) s $$;

create table clients (
  client_id                   text primary key
                              check (char_length(client_id) between 1 and 255 and client_id !~ '[[:cntrl:]]'),
  name                        text not null check (btrim(name) <> '' and char_length(name) <= 255),
  -- SHA-256 of the server-generated 256-bit secret: the secret itself is never stored.
  secret_hash                 bytea not null check (octet_length(secret_hash) = 32),
  -- During a secret rotation the previous secret stays valid until previous_secret_expires_at.
  previous_secret_hash        bytea check (octet_length(previous_secret_hash) = 32),
  previous_secret_expires_at  timestamptz,
  grant_types                 text[] not null
                              check (cardinality(grant_types) > 0
                                     and grant_types <@ array['client_credentials', 'password']::text[]
                                     and array_position(grant_types, null) is null),
  -- Allowed scopes; RFC 6749 §3.3 scope-token characters only.
  scopes                      text[] not null default '{}'
                              check (is_scope_list(scopes)),
  -- Audience of access tokens when the request names no resource (RFC 8707).
  audience                    text check (audience <> ''),
  -- Further resource indicators the client may ask tokens for.
  audiences                   text[] not null default '{}' check (array_position(audiences, null) is null),
  access_token_ttl_seconds    integer check (access_token_ttl_seconds between 1 and 86400),
  may_introspect              boolean not null default false,
  disabled                    boolean not null default false,
  created_at                  timestamptz not null default now(),
  updated_at                  timestamptz not null default now(),
  check ((previous_secret_hash is null) = (previous_secret_expires_at is null))
);
