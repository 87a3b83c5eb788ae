import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { Ed25519Jwk } from '../../federation/index.js';
import { loadIdentity } from '../../federation/index.js';
import { jwsDigest, pdfJwsDigest, verifyReport } from '../../validation/index.js';
import type { Io } from '../io.js';
import { hubFiles } from './federation.js';

/** A public key from a file: a bare Ed25519 JWK, or `GET /federation/identity`'s answer holding one. */
function keyFromFile(file: string): Ed25519Jwk {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HealthmeshError('VALIDATION_REPORT_INVALID', `${file} is not JSON: ${(e as Error).message}`, { file });
  }
  const o = v as { publicKey?: unknown; kty?: unknown };
  const jwk = (o.kty === undefined ? o.publicKey : o) as Partial<Ed25519Jwk> | undefined;
  if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new HealthmeshError('VALIDATION_REPORT_INVALID', `${file} holds no Ed25519 public key (JWK)`, { file });
  }
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
}

export function reportCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const report = program.command('report').description('Signed model validation reports (docs/validation.md).');
  report
    .command('verify')
    .description(
      "Check a signed validation report (.jws) against a hub's public key; exit 0 when it verifies, 1 when not.",
    )
    .argument('<file>', 'the signed report (?format=jws), or its PDF (?format=pdf) with --jws')
    .option('--jws <file>', 'with a PDF: the signed file it was printed from, which is verified and must match the PDF')
    .option('--key <file>', "the hub's public key: a JWK, or the answer of GET /federation/identity saved to a file")
    .option('--hub-dir <dir>', "a hub directory on this machine: its own identity's public key")
    .option('--json', 'print the verified report as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ curl -s https://busan.example/federation/identity > busan.json\n  $ healthmesh report verify sub-1f2e.jws --key busan.json\n  $ healthmesh report verify sub-1f2e.pdf --jws sub-1f2e.jws --key busan.json\n',
    )
    .action(async (file: string, opts: { key?: string; hubDir?: string; json?: boolean; jws?: string }) => {
      if ((opts.key === undefined) === (opts.hubDir === undefined)) {
        throw new HealthmeshError('VALIDATION_REPORT_INVALID', 'give the key: exactly one of --key or --hub-dir');
      }
      let key: Ed25519Jwk;
      if (opts.key !== undefined) key = keyFromFile(opts.key);
      else {
        const hub = hubFiles(opts.hubDir!);
        key = loadIdentity(hub.name, hub.paths).publicJwk;
      }
      const bytes = readFileSync(file);
      let signed = file;
      if (bytes.subarray(0, 5).toString('latin1') === '%PDF-') {
        // A PDF is not signed: it names the signed file's SHA-256, and that file is what verifies.
        if (opts.jws === undefined) {
          throw new HealthmeshError('VALIDATION_REPORT_INVALID', `${file} is a PDF: give its signed file with --jws`);
        }
        signed = opts.jws;
        const named = pdfJwsDigest(bytes);
        if (named === null || named !== jwsDigest(readFileSync(signed, 'utf8'))) {
          throw new HealthmeshError('VALIDATION_REPORT_INVALID', `${file} does not name ${signed} (SHA-256 differs)`, {
            file,
          });
        }
      }
      const result = await verifyReport(readFileSync(signed, 'utf8'), key);
      if (!result.valid) {
        throw new HealthmeshError('VALIDATION_REPORT_INVALID', `${signed} does not verify: ${result.reason}`, {
          file: signed,
        });
      }
      const r = result.report as {
        hub?: string;
        submission?: { name?: string; version?: string };
        verdict?: { claims?: string };
      };
      if (opts.json) io.out.write(`${JSON.stringify(result.report, null, 2)}\n`);
      else {
        io.out.write(
          `valid: signed by key ${result.kid} (hub ${r.hub ?? '?'}); ${r.submission?.name ?? '?'} ${r.submission?.version ?? ''}: claims ${r.verdict?.claims ?? '?'}\n`,
        );
      }
      setCode(0);
    });
}
