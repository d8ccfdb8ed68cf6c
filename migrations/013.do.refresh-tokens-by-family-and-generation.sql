-- Refresh tokens name their family and generation (src/tokens/refresh-token-format.ts), and are
-- stored under that key. At scale (5 million tokens) a rotation used to touch three random leaves
-- of two big indexes: the lookup of the presented token by its hash, the insert of the successor's
-- random hash, and the insert into refresh_tokens_family_idx; and it dirtied the presented token's
-- heap page to mark it used. Each page first dirtied after a checkpoint goes whole into the WAL
-- (docs/benchmarks.md#scale). Now the successor's entry (family, generation + 1) lands beside the
-- presented one, in the leaf the lookup has just read, and a token is spent when its successor
-- exists: the presented row is only read.
--
-- Tokens issued before this migration (32 random bytes, generation null) are still found by their
-- hash, through a partial index that new tokens never enter; they rotate into named tokens and the
-- purge removes them once idle. Their used_at, successor and grace_used columns keep their
-- meaning; for named tokens, spending is the successor's existence, and the successor row itself
-- holds what a retry in the grace window gets back (sealed) and whether it has had it (grace_used).
--
-- No primary key: the unique (family_id, generation) identifies every named token, the partial
-- unique index every older one, and neither alone covers both.
alter table refresh_tokens add column generation integer check (generation >= 0);
-- This token, encrypted with a key derived from its predecessor, for a retry of that predecessor
-- inside the grace window (null when the window is off).
alter table refresh_tokens add column sealed bytea;
alter table refresh_tokens drop constraint refresh_tokens_pkey;
create unique index refresh_tokens_family_generation_key on refresh_tokens (family_id, generation);
create unique index refresh_tokens_legacy_hash_key on refresh_tokens (token_hash) where generation is null;
-- The family's tokens are the prefix of refresh_tokens_family_generation_key now.
drop index refresh_tokens_family_idx;
-- Migration 007 left half of each page free so that marking a token used stayed a HOT update. Named
-- tokens are never updated on the hot path (only a grace retry marks its successor), so new pages
-- fill up: at scale the heap is half the size, and more of it stays in PostgreSQL's cache.
alter table refresh_tokens reset (fillfactor);
