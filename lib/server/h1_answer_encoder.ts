/**
 * A connection's small answers as bytes, cheaper when the connection repeats itself: the head
 * (as `responseHead` writes it) and the body go into one array cut from a shared slab, and the
 * part of the head that is the same as in an answer encoded before (the status line, `Alt-Svc`,
 * `Date`, and the leading fields that are equal) is copied from that answer's bytes instead of
 * being formatted and encoded again. A poller's or a load generator's answers differ only in a
 * field or two (a request count), so most of each head is a copy.
 *
 * Sans-IO: values in, bytes out. The bytes are the same as
 * `answerBytes(responseHead(status, fields, {altSvc, close, chunked: false}), body)`
 * (`h1_answer.ts`) for every input; the test compares them. (An answer of known length, so
 * never chunked.)
 *
 * ```ts
 * const encoder = new AnswerEncoder('h3=":9443"');
 * encoder.encode(200, ["content-length", "2"], 0, false, "ok", 2); // head + body, one array
 * ```
 * @module
 */

import { answerBuffer, httpDate, isOwnField, reasonPhrase } from "./h1_answer.ts";

const encoder = new TextEncoder();

/** One connection's encoder, with the head it remembers. */
export class AnswerEncoder {
  /** What the remembered head was made of: a later answer reuses it only when these match. */
  #status = 0;
  #date = "";
  #altSvc = "";
  /** The remembered answer's fields (flat `name, value` pairs). */
  #fields: string[] = [];
  /** `#ends[k]`: bytes of the remembered head up to the end of its `k`-th field's line. */
  #ends: number[] = [];
  /** The remembered head's bytes, up to the end of its last field line. */
  #head = new Uint8Array(0);

  /** @param altSvc the `Alt-Svc` value of answers without their own */
  constructor(readonly altSvc: string) {}

  /**
   * The answer with `status`, the fields `fields[from…]` (flat lowercase `name, value` pairs)
   * and `body` (text, sent as UTF-8 and `bodyLength` bytes long; bytes; or none), as one array;
   * with `connection: close` when `close`.
   */
  encode(
    status: number,
    fields: readonly string[],
    from: number,
    close: boolean,
    body: string | Uint8Array | undefined,
    bodyLength: number,
  ): Uint8Array {
    const date = httpDate();
    let altSvc = this.altSvc;
    for (let i = from; i < fields.length; i += 2) {
      if (fields[i] === "alt-svc") altSvc = fields[i + 1];
    }
    const count = (fields.length - from) >> 1;
    // How many leading fields are the same as the remembered head's, and how many bytes of it
    // that is; -1 when the lines before the fields differ (nothing can be reused).
    let kept = -1;
    if (status === this.#status && date === this.#date && altSvc === this.#altSvc) {
      kept = 0;
      const known = this.#fields;
      const most = Math.min(count, known.length >> 1);
      while (
        kept < most && fields[from + 2 * kept] === known[2 * kept] &&
        fields[from + 2 * kept + 1] === known[2 * kept + 1]
      ) kept++;
    }
    const keptBytes = kept < 0 ? 0 : this.#ends[kept];
    let text = kept < 0 ? startLines(status, altSvc, date) : "";
    for (let i = from + 2 * Math.max(0, kept); i < fields.length; i += 2) {
      const name = fields[i];
      if (!isOwnField(name)) text += `${name}: ${fields[i + 1]}\r\n`;
    }
    text += close ? "connection: close\r\n\r\n" : "\r\n";
    const headLength = keptBytes + text.length;
    const out = answerBuffer(headLength + bodyLength);
    if (keptBytes > 0) out.set(this.#head.subarray(0, keptBytes));
    writeRest(out, keptBytes, text, body, headLength);
    // Remembered anew when too little of the last head applied: a connection that changed what
    // it asks for, or a new second (`Date`).
    if (kept < 0 || 2 * kept < count) this.#remember(status, date, altSvc, fields, from, out);
    return out;
  }

  #remember(
    status: number,
    date: string,
    altSvc: string,
    fields: readonly string[],
    from: number,
    out: Uint8Array,
  ): void {
    const ends = [startLines(status, altSvc, date).length];
    for (let i = from; i < fields.length; i += 2) {
      const name = fields[i];
      const line = isOwnField(name) ? 0 : name.length + fields[i + 1].length + 4;
      ends.push(ends[ends.length - 1] + line);
    }
    this.#status = status;
    this.#date = date;
    this.#altSvc = altSvc;
    this.#fields = fields.slice(from);
    this.#ends = ends;
    // A copy: the slab's other answers are not kept alive by a connection that stays open.
    this.#head = out.slice(0, ends[ends.length - 1]);
  }
}

/** The status line and the `Alt-Svc` and `Date` lines every answer begins with. */
function startLines(status: number, altSvc: string, date: string): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nalt-svc: ${altSvc}\r\ndate: ${date}\r\n`;
}

/**
 * Writes `text` (the head's rest, Latin-1) at `at` and then `body` at `headLength`: text with
 * its body in one `encodeInto` when the head's rest is ASCII (nearly always; it then fits
 * exactly), else the head byte by byte and the body after it.
 */
function writeRest(
  out: Uint8Array,
  at: number,
  text: string,
  body: string | Uint8Array | undefined,
  headLength: number,
): void {
  if (typeof body === "string") {
    const whole = text + body;
    const done = encoder.encodeInto(whole, out.subarray(at));
    if (done.read === whole.length && done.written === out.length - at) return;
    latin1Into(out, at, text);
    encoder.encodeInto(body, out.subarray(headLength));
    return;
  }
  if (encoder.encodeInto(text, out.subarray(at, headLength)).read !== text.length) {
    latin1Into(out, at, text);
  }
  if (body !== undefined) out.set(body, headLength);
}

function latin1Into(out: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
}
