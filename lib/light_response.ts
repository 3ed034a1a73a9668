/**
 * A response that keeps what a handler gave it (status, header fields as a flat list, body
 * bytes) and builds the Web `Response` only when some code asks for more than that.
 *
 * A Web `Response` is a large share of what a small answer costs: its `Headers` (with WebIDL
 * conversion of every name and value) and the body extraction run for every request. The routes
 * on the hot path (`/healthz`, `/api/test`) answer with this class instead; the headers every
 * answer gets are added to its list; the HTTP/3 writer and the TCP listener encode the list and
 * the bytes directly. Anything else (a test calling `res.json()`) reads it as a `Response`
 * through the getters below, which build the real one once. `@hono/node-server` does the same for Node,
 * by replacing the global `Response`; this server keeps the global and uses the class only where
 * it pays.
 *
 * It is not `instanceof Response`.
 *
 * ```ts
 * const res = LightResponse.json({ status: "ok" });
 * res.setField("x-protocol", "h3");
 * res.fields; // [":status", "200", "content-type", "application/json", "content-length", "15", "x-protocol", "h3"]
 * ```
 * @module
 */

const encoder = new TextEncoder();
const JSON_TYPE = "application/json";
const JSON_FIELDS: readonly string[] = ["content-type", JSON_TYPE];

/** A small, finished response with lazily built Web parts. */
export class LightResponse {
  readonly status: number;
  /**
   * The body as it was given when that was text (JSON): a writer can encode it straight into its
   * own buffer. Undefined for a body given as bytes.
   */
  readonly bodyText: string | undefined;
  /** The body's length in bytes. */
  readonly bodyLength: number;
  #bytes: Uint8Array<ArrayBuffer> | undefined;
  /**
   * `[":status", status, name, value, …]` with lowercase names: the header section as it will be
   * sent, while {@link headers} has not been asked for (after that, the `Headers` rule).
   */
  #fields: string[];
  #headers: Headers | undefined;
  #response: Response | undefined;

  /**
   * @param body the whole body, as bytes or as text (sent as UTF-8)
   * @param status the status code
   * @param fields header fields as flat lowercase `name, value` pairs (without `:status`)
   */
  constructor(
    body: Uint8Array<ArrayBuffer> | string,
    status: number,
    fields: readonly string[],
  ) {
    if (typeof body === "string" && body.length * 3 <= scratch.length) {
      this.bodyText = body;
      this.bodyLength = encoder.encodeInto(body, scratch).written;
    } else if (typeof body === "string") {
      this.#bytes = encoder.encode(body); // long text: measured by encoding it, so kept
      this.bodyLength = this.#bytes.length;
    } else {
      this.#bytes = body;
      this.bodyLength = body.length;
    }
    this.status = status;
    const all = [":status", String(status)];
    for (let i = 0; i < fields.length; i++) all.push(fields[i]);
    this.#fields = all;
  }

  /** The body's bytes (encoded from {@link bodyText} on first use when it was given as text). */
  get bodyBytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes ??= encoder.encode(this.bodyText ?? "");
  }

  /** `value` as JSON with `content-type` and `content-length`. */
  static json(value: unknown, status = 200): LightResponse {
    return LightResponse.jsonText(JSON.stringify(value), status);
  }

  /** `text`, already JSON, with `content-type` and `content-length`. */
  static jsonText(text: string, status = 200): LightResponse {
    const response = new LightResponse(text, status, JSON_FIELDS);
    response.#fields.push("content-length", String(response.bodyLength));
    return response;
  }

  /**
   * The header section as flat `[":status", status, name, value, …]`, or undefined once
   * {@link headers} was handed out (code may have changed it there).
   */
  get fields(): readonly string[] | undefined {
    return this.#headers === undefined ? this.#fields : undefined;
  }

  /** Whether a header field named `name` (lowercase) is set. */
  hasField(name: string): boolean {
    if (this.#headers !== undefined) return this.#headers.has(name);
    for (let i = 2; i < this.#fields.length; i += 2) if (this.#fields[i] === name) return true;
    return false;
  }

  /** Sets a header field (lowercase `name`), replacing one of the same name. */
  setField(name: string, value: string): void {
    if (this.#headers !== undefined) {
      this.#headers.set(name, value);
      return;
    }
    const fields = this.#fields;
    for (let i = 2; i < fields.length; i += 2) {
      if (fields[i] === name) {
        fields[i + 1] = value;
        return;
      }
    }
    fields.push(name, value);
  }

  /** The header fields as `Headers`, made on first use; from then on they are the truth. */
  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (let i = 2; i < this.#fields.length; i += 2) {
        headers.append(this.#fields[i], this.#fields[i + 1]);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** The equivalent Web `Response`, made once on first need. */
  toResponse(): Response {
    return this.#response ??= new Response(
      this.bodyLength === 0 && this.status === 204 ? null : this.bodyBytes,
      { status: this.status, headers: this.headers },
    );
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  get statusText(): string {
    return "";
  }
  get redirected(): boolean {
    return false;
  }
  get type(): ResponseType {
    return "default";
  }
  get url(): string {
    return "";
  }
  /** The body as a stream, through the real `Response`. */
  get body(): ReadableStream<Uint8Array> | null {
    return this.toResponse().body;
  }
  get bodyUsed(): boolean {
    return this.#response?.bodyUsed ?? false;
  }
  /** The body as text. */
  text(): Promise<string> {
    return this.toResponse().text();
  }
  /** The body parsed as JSON. */
  json(): Promise<unknown> {
    return this.toResponse().json();
  }
  /** The body's bytes. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.toResponse().bytes();
  }
  /** The body as an `ArrayBuffer`. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.toResponse().arrayBuffer();
  }
  /** The body as a `Blob`. */
  blob(): Promise<Blob> {
    return this.toResponse().blob();
  }
  /** A real `Response` copy. */
  clone(): Response {
    return this.toResponse().clone();
  }
}

/**
 * Scratch space for measuring text: `encodeInto` a buffer that exists already costs far less
 * than `encode`, which allocates a new buffer (with memory outside the JavaScript heap) per call.
 */
const scratch = new Uint8Array(16 * 1024);
