import { MeshValidationError, type MeshCommandContext } from '../lib';

/** Metadata is shown to other members and read on every join: keep what a client may put there small. */
const MAX_NAME_LENGTH = 64;
const MAX_EMAIL_LENGTH = 254;

/** The seed's validating middleware: a profile needs a short non-empty name and an e-mail address with "@". */
export function validateProfile(ctx: MeshCommandContext): void {
  const { name, email } = (ctx.payload ?? {}) as { name?: unknown; email?: unknown };
  const problems: string[] = [];
  if (typeof name !== 'string' || name.trim() === '') problems.push('name must be a non-empty string');
  else if (name.length > MAX_NAME_LENGTH) problems.push(`name must be at most ${MAX_NAME_LENGTH} characters`);
  if (typeof email !== 'string' || !email.includes('@')) problems.push('email must contain "@"');
  else if (email.length > MAX_EMAIL_LENGTH) problems.push(`email must be at most ${MAX_EMAIL_LENGTH} characters`);
  if (problems.length) throw new MeshValidationError('Invalid profile', problems);
}
