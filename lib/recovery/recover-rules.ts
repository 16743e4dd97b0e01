import { nameMatches } from '../common/exposure-list';
import { checkRecoverOptions, type RecoverOptions } from './recover-options';

interface Rule {
  pattern: string | RegExp;
  options: RecoverOptions;
}

/**
 * Which names (of channels, or of rooms) are recoverable, and with what window: exact strings or
 * RegExps, the first match wins, as for exposure.
 */
export class RecoverRules {
  private readonly rules: Rule[] = [];

  constructor(private readonly what: string) {}

  add(pattern: string | RegExp, options: unknown): void {
    const checked = checkRecoverOptions(this.what, options);
    if (checked) this.rules.push({ pattern, options: checked });
  }

  /** The window of a recoverable name, undefined for a plain one. */
  of(name: string): RecoverOptions | undefined {
    return this.rules.find(({ pattern }) => nameMatches(pattern, name))?.options;
  }
}
