/**
 * Reading what ngtcp2's client (`gtlsclient --qlog-file`) wrote about its connection: whether a
 * stateless reset ended it. gtlsclient exits with 0 after a stateless reset, so a test that must
 * tell such a client from one that finished learns it here.
 *
 * ```ts
 * const ended = await endedByStatelessReset(`${dir}/client.qlog`);
 * ```
 * @module
 */

/** qlog JSON-SEQ records start with this character (RFC 7464). */
const RECORD_SEPARATOR = "\x1e";

/** Bound on the records read from one file (a long upload writes a few per packet). */
const MAX_RECORDS = 5_000_000;

/**
 * True when the qlog at `path` records a stateless reset received (a `packet_received` of type
 * `stateless_reset`); false when it records none or the file is missing (no client wrote it).
 */
export async function endedByStatelessReset(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  const records = text.split(RECORD_SEPARATOR, MAX_RECORDS);
  for (const record of records) {
    // Cheap test first: nearly every record is a packet or a metric update.
    if (!record.includes('stateless_reset"')) continue;
    const event = parseRecord(record);
    if (event?.name === "transport:packet_received" && isStatelessReset(event.data)) return true;
  }
  return false;
}

interface QlogEvent {
  name?: unknown;
  data?: unknown;
}

function parseRecord(record: string): QlogEvent | undefined {
  try {
    const value: unknown = JSON.parse(record);
    return typeof value === "object" && value !== null ? value as QlogEvent : undefined;
  } catch {
    return undefined; // a record cut short when the client was killed
  }
}

function isStatelessReset(data: unknown): boolean {
  if (typeof data !== "object" || data === null) return false;
  const header = (data as { header?: unknown }).header;
  return typeof header === "object" && header !== null &&
    (header as { packet_type?: unknown }).packet_type === "stateless_reset";
}
