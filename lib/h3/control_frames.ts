/**
 * The rules for frames on a peer's control stream (RFC 9114 §6.2.1, §7.2), applied by the
 * {@linkcode FrameReader} of a "control" stream: SETTINGS first and once, which frame types may
 * appear, payload sizes refused from the frame header alone, and the ID rules of GOAWAY (§5.2:
 * never larger than a previous one; from a server, a client-initiated bidirectional stream ID)
 * and MAX_PUSH_ID (§7.2.7: never smaller than a previous one, and only to a server). A broken
 * rule throws a connection-scope H3Error.
 *
 * ```ts
 * const rules = new ControlStreamRules("server", 16384);
 * if (rules.start(type, length)) event = rules.finish(type, payload); // else skip the payload
 * ```
 * @module
 */

import {
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_ID_ERROR,
  H3_MISSING_SETTINGS,
  H3Error,
} from "./errors.ts";
import {
  decodeCancelPush,
  decodeGoaway,
  decodeMaxPushId,
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_MAX_PUSH_ID,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  frameTypeName,
  isReservedHttp2FrameType,
} from "./frame.ts";
import { decodeSettings, type PeerSettings } from "./settings.ts";

/** A decoded control stream frame. */
export type ControlFrameEvent =
  | { type: "settings"; settings: PeerSettings }
  | { type: "goaway"; id: number }
  | { type: "max_push_id"; id: number }
  | { type: "cancel_push"; id: number };

/** One control stream's state: what it has seen, and so what may follow. */
export class ControlStreamRules {
  readonly #isClient: boolean;
  readonly #maxPayload: number;
  #settingsSeen = false;
  /** The last GOAWAY ID received, or -1. */
  #goaway = -1;
  /** The last MAX_PUSH_ID received, or -1. */
  #maxPushId = -1;

  /**
   * @param role our side: a client refuses MAX_PUSH_ID (§7.2.7) and checks GOAWAY's stream ID
   * @param maxPayload the largest SETTINGS payload accepted
   */
  constructor(role: "server" | "client", maxPayload: number) {
    this.#isClient = role === "client";
    this.#maxPayload = maxPayload;
  }

  /**
   * Checks a frame from its header. Returns true when its payload is to be read whole and
   * given to {@linkcode ControlStreamRules.finish}, false when it is to be skipped unread.
   */
  start(type: number, length: number): boolean {
    // §6.2.1, §9: any other first frame, even an unknown one, is H3_MISSING_SETTINGS.
    if (!this.#settingsSeen && type !== FRAME_SETTINGS) {
      throw connError(H3_MISSING_SETTINGS, `control stream starts with ${frameTypeName(type)}`);
    }
    if (type === FRAME_MAX_PUSH_ID && this.#isClient) {
      throw unexpected("MAX_PUSH_ID received by a client"); // §7.2.7
    }
    switch (type) {
      case FRAME_SETTINGS:
        if (this.#settingsSeen) throw unexpected("second SETTINGS frame"); // §7.2.4
        this.#settingsSeen = true;
        if (length > this.#maxPayload) {
          throw connError(H3_EXCESSIVE_LOAD, `SETTINGS payload of ${length} bytes is too large`);
        }
        return true;
      case FRAME_MAX_PUSH_ID:
      case FRAME_GOAWAY:
      case FRAME_CANCEL_PUSH:
        // The payload is one varint, at most 8 bytes: anything else is refused unbuffered.
        if (length === 0 || length > 8) {
          throw connError(H3_FRAME_ERROR, `${frameTypeName(type)} payload is ${length} bytes`);
        }
        return true;
      case FRAME_DATA:
      case FRAME_HEADERS:
      case FRAME_PUSH_PROMISE:
        throw unexpected(`${frameTypeName(type)} on the control stream`);
      default:
        if (isReservedHttp2FrameType(type)) throw unexpected(`reserved HTTP/2 frame type ${type}`);
        return false;
    }
  }

  /** Decodes a frame accepted by `start` from its whole payload, checking its ID rules. */
  finish(type: number, payload: Uint8Array): ControlFrameEvent {
    switch (type) {
      case FRAME_SETTINGS:
        return { type: "settings", settings: decodeSettings(payload) };
      case FRAME_GOAWAY: {
        const id = decodeGoaway(payload);
        // §5.2: a server's GOAWAY names a client-initiated bidirectional stream (a client's
        // names a push ID, any value), and no GOAWAY may name more than an earlier one did.
        if (this.#isClient && id % 4 !== 0) {
          throw connError(H3_ID_ERROR, `GOAWAY names stream ${id}, not a request stream`);
        }
        if (this.#goaway !== -1 && id > this.#goaway) {
          throw connError(
            H3_ID_ERROR,
            `GOAWAY ID ${id} is larger than the earlier ${this.#goaway}`,
          );
        }
        this.#goaway = id;
        return { type: "goaway", id };
      }
      case FRAME_MAX_PUSH_ID: {
        const id = decodeMaxPushId(payload);
        if (id < this.#maxPushId) { // §7.2.7: the maximum push ID cannot be reduced
          throw connError(
            H3_ID_ERROR,
            `MAX_PUSH_ID ${id} is smaller than the earlier ${this.#maxPushId}`,
          );
        }
        this.#maxPushId = id;
        return { type: "max_push_id", id };
      }
      default:
        return { type: "cancel_push", id: decodeCancelPush(payload) };
    }
  }
}

function connError(code: number, detail: string): H3Error {
  return new H3Error(code, "connection", detail);
}

function unexpected(detail: string): H3Error {
  return connError(H3_FRAME_UNEXPECTED, detail);
}
