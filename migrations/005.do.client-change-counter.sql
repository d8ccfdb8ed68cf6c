-- Instances keep recently used clients in memory (src/clients/client-cache.ts). Any change to the
-- clients table, however it is made (the server, the CLI, plain SQL), bumps a counter and sends a
-- notification in the same transaction, so every instance drops what it holds: at once when it
-- hears the NOTIFY (PostgreSQL), and otherwise at its next version check, about a second later
-- (the embedded database does not deliver NOTIFY sent through its socket, e.g. by the CLI).
create table change_counters (
  name     text primary key check (name in ('clients')),
  version  bigint not null default 0
);
insert into change_counters (name) values ('clients');

create function clients_changed() returns trigger
  language plpgsql
  as $$
begin
  update change_counters set version = version + 1 where name = 'clients';
  perform pg_notify('sigil_clients', '');
  return null;
end
$$;

-- Per statement, not per row: one bump however many rows changed; TRUNCATE counts too.
create trigger clients_changed
  after insert or update or delete or truncate on clients
  for each statement execute function clients_changed();
