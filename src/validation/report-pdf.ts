import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthmeshError } from '../core/index.js';

/** Debian's chromium, which prints the HTML report to PDF; the hub installs no PDF library. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
const PRINT_TIMEOUT_MS = 60_000;
const TAG = 'jws-sha256:';

/** The SHA-256 (hex) of a signed report file: what its PDF carries, to be matched with the `.jws` beside it. */
export function jwsDigest(jws: string): string {
  return createHash('sha256').update(jws.trim()).digest('hex');
}

/**
 * The HTML report printed to PDF by the system's chromium (headless, no network: the page has no external file).
 * The PDF is not signed itself: it carries the SHA-256 of the signed file in its title and as a visible line, and
 * `healthmesh report verify REPORT.pdf --jws REPORT.jws` checks the `.jws` and that the PDF names it.
 * Without chromium: `VALIDATION_PDF_UNAVAILABLE`.
 */
export async function printReportPdf(html: string, jws: string, chromium = CHROMIUM_PATH): Promise<Uint8Array> {
  if (!existsSync(chromium)) {
    throw new HealthmeshError('VALIDATION_PDF_UNAVAILABLE', `no ${chromium} on this hub to print the PDF with`);
  }
  const digest = jwsDigest(jws);
  const page = html
    .replace(/<\/title>/, ` (${TAG}${digest})</title>`)
    .replace(/<\/body>/, `<p>Signed report file SHA-256: <code>${digest}</code></p></body>`);
  const dir = mkdtempSync(join(tmpdir(), 'hm-report-pdf-'));
  try {
    writeFileSync(join(dir, 'report.html'), page, { mode: 0o600 });
    const out = join(dir, 'report.pdf');
    await new Promise<void>((resolve, reject) => {
      execFile(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-pdf-header-footer',
          `--user-data-dir=${join(dir, 'profile')}`,
          `--print-to-pdf=${out}`,
          `file://${join(dir, 'report.html')}`,
        ],
        { timeout: PRINT_TIMEOUT_MS, env: { HOME: dir, PATH: process.env.PATH ?? '/usr/bin:/bin' } },
        (err) => (err && !existsSync(out) ? reject(err) : resolve()),
      );
    }).catch((e: unknown) => {
      throw new HealthmeshError(
        'VALIDATION_PDF_UNAVAILABLE',
        `chromium did not print the PDF: ${(e as Error).message}`,
      );
    });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The signed file's SHA-256 a PDF from `printReportPdf` names in its title, or null. */
export function pdfJwsDigest(pdf: Uint8Array): string | null {
  const text = Buffer.from(pdf).toString('latin1');
  const m = /\/Title\s*(<[0-9A-Fa-f\s]*>|\((?:\\.|[^\\)])*\))/.exec(text);
  if (!m) return null;
  const raw = m[1]!;
  let title: string;
  if (raw.startsWith('<')) {
    const hex = raw.slice(1, -1).replace(/\s/g, '');
    const bytes = Buffer.from(hex, 'hex');
    // UTF-16BE with a byte-order mark, as PDF text strings outside PDFDocEncoding are written.
    title =
      bytes[0] === 0xfe && bytes[1] === 0xff
        ? Buffer.from(bytes.subarray(2)).swap16().toString('utf16le')
        : bytes.toString('latin1');
  } else title = raw.slice(1, -1);
  return new RegExp(`${TAG}([0-9a-f]{64})`).exec(title)?.[1] ?? null;
}
