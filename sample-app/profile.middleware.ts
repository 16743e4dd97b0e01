import { MeshValidationError, type MeshCommandContext } from '../lib';

/** The seed's validating middleware: a profile needs a non-empty name and an email with "@". */
export function validateProfile(ctx: MeshCommandContext): void {
  const { name, email } = (ctx.payload ?? {}) as { name?: unknown; email?: unknown };
  const problems: string[] = [];
  if (typeof name !== 'string' || name.trim() === '') problems.push('name must be a non-empty string');
  if (typeof email !== 'string' || !email.includes('@')) problems.push('email must contain "@"');
  if (problems.length) throw new MeshValidationError('Invalid profile', problems);
}
