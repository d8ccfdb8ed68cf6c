-- Signing keys for access tokens. A key's state follows from its timestamps and the clock:
-- pending (published, not signing) until activates_at; active (signing) until retires_at;
-- retired (published, not signing) until removes_at; then gone. revoked_at takes it out at once.
-- Every timestamp comes from the application's clock (never now()), so that every instance and
-- the tests agree on one time source. Rows are written only by the rotation service, inside a
-- transaction holding the signing-keys advisory lock.

create table signing_keys (
  -- RFC 7638 thumbprint of the public key.
  kid                     text primary key
                          check (char_length(kid) between 1 and 255 and kid !~ '[[:cntrl:]]'),
  -- Creation order: each key is the successor of the one before, at most once.
  generation              integer not null unique check (generation > 0),
  alg                     text not null check (alg in ('ES256', 'EdDSA', 'RS256', 'PS256')),
  -- Public members only: the database refuses a private member here.
  public_jwk              jsonb not null
                          check (jsonb_typeof(public_jwk) = 'object'
                                 and not public_jwk ?| array['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']),
  -- The private JWK, AES-256-GCM encrypted (ciphertext followed by the 16-byte tag), with the kid
  -- as associated data so a ciphertext cannot be moved to another row.
  private_key_ciphertext  bytea not null check (octet_length(private_key_ciphertext) > 16),
  private_key_nonce       bytea not null check (octet_length(private_key_nonce) = 12),
  -- Which key-encryption key wrapped it (a fingerprint, not the key): lets `sigil keys rewrap`
  -- and start-up say which key is missing instead of failing on a bare authentication tag.
  kek_id                  text not null check (kek_id ~ '^[0-9a-f]{16}$'),
  created_at              timestamptz not null,
  activates_at            timestamptz not null,
  retires_at              timestamptz,
  removes_at              timestamptz,
  revoked_at              timestamptz,
  check (retires_at is null or retires_at >= activates_at),
  -- A revoked key leaves at once: its row is kept (for `sigil keys list`) on its own timetable.
  check (revoked_at is not null or (retires_at is null) = (removes_at is null)),
  check (revoked_at is not null or removes_at >= retires_at)
);

-- The newest key is the only one with no retirement scheduled: creating a successor first sets the
-- current key's retires_at. Two instances (or an instance and the CLI) creating "the next key" at
-- once therefore cannot both succeed, even if the advisory lock were bypassed.
create unique index signing_keys_one_open_key on signing_keys ((true))
  where retires_at is null and revoked_at is null;
