/**
 * Every HTTP/3 (RFC 9114 §8.1) and QPACK (RFC 9204 §6) error code in one place, and the one
 * error type the protocol code throws.
 *
 * ```ts
 * throw new H3Error(H3_FRAME_UNEXPECTED, "connection", "DATA before HEADERS");
 * ```
 * @module
 */

export const H3_NO_ERROR = 0x100;
export const H3_GENERAL_PROTOCOL_ERROR = 0x101;
export const H3_INTERNAL_ERROR = 0x102;
export const H3_STREAM_CREATION_ERROR = 0x103;
export const H3_CLOSED_CRITICAL_STREAM = 0x104;
export const H3_FRAME_UNEXPECTED = 0x105;
export const H3_FRAME_ERROR = 0x106;
export const H3_EXCESSIVE_LOAD = 0x107;
export const H3_ID_ERROR = 0x108;
export const H3_SETTINGS_ERROR = 0x109;
export const H3_MISSING_SETTINGS = 0x10a;
export const H3_REQUEST_REJECTED = 0x10b;
export const H3_REQUEST_CANCELLED = 0x10c;
export const H3_REQUEST_INCOMPLETE = 0x10d;
export const H3_MESSAGE_ERROR = 0x10e;
export const H3_CONNECT_ERROR = 0x10f;
export const H3_VERSION_FALLBACK = 0x110;
export const QPACK_DECOMPRESSION_FAILED = 0x200;
export const QPACK_ENCODER_STREAM_ERROR = 0x201;
export const QPACK_DECODER_STREAM_ERROR = 0x202;

const NAMES: Record<number, string> = {
  [H3_NO_ERROR]: "H3_NO_ERROR",
  [H3_GENERAL_PROTOCOL_ERROR]: "H3_GENERAL_PROTOCOL_ERROR",
  [H3_INTERNAL_ERROR]: "H3_INTERNAL_ERROR",
  [H3_STREAM_CREATION_ERROR]: "H3_STREAM_CREATION_ERROR",
  [H3_CLOSED_CRITICAL_STREAM]: "H3_CLOSED_CRITICAL_STREAM",
  [H3_FRAME_UNEXPECTED]: "H3_FRAME_UNEXPECTED",
  [H3_FRAME_ERROR]: "H3_FRAME_ERROR",
  [H3_EXCESSIVE_LOAD]: "H3_EXCESSIVE_LOAD",
  [H3_ID_ERROR]: "H3_ID_ERROR",
  [H3_SETTINGS_ERROR]: "H3_SETTINGS_ERROR",
  [H3_MISSING_SETTINGS]: "H3_MISSING_SETTINGS",
  [H3_REQUEST_REJECTED]: "H3_REQUEST_REJECTED",
  [H3_REQUEST_CANCELLED]: "H3_REQUEST_CANCELLED",
  [H3_REQUEST_INCOMPLETE]: "H3_REQUEST_INCOMPLETE",
  [H3_MESSAGE_ERROR]: "H3_MESSAGE_ERROR",
  [H3_CONNECT_ERROR]: "H3_CONNECT_ERROR",
  [H3_VERSION_FALLBACK]: "H3_VERSION_FALLBACK",
  [QPACK_DECOMPRESSION_FAILED]: "QPACK_DECOMPRESSION_FAILED",
  [QPACK_ENCODER_STREAM_ERROR]: "QPACK_ENCODER_STREAM_ERROR",
  [QPACK_DECODER_STREAM_ERROR]: "QPACK_DECODER_STREAM_ERROR",
};

/** Returns the RFC name of an error code, or its hex form when it has none. */
export function errorName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16)}`;
}

/**
 * Whether an error ends only the stream it happened on, or the whole connection
 * (RFC 9114 §8: "stream error" versus "connection error").
 */
export type ErrorScope = "stream" | "connection";

/** The only error the HTTP/3 and QPACK code throws on malformed input. */
export class H3Error extends Error {
  /** The RFC 9114 / RFC 9204 error code to send. */
  readonly code: number;
  /** Whether the stream or the connection must be closed with `code`. */
  readonly scope: ErrorScope;

  /**
   * The HTTP status a stream error is answered with (RFC 9114 §4.1.2 lets a server answer a
   * malformed request instead of resetting it): 400 unless the error says otherwise, e.g. 431
   * for a header section too large to process (§4.2.2).
   */
  readonly httpStatus: number;

  /** Creates an error with an RFC error code, its scope, a human detail and its HTTP status. */
  constructor(code: number, scope: ErrorScope, detail: string, httpStatus = 400) {
    super(`${errorName(code)}: ${detail}`);
    this.name = "H3Error";
    this.code = code;
    this.scope = scope;
    this.httpStatus = httpStatus;
  }
}
