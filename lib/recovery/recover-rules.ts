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

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The window of a recoverable name, undefined for a plain one. */
  of(name: string): RecoverOptions | undefined {
    for (const { pattern, options } of this.rules) {
      if (typeof pattern === 'string') {
        if (pattern === name) return options;
        continue;
      }
      pattern.lastIndex = 0;
      if (pattern.test(name)) return options;
    }
    return undefined;
  }
}
