-- private_key_jwt client authentication (RFC 7523 §2.2): a client may prove itself with a JWT
-- signed by a private key that never leaves it, checked against the public keys registered here
-- (an inline JWKS, or a jwks_uri Sigil fetches). Such a client has no secret at all.

alter table clients
  add column token_endpoint_auth_method text not null default 'client_secret_basic'
    check (token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post', 'private_key_jwt')),
  -- Public keys only: client-service.ts refuses private members before anything is stored.
  add column jwks jsonb check (jwks is null or jsonb_typeof(jwks -> 'keys') = 'array'),
  add column jwks_uri text check (jwks_uri is null or jwks_uri ~ '^https?://');

alter table clients alter column secret_hash drop not null;

-- A secret client has a secret and no keys; a key client has keys (one way) and no secret, old or new.
-- Every existing row is a secret client (default method, a non-null secret_hash), so it stays valid.
alter table clients add constraint clients_auth_method_credentials check (
  case when token_endpoint_auth_method = 'private_key_jwt'
    then secret_hash is null and previous_secret_hash is null and ((jwks is null) <> (jwks_uri is null))
    else secret_hash is not null and jwks is null and jwks_uri is null
  end);

-- RFC 7523 §3 item 7 / RFC 7521 §4.2: a client assertion's jti is used once. Every instance inserts
-- here before accepting an assertion; the primary key makes the second insert of the same jti, on any
-- instance, a conflict (a replay). Rows are needed only until the assertion expires; housekeeping
-- purges them after that (src/ops/housekeeping.ts).
create table spent_client_assertions (
  client_id   text not null,
  jti         text not null check (char_length(jti) between 1 and 255),
  expires_at  timestamptz not null,
  primary key (client_id, jti)
);
create index spent_client_assertions_expires_at on spent_client_assertions using brin (expires_at);
