-- Failed password logins, shared by every instance: one row per username and one per
-- (username, client address). Rows are small and purged once they are old and unlocked.
create table login_attempts (
  key              text primary key check (char_length(key) <= 1100),
  failures         integer not null check (failures > 0),
  last_failure_at  timestamptz not null,
  locked_until     timestamptz
);
create index login_attempts_last_failure_at_idx on login_attempts (last_failure_at);
