import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HealthmeshError } from '../core/index.js';

/** One record read from an input, parsed or with the reason it could not be. */
export type RawRecord =
  | { file: string; line?: number; bytes: number; value: unknown }
  | { file: string; line?: number; bytes: number; error: HealthmeshError };

/** An NDJSON line not yet decoded or parsed (for parsing elsewhere, e.g. in a worker thread). */
export type RawLine = { file: string; line: number; bytes: number; buffer: Buffer } | (RawRecord & { line?: number });

export interface ReaderOptions {
  /** Largest record accepted, in bytes; longer lines are rejected without being held in memory. */
  maxRecordBytes: number;
}

/**
 * An input held in memory (an upload), read exactly like a file of that name: the bytes never touch the disk,
 * which matters because they carry direct identifiers until pseudonymised.
 */
export interface InMemoryInput {
  name: string;
  bytes: Buffer;
}

/** A file path, or an in-memory input. */
export type RecordInput = string | InMemoryInput;

/** The name records of `input` are located by. */
export function inputName(input: RecordInput): string {
  return typeof input === 'string' ? input : input.name;
}

export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
const NDJSON = /\.(ndjson|jsonl)(\.gz)?$/i;
const JSON_DOC = /\.json(\.gz)?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** What `healthmesh synth --out` writes beside its FHIR files: ground truth and its manifest, not FHIR. */
const SYNTH_EXTRAS = new Set(['manifest.json', 'truth']);

/** Whether a folder is a `healthmesh synth` output, known by the generator its manifest names. */
async function isSynthOutput(dir: string, names: readonly string[]): Promise<boolean> {
  if (!names.includes('manifest.json')) return false;
  try {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { generator?: unknown };
    return m.generator === 'healthmesh synth';
  } catch {
    return false; // not a synth manifest: an input like any other, rejected if it is not FHIR
  }
}

/**
 * Expand files and folders (recursively, sorted) into the files they hold. Every non-hidden file is an input:
 * one that is not FHIR JSON becomes a visible reject rather than being skipped (real exports carry odd names,
 * e.g. `x.json".gz`). The one exception is a `healthmesh synth` output folder, known by its manifest: its
 * `manifest.json` and `truth/` are listed in `skipped` instead.
 */
export async function listInputFiles(paths: readonly string[], skipped: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(p);
    } catch (e) {
      throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${p}: ${(e as Error).message}`, { file: p });
    }
    if (s.isDirectory()) {
      const names = (await readdir(p)).sort().filter((n) => !n.startsWith('.'));
      const synth = await isSynthOutput(p, names);
      if (synth) skipped.push(...names.filter((n) => SYNTH_EXTRAS.has(n)).map((n) => join(p, n)));
      const inputs = synth ? names.filter((n) => !SYNTH_EXTRAS.has(n)) : names;
      out.push(
        ...(await listInputFiles(
          inputs.map((n) => join(p, n)),
          skipped,
        )),
      );
    } else {
      out.push(p);
    }
  }
  return out;
}

function isGzip(input: RecordInput): boolean {
  if (typeof input !== 'string') return input.bytes.length >= 2 && input.bytes[0] === 0x1f && input.bytes[1] === 0x8b;
  const fd = openSync(input, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function openBytes(input: RecordInput): Readable {
  const raw =
    typeof input === 'string'
      ? createReadStream(input, { highWaterMark: 1 << 20 })
      : Readable.from([input.bytes], { objectMode: false });
  if (!isGzip(input)) return raw;
  const gunzip = createGunzip();
  raw.on('error', (e: Error) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** Decode (strict UTF-8) and parse one record's bytes. */
export function parseRecord(file: string, line: number | undefined, bytes: Buffer): RawRecord {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return {
      file,
      ...(line !== undefined && { line }),
      bytes: bytes.length,
      error: new HealthmeshError('INGEST_BINARY_INPUT', 'the record is not UTF-8 text (binary data?)', {
        file,
        ...(line !== undefined && { line }),
      }),
    };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    // No spread: this runs for every record (a spread per record cost an ingest worker ~5%).
    return { file, line, bytes: bytes.length, value: JSON.parse(text) };
  } catch (e) {
    return {
      file,
      ...(line !== undefined && { line }),
      bytes: bytes.length,
      error: new HealthmeshError('INGEST_INVALID_JSON', `invalid JSON: ${(e as Error).message}`, {
        file,
        ...(line !== undefined && { line }),
      }),
    };
  }
}

/**
 * Yields the records of one file. NDJSON (`.ndjson`, `.jsonl`) is split into lines as bytes arrive, so memory
 * stays bounded by `maxRecordBytes` whatever the file size; a line over the limit is skipped to its end and
 * reported. `.json` files are one JSON document (a resource or a Bundle). Files with other names are read whole
 * and taken as one document if they parse as one, else as NDJSON. Gzip is recognised by its magic bytes.
 * Blank lines are ignored; CRLF and a leading BOM are accepted.
 */
export async function* readRecords(input: RecordInput, options: ReaderOptions): AsyncGenerator<RawRecord> {
  const name = inputName(input);
  if (!NDJSON.test(name) && !JSON_DOC.test(name)) {
    yield* readUnnamed(input, options);
    return;
  }
  yield* readNamed(input, NDJSON.test(name), options) as AsyncGenerator<RawRecord>;
}

async function* readUnnamed(file: RecordInput, options: ReaderOptions): AsyncGenerator<RawRecord> {
  const whole: RawRecord[] = [];
  for await (const r of readNamed(file, false, options)) whole.push(r as RawRecord);
  const only = whole[0];
  if (whole.length === 1 && only && 'error' in only && only.error.code === 'INGEST_INVALID_JSON') {
    const lines: RawRecord[] = [];
    for await (const r of readNamed(file, true, options)) lines.push(r as RawRecord);
    // NDJSON if most lines parse on their own; otherwise the single-document error is the clearer one.
    const parsed = lines.filter((r) => !('error' in r)).length;
    if (lines.length > 1 && parsed >= lines.length / 2) {
      yield* lines;
      return;
    }
  }
  yield* whole;
}

/**
 * The lines of an NDJSON file as bytes, unparsed; oversized lines and an empty file come as error records, as
 * in `readRecords`.
 */
export function readNdjsonLines(file: string, options: ReaderOptions): AsyncGenerator<RawLine> {
  return readNamed(file, true, options, false) as AsyncGenerator<RawLine>;
}

/** Whole NDJSON lines of one plain file in one transferable buffer (see `readNdjsonBlocks`). */
export interface LineBlock {
  file: string;
  /** Its own ArrayBuffer (not a pool's), so it can be transferred to a worker as it is. */
  buffer: ArrayBuffer;
  /** Where each line starts and ends in `buffer` (its end excludes the LF and a CR before it). */
  starts: number[];
  ends: number[];
  /** Each line's number in the file (1-based; blank lines are counted, not included). */
  lines: number[];
  /** The lines' bytes, as `RawLine.bytes` counts them (without line ends). */
  bytes: number;
}

/**
 * The lines of a plain (not gzipped) NDJSON file in blocks of about `blockBytes`, read straight into each block's own
 * buffer: the same lines, numbers and error records as `readNdjsonLines`, in the same order (an error record comes
 * between the lines before it and those after), without a Buffer and a promise per line. Splitting 161,840 lines one
 * by one and joining them again into chunks cost the main thread of an ingest ~1 s of CPU (measured).
 */
export async function* readNdjsonBlocks(
  file: string,
  options: ReaderOptions & { blockBytes: number; maxLines: number },
): AsyncGenerator<LineBlock | RawRecord> {
  const { maxRecordBytes, blockBytes, maxLines } = options;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  try {
    let buffer = Buffer.allocUnsafeSlow(blockBytes);
    let filled = 0; // the unfinished line carried to the start of `buffer`
    let skipping = false; // inside a line past the limit: reported when it ends, never held
    let lineNo = 0;
    let any = false;
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null));
      } catch (e) {
        throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { file });
      }
      const end = filled + bytesRead;
      const eof = bytesRead === 0;
      let block = emptyBlock(file, buffer);
      let pos = 0;
      const out: (LineBlock | RawRecord)[] = [];
      // A block cut before the end of this buffer (an error, or too many lines) takes a copy of its lines.
      const cut = () => {
        if (block.lines.length > 0) out.push(copied(block, buffer));
        block = emptyBlock(file, buffer);
      };
      for (;;) {
        let nl = buffer.indexOf(0x0a, pos);
        if (nl >= end) nl = -1;
        if (nl === -1 && !(eof && pos < end)) break;
        const lineEnd = nl === -1 ? end : nl;
        lineNo++;
        if (skipping || lineEnd - pos > maxRecordBytes) {
          skipping = false;
          any = true;
          cut();
          out.push(tooLarge(file, lineNo, maxRecordBytes));
        } else {
          const stop = lineEnd > pos && buffer[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd;
          if (!isBlank(buffer.subarray(pos, stop))) {
            any = true;
            if (block.lines.length >= maxLines) cut();
            block.starts.push(pos);
            block.ends.push(stop);
            block.lines.push(lineNo);
            block.bytes += stop - pos;
          }
        }
        pos = nl === -1 ? end : nl + 1;
      }
      // The unfinished last line moves to the next buffer (grown for a long line, up to the limit).
      const partial = end - pos;
      const next = eof
        ? buffer
        : Buffer.allocUnsafeSlow(Math.max(blockBytes, Math.min(2 * partial, maxRecordBytes + 2)));
      if (!eof) {
        if (partial > maxRecordBytes || skipping) {
          skipping = true;
          filled = 0;
        } else {
          buffer.copy(next, 0, pos, end);
          filled = partial;
        }
      }
      if (block.lines.length > 0) out.push(block);
      yield* out;
      if (eof) break;
      buffer = next;
    }
    if (skipping) yield tooLarge(file, lineNo + 1, maxRecordBytes);
    if (!any && !skipping) {
      yield { file, bytes: 0, error: new HealthmeshError('INGEST_EMPTY_FILE', 'the file holds no records', { file }) };
    }
  } finally {
    await handle.close();
  }
}

function emptyBlock(file: string, buffer: Buffer): LineBlock {
  return { file, buffer: buffer.buffer as ArrayBuffer, starts: [], ends: [], lines: [], bytes: 0 };
}

/** A block's lines copied into a buffer of their own (the block's buffer still holds lines after them). */
function copied(block: LineBlock, buffer: Buffer): LineBlock {
  const from = block.starts[0]!;
  const to = block.ends[block.ends.length - 1]!;
  const own = Buffer.allocUnsafeSlow(to - from);
  buffer.copy(own, 0, from, to);
  return {
    ...block,
    buffer: own.buffer as ArrayBuffer,
    starts: block.starts.map((x) => x - from),
    ends: block.ends.map((x) => x - from),
  };
}

function tooLarge(file: string, line: number, maxRecordBytes: number): RawRecord {
  return {
    file,
    line,
    bytes: maxRecordBytes,
    error: new HealthmeshError('INGEST_RECORD_TOO_LARGE', `the record exceeds the limit of ${maxRecordBytes} bytes`, {
      file,
      line,
    }),
  };
}

async function* readNamed(
  input: RecordInput,
  ndjson: boolean,
  options: ReaderOptions,
  parse = true,
): AsyncGenerator<RawRecord | RawLine> {
  const file = inputName(input);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflowing = false;
  let lineNo = 0;
  let any = false;
  const location = (line: number) => (ndjson ? { file, line } : { file });

  const finish = (): RawRecord | RawLine | undefined => {
    lineNo++;
    let buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (overflowing) {
      overflowing = false;
      any = true;
      return {
        ...location(lineNo),
        bytes: options.maxRecordBytes,
        error: new HealthmeshError(
          'INGEST_RECORD_TOO_LARGE',
          `the record exceeds the limit of ${options.maxRecordBytes} bytes`,
          location(lineNo),
        ),
      };
    }
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    if (isBlank(buf)) return undefined;
    any = true;
    if (!parse) return { file, line: lineNo, bytes: buf.length, buffer: buf };
    return parseRecord(file, ndjson ? lineNo : undefined, buf);
  };

  const stream = openBytes(input);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      if (ndjson) {
        for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
          append(chunk.subarray(start, nl));
          const rec = finish();
          if (rec) yield rec;
          start = nl + 1;
        }
      }
      append(chunk.subarray(start));
    }
  } catch (e) {
    if (e instanceof HealthmeshError) throw e;
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  if (pendingBytes > 0 || overflowing) {
    const rec = finish();
    if (rec) yield rec;
  }
  if (!any) {
    yield {
      file,
      bytes: 0,
      error: new HealthmeshError('INGEST_EMPTY_FILE', 'the file holds no records', { file }),
    };
  }

  function append(part: Buffer): void {
    if (part.length === 0 || overflowing) return;
    if (pendingBytes + part.length > options.maxRecordBytes) {
      overflowing = true;
      pending = [];
      pendingBytes = 0;
      return;
    }
    pending.push(part);
    pendingBytes += part.length;
  }
}

function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) {
      // a lone BOM line is blank too
      if (i === 0 && c === 0xef && buf[1] === 0xbb && buf[2] === 0xbf && buf.length === 3) return true;
      return false;
    }
  }
  return true;
}
