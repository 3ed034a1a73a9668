/**
 * Log lines in the seed's form (`🆕 New QUIC connection: …`), as text or as one JSON object
 * per line (`--log-format json`).
 * @module
 */

/** Output format. */
export type LogFormat = "text" | "json";

/** A logger that writes a human line or a JSON object with the same facts. */
export class Logger {
  readonly #format: LogFormat;
  readonly #write: (line: string) => void;

  /** @param write where lines go (stdout by default) */
  constructor(format: LogFormat, write: (line: string) => void = (l) => console.log(l)) {
    this.#format = format;
    this.#write = write;
  }

  /** Logs an event: `text` is the human line, `fields` the structured facts. */
  event(event: string, text: string, fields: Record<string, unknown> = {}): void {
    if (this.#format === "json") {
      this.#write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
    } else {
      this.#write(text);
    }
  }
}
