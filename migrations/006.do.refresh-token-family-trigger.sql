-- Every refresh rotation inserts a token. Its foreign key to the family made PostgreSQL lock the
-- family row (FOR KEY SHARE, a write to that row) for every insert: about an eighth of
-- PostgreSQL's work per rotation (bench, A/B: ~435 -> ~375 µs of its CPU per rotation, means of
-- 7 and 4 runs). Every read of a token joins its family, user and client, so a token whose family
-- is gone is as dead as an unknown one (a rotation racing its family's deletion can leave such a
-- token behind; the idle-lifetime purge removes it).
-- What the foreign key still did, delete a family's tokens with the family (a purge, or a user or
-- client deleted), this trigger does, once per statement.
alter table refresh_tokens drop constraint refresh_tokens_family_id_fkey;

create function refresh_token_families_deleted() returns trigger
  language plpgsql
  as $$
begin
  delete from refresh_tokens t using gone g where t.family_id = g.id;
  return null;
end
$$;

create trigger refresh_token_families_deleted
  after delete on refresh_token_families
  referencing old table as gone
  for each statement execute function refresh_token_families_deleted();
