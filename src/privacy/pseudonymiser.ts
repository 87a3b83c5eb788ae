import { createHmac } from 'node:crypto';

/**
 * Keyed pseudonyms. `patient_key = HMAC-SHA256(hub secret, "patient" | source | source id)`: stable per hub
 * and source, irreversible without the secret. Other resources get a shorter keyed id from (source, type,
 * source id), so two sources' `Patient/123` never collide and re-ingest maps to the same stored id.
 */
export class Pseudonymiser {
  /** References repeat the same few targets (a patient, an encounter): a bounded memo saves most HMACs. */
  private readonly memo = new Map<string, string>();
  private static readonly MEMO_LIMIT = 200_000;

  constructor(private readonly secret: Buffer) {
    if (secret.length < 32) throw new Error('the hub secret must be at least 32 bytes');
  }

  /** The pseudonymous patient key (64 hex chars), which is also the stored Patient id. */
  patientKey(source: string, sourceId: string): string {
    return this.mac(`patient\u0000${source}\u0000${sourceId}`);
  }

  /** The stored id of a non-Patient resource (32 hex chars: 128 bits, collision-free in practice). */
  resourceId(source: string, type: string, sourceId: string): string {
    if (type === 'Patient') return this.patientKey(source, sourceId);
    return this.mac(`resource\u0000${source}\u0000${type}\u0000${sourceId}`).slice(0, 32);
  }

  /**
   * How the audit log names a file the hub read from disk: a path can hold a person's name or registration number
   * (`./홍길동-900101-1234567.ndjson`), and masking catches the number but not the name. So the log keeps
   * `path-` and the first 16 hex digits of HMAC-SHA256(hub secret, "path" | absolute path), then the file's
   * extension (`.ndjson.gz`): the same file gives the same label on this hub, an operator holding the file can
   * recompute it, and without the secret the label cannot be tested against guessed names and numbers.
   */
  pathLabel(absolutePath: string): string {
    const ext = /\.(?:ndjson|jsonl|json|csv)(?:\.gz)?$/i.exec(absolutePath)?.[0]?.toLowerCase() ?? '';
    const mac = createHmac('sha256', this.secret).update(`path\u0000${absolutePath}`).digest('hex');
    return `path-${mac.slice(0, 16)}${ext}`;
  }

  private mac(message: string): string {
    const known = this.memo.get(message);
    if (known !== undefined) return known;
    const mac = createHmac('sha256', this.secret).update(message).digest('hex');
    if (this.memo.size >= Pseudonymiser.MEMO_LIMIT) this.memo.clear();
    this.memo.set(message, mac);
    return mac;
  }
}
