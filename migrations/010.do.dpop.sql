-- DPoP (RFC 9449). Proof ids seen by any instance, each kept until its proof could no longer be
-- accepted (iat + window + skew): the primary key makes a second insert of one id fail, which is
-- how a replay to any instance on this database is refused, in the one statement that records it.
create table dpop_proof_jtis (
  jti         text primary key check (char_length(jti) <= 255),
  expires_at  timestamptz not null
);
create index dpop_proof_jtis_expires_idx on dpop_proof_jtis using brin (expires_at);

-- A client registered as requiring DPoP gets no token without a proof.
alter table clients add column require_dpop boolean not null default false;

-- §5: refresh tokens of a login made with a proof are bound to the proof's key (RFC 7638 thumbprint).
alter table refresh_token_families add column dpop_jkt text check (char_length(dpop_jkt) <= 64);
