// Advisory-lock keys, one per job that must run in exactly one instance at a time.
// Held with pg_advisory_xact_lock, so a crashed holder releases its lock with its transaction.
export const LOCKS = {
  migrate: 0x5161_0001,
  signingKeys: 0x5161_0002,
  housekeeping: 0x5161_0003,
} as const;
