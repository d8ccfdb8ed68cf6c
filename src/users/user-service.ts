import { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../db/errors.js';
import type { PasswordHasher } from './passwords.js';
import type { User, UserRepository } from './user-repository.js';

export const UsernameSchema = z
  .string()
  .trim()
  .min(1, 'the username must not be empty')
  .max(255, 'the username must be at most 255 characters')
  .regex(/^[^\p{Cc}]+$/u, 'the username must not contain control characters');

export interface UserService {
  create(username: string, password: string): Promise<User>;
  setPassword(username: string, password: string): Promise<User>;
}

/** User administration: passwords are hashed here and only the argon2id hash is stored. */
export function createUserService(users: UserRepository, hasher: PasswordHasher): UserService {
  return {
    async create(username, password) {
      const parsed = UsernameSchema.safeParse(username);
      if (!parsed.success) throw new InvalidInputError(parsed.error.issues[0]?.message ?? 'invalid username');
      return users.insert({ username: parsed.data, passwordHash: await hasher.hash(password) });
    },
    async setPassword(username, password) {
      const user = await users.findByUsername(username);
      if (!user) throw new NotFoundError(`no user named "${username}"`);
      await users.setPasswordHash(user.id, await hasher.hash(password));
      return user;
    },
  };
}
