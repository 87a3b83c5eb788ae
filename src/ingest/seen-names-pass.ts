import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import type { RecordInput } from '../fhir/index.js';
import { inputName } from '../fhir/index.js';
import { NAMED_PERSON_TYPES, SeenNames } from '../privacy/index.js';

type Json = Record<string, unknown>;

/**
 * Only a line or document holding one of these can hold a named person: `"Patient"` as a JSON string is a
 * resourceType (references are `"Patient/…"`), so the scan parses almost nothing but the people.
 */
const MARKERS = [...NAMED_PERSON_TYPES].map((t) => Buffer.from(`"${t}"`));
/**
 * The NDJSON scan looks for this key and reads the type after it: one `indexOf` pass for every type, where a pass per
 * marker cost four, and `"Patient"` alone was the slowest (every reference starts `"Patient/`: 368 ms of 640 ms on
 * 225 MB of Synthea). A person's resource names its type only under this key, so no person is missed that the
 * markers would have found.
 */
const TYPE_KEY = Buffer.from('"resourceType"');
const PERSON_TYPES = [...NAMED_PERSON_TYPES].map((t) => Buffer.from(`${t}"`));
const QUOTE = 0x22;
const COLON = 0x3a;
const NDJSON_FILE = /\.(ndjson|jsonl)(\.gz)?$/i;
const NEWLINE = 0x0a;

/**
 * First pass of an ingest run: the names of every Patient, RelatedPerson, Person and Practitioner in `inputs`
 * (NDJSON lines, documents, Bundle entries and contained resources), so that free text anywhere in the run,
 * whatever the order of its files and on whichever thread it is prepared, masks them. Bulk Data writes one
 * file per type and Patient.ndjson may come after the Observations that name the patient. Reads each input
 * once more but parses only lines that contain a person's resourceType; unreadable lines are left to the
 * ingest's own reader to reject.
 */
export async function gatherSeenNames(inputs: readonly RecordInput[], maxRecordBytes: number): Promise<SeenNames> {
  const names = new SeenNames();
  for (const input of inputs) {
    const ndjson = NDJSON_FILE.test(inputName(input));
    if (typeof input !== 'string') {
      const bytes = isGzip(input.bytes) ? await gunzipped(input.bytes) : input.bytes;
      if (ndjson) scanLines(bytes, names, maxRecordBytes);
      else scanDocument(bytes, names, maxRecordBytes);
      continue;
    }
    if (ndjson && !/\.gz$/i.test(input)) {
      await scanNdjsonFile(input, names, maxRecordBytes);
      continue;
    }
    const stream = openInput(input);
    if (ndjson) await scanNdjsonStream(stream, names, maxRecordBytes);
    else {
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxRecordBytes) break; // rejected by the reader as too large: nothing of it is stored
        parts.push(chunk);
      }
      stream.destroy();
      if (size <= maxRecordBytes) scanDocument(Buffer.concat(parts), names, maxRecordBytes);
    }
  }
  return names;
}

/** The names of the people in one parsed document (a resource or a Bundle), as the API receives it. */
export function seenNamesOf(value: unknown): SeenNames {
  const names = new SeenNames();
  collect(value, names, 0);
  return names;
}

function openInput(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (!/\.gz$/i.test(file)) return raw;
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const gunzipped = promisify(gunzip);

async function scanNdjsonStream(stream: Readable, names: SeenNames, maxRecordBytes: number): Promise<void> {
  let carry: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const block = carry ? Buffer.concat([carry, chunk]) : chunk;
    const lastNewline = block.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      carry = block.length > maxRecordBytes ? undefined : block; // an over-long line: the reader rejects it
      continue;
    }
    scanLines(block.subarray(0, lastNewline), names, maxRecordBytes);
    carry = block.subarray(lastNewline + 1);
  }
  if (carry && carry.length > 0) scanLines(carry, names, maxRecordBytes);
}

/** Bytes read at a time from a plain NDJSON file; a line longer than this grows the buffer, up to the record limit. */
const READ_BYTES = 8 << 20;

/**
 * A plain file read into one reused buffer: a stream's 1 MB chunks joined to each one's carried tail copied every byte
 * again (433 ms against 178 ms for 225 MB of Synthea, with the scan). Not the ingest's `readNdjsonBlocks`: it
 * needs a fresh buffer per block (each is transferred to a worker) and a record per line, which made this pass 2–3×
 * slower (measured); here one buffer is reused and only lines holding a person are looked at.
 */
async function scanNdjsonFile(file: string, names: SeenNames, maxRecordBytes: number): Promise<void> {
  const handle = await open(file, 'r');
  try {
    let buffer = Buffer.allocUnsafe(READ_BYTES);
    let filled = 0; // bytes of an unfinished line at the start of `buffer`
    let skipping = false; // inside a line past the record limit: the reader rejects it, nothing of it is scanned
    for (;;) {
      if (filled === buffer.length) {
        if (buffer.length >= maxRecordBytes + 1) {
          skipping = true;
          filled = 0;
        } else {
          const grown = Buffer.allocUnsafe(Math.min(2 * buffer.length, maxRecordBytes + 1));
          buffer.copy(grown, 0, 0, filled);
          buffer = grown;
        }
      }
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      const end = filled + bytesRead;
      if (bytesRead === 0) {
        if (end > 0 && !skipping) scanLines(buffer.subarray(0, end), names, maxRecordBytes);
        return;
      }
      let from = 0;
      if (skipping) {
        const newline = buffer.indexOf(NEWLINE, filled);
        if (newline === -1 || newline >= end) {
          filled = 0;
          continue;
        }
        skipping = false;
        from = newline + 1;
      }
      const lastNewline = buffer.lastIndexOf(NEWLINE, end - 1);
      if (lastNewline < from) {
        buffer.copy(buffer, 0, from, end);
        filled = end - from;
        continue;
      }
      scanLines(buffer.subarray(from, lastNewline), names, maxRecordBytes);
      buffer.copy(buffer, 0, lastNewline + 1, end);
      filled = end - lastNewline - 1;
    }
  } finally {
    await handle.close();
  }
}

/** Parses the lines of `block` that hold a marker, once each. */
function scanLines(block: Buffer, names: SeenNames, maxRecordBytes: number): void {
  let parsedUpTo = -1;
  for (let hit = block.indexOf(TYPE_KEY); hit !== -1; hit = block.indexOf(TYPE_KEY, hit + TYPE_KEY.length)) {
    if (hit < parsedUpTo || !namesPersonType(block, hit + TYPE_KEY.length)) continue;
    const start = block.lastIndexOf(NEWLINE, hit) + 1;
    const newline = block.indexOf(NEWLINE, hit);
    const end = newline === -1 ? block.length : newline;
    parsedUpTo = end;
    if (end - start <= maxRecordBytes) scanDocument(block.subarray(start, end), names, maxRecordBytes);
  }
}

/** Whether the value after a `"resourceType"` key at `at` is one of the person types (JSON whitespace allowed). */
function namesPersonType(block: Buffer, at: number): boolean {
  let i = skipSpace(block, at);
  if (block[i] !== COLON) return false;
  i = skipSpace(block, i + 1);
  if (block[i] !== QUOTE) return false;
  i++;
  for (const type of PERSON_TYPES) {
    if (block.length - i >= type.length && block.compare(type, 0, type.length, i, i + type.length) === 0) return true;
  }
  return false;
}

function skipSpace(block: Buffer, i: number): number {
  while (i < block.length) {
    const c = block[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

function scanDocument(bytes: Buffer, names: SeenNames, maxRecordBytes: number): void {
  if (bytes.length > maxRecordBytes || !MARKERS.some((m) => bytes.includes(m))) return;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return; // the ingest's reader rejects it with its location
  }
  collect(value, names, 0);
}

/** Persons at the top, in Bundle entries (nested Bundles too) and among contained resources. */
function collect(value: unknown, names: SeenNames, depth: number): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > 8) return;
  const resource = value as Json;
  names.addResource(resource);
  if (Array.isArray(resource.contained)) for (const c of resource.contained) collect(c, names, depth + 1);
  if (resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    for (const e of resource.entry as unknown[]) {
      if (e !== null && typeof e === 'object') collect((e as Json).resource, names, depth + 1);
    }
  }
}
