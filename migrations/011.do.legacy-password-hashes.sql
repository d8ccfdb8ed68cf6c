-- Imported users (`sigil users import`) may carry the hash of the system they come from until
-- their first login, when Sigil replaces it with argon2id. Only formats Sigil can verify are
-- allowed (src/users/legacy-hashes.ts parses them strictly before any row is written).
alter table users drop constraint users_password_hash_check;
alter table users add constraint users_password_hash_check check (
  password_hash like '$argon2id$%'
  or password_hash like '$argon2i$%'
  or password_hash ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'
  or password_hash ~ '^pbkdf2_sha256\$[0-9]+\$[^$]+\$[A-Za-z0-9+/=]+$'
);
