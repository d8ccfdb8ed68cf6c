-- Refresh tokens (password grant only). A login starts a family; every refresh rotates the token
-- within its family. Only SHA-256 hashes of tokens are stored.
create table refresh_token_families (
  id            uuid primary key,
  client_id     text not null references clients (client_id) on delete cascade,
  user_id       uuid not null references users (id) on delete cascade,
  -- The scopes the user granted at login: a refresh may narrow them, never widen them.
  scopes        text[] not null check (is_scope_list(scopes)),
  auth_time     timestamptz not null,
  created_at    timestamptz not null,
  -- Absolute lifetime: no token of the family is valid after it.
  expires_at    timestamptz not null check (expires_at > created_at),
  revoked_at    timestamptz,
  revoked_reason text check (revoked_reason in ('reuse', 'revoked', 'user', 'client', 'admin'))
);
create index refresh_token_families_user_idx on refresh_token_families (user_id);
create index refresh_token_families_client_idx on refresh_token_families (client_id);
create index refresh_token_families_expires_idx on refresh_token_families (expires_at);

create table refresh_tokens (
  token_hash      bytea primary key check (octet_length(token_hash) = 32),
  family_id       uuid not null references refresh_token_families (id) on delete cascade,
  created_at      timestamptz not null,
  -- Idle lifetime: unused past this, the token is dead.
  expires_at      timestamptz not null,
  -- Set when the token is exchanged for its successor; presenting it again is reuse.
  used_at         timestamptz,
  -- The successor, encrypted with a key derived from this token, so that a retry inside the grace
  -- window can hand back the same successor without the server keeping it in clear.
  successor       bytea,
  grace_used      boolean not null default false
);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_expires_idx on refresh_tokens (expires_at);

-- Revoked access tokens (RFC 7009), kept until the token would have expired anyway.
create table revoked_access_tokens (
  jti         text primary key check (char_length(jti) <= 255),
  client_id   text not null,
  expires_at  timestamptz not null,
  revoked_at  timestamptz not null
);
create index revoked_access_tokens_expires_idx on revoked_access_tokens (expires_at);
