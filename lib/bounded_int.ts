/**
 * The one check for a bounded whole number, shared by the command line, the API's query and
 * body parameters and the tools: each caller words its own error, the rule is written once.
 *
 * ```ts
 * boundedInt("42", 1, 100); // 42
 * boundedInt("4.2", 1, 100); // undefined
 * boundedInt(7, 0, 5); // undefined
 * ```
 * @module
 */

/**
 * The integer `value` stands for, when it lies from `min` to `max`; otherwise undefined. A
 * string must be plain decimal digits (no sign, point, exponent or spaces); a number must be an
 * integer (a JSON body's value); anything else is undefined.
 */
export function boundedInt(value: unknown, min: number, max: number): number | undefined {
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^[0-9]+$/.test(value)) n = Number(value);
  else return undefined;
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

/** Shortens an offending input for an error message, so a huge value is not echoed whole. */
export function excerpt(value: string, max = 64): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`;
}
