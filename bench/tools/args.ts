/**
 * Command-line flags of the bench-only helper programs in this folder (`--name value`).
 * @module
 */

/** The value after `--name`, or `fallback`. */
export function flag(args: string[], name: string, fallback?: string): string {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

/** The integer after `--name`, or `fallback`. */
export function intFlag(args: string[], name: string, fallback?: number): number {
  const value = Number(flag(args, name, fallback === undefined ? undefined : String(fallback)));
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be an integer ≥ 0`);
  return value;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
