/**
 * A small Server-Sent Events reader for tests and scripted checks.
 * @module
 */

import { withTimeout } from "../../lib/timeout.ts";

/** One SSE message. */
export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads SSE messages from a response body, one at a time; `cancel()` ends the stream. */
export function sseReader(
  body: ReadableStream<Uint8Array>,
): (() => Promise<SseMessage>) & { cancel(): Promise<void> } {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const next = async function next(): Promise<SseMessage> {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          message[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
        }
        if (message.event || message.data) return message;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("event stream ended");
      buffer += value;
    }
  };
  return Object.assign(next, { cancel: () => reader.cancel().catch(() => {}) });
}

/**
 * Everything `body` still carries, as text, once it ends (each read bounded by `timeoutMs`), for
 * a stream the server is expected to close, such as one it drops for not being read.
 */
export async function readToEnd(
  body: ReadableStream<Uint8Array>,
  what: string,
  timeoutMs = 30_000,
): Promise<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (let i = 0; i < 1_000_000; i++) {
    const { value, done } = await withTimeout(reader.read(), timeoutMs, what);
    if (done) break;
    text += value;
  }
  return text;
}
