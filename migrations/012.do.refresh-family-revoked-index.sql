-- Housekeeping deletes families revoked more than a day ago in bounded batches; without an index
-- on revoked_at each batch would read every family to find them. Partial: live families (nearly
-- all of them) are not in it, so issuing and rotating tokens never writes to it.
create index refresh_token_families_revoked_idx on refresh_token_families (revoked_at) where revoked_at is not null;
