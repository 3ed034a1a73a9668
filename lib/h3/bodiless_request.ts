/**
 * A `Request` for a request without a body (GET, HEAD, …) that builds only what a handler uses.
 *
 * `new Request(url, {method, headers})` is a large share of what a request costs the server
 * (URL parsing, WebIDL conversion and the `Headers` object; `bench/micro/request_path_bench.ts`
 * measures it). A router needs only `method` and `url`, and most routes here
 * never read a request header; so `headers` is made on first use, and a full `Request` only when
 * something beyond that is asked for (`signal`, `clone()`, a body reader, …), as
 * `@hono/node-server` does for Node.
 *
 * It is not `instanceof Request`; handlers that need a real one call `toRequest()`.
 * @module
 */

/** A bodiless request with lazily built parts. Cast to `Request` where a handler expects one. */
export class BodilessRequest {
  readonly method: string;
  readonly url: string;
  readonly body: null = null;
  readonly bodyUsed = false;
  readonly #fields: [string, string][];
  #headers: Headers | undefined;
  #request: Request | undefined;

  /**
   * @param method the request method
   * @param url the absolute URL (already known to parse)
   * @param fields the regular header fields, `[name, value]` pairs in arrival order
   */
  constructor(method: string, url: string, fields: [string, string][]) {
    this.method = method;
    this.url = url;
    this.#fields = fields;
  }

  /** The header fields, as a `Headers` made on first use. */
  get headers(): Headers {
    return this.#headers ??= new Headers(this.#fields);
  }

  /** The equivalent Web `Request`, made once on first need. */
  toRequest(): Request {
    return this.#request ??= new Request(this.url, { method: this.method, headers: this.headers });
  }

  /** The rest of the `Request` interface, through the real one. */
  get signal(): AbortSignal {
    return this.toRequest().signal;
  }
  get redirect(): RequestRedirect {
    return "follow";
  }
  get cache(): RequestCache {
    return this.toRequest().cache;
  }
  get credentials(): RequestCredentials {
    return this.toRequest().credentials;
  }
  get destination(): RequestDestination {
    return this.toRequest().destination;
  }
  get integrity(): string {
    return "";
  }
  get keepalive(): boolean {
    return false;
  }
  get mode(): RequestMode {
    return this.toRequest().mode;
  }
  get referrer(): string {
    return this.toRequest().referrer;
  }
  get referrerPolicy(): ReferrerPolicy {
    return this.toRequest().referrerPolicy;
  }
  /** A real `Request` copy. */
  clone(): Request {
    return this.toRequest().clone();
  }
  /** An empty body, as for any bodiless `Request`. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.toRequest().arrayBuffer();
  }
  /** An empty body. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.toRequest().bytes();
  }
  /** An empty body. */
  blob(): Promise<Blob> {
    return this.toRequest().blob();
  }
  /** An empty body. */
  text(): Promise<string> {
    return this.toRequest().text();
  }
  /** Rejects, as `JSON.parse("")` would: there is no body. */
  json(): Promise<unknown> {
    return this.toRequest().json();
  }
  /** Rejects: there is no body. */
  formData(): Promise<FormData> {
    return this.toRequest().formData();
  }
}
