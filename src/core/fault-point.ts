/**
 * Crash points for the fault tests (`test/fault-points.test.ts`): with `HEALTHMESH_FAULT_POINT=<name>:<n>` set, the
 * process kills itself with SIGKILL the n-th time it reaches `faultPoint(name)`, as a power cut or the OOM killer
 * would, at a place a test could not hit reliably from outside (between a batch's store write and its commit).
 * Unset, as in every real run, a call is one comparison. Points: `ingest.before-commit` (a batch written and audited
 * in its transaction, not committed), `ingest.after-commit` (committed, its after-commit pass not run),
 * `export.write` (one more resource written to an export file).
 */
const spec = parseFaultPoint(process.env.HEALTHMESH_FAULT_POINT);
let reached = 0;

function parseFaultPoint(value: string | undefined): { name: string; at: number } | undefined {
  const m = value === undefined ? null : /^([a-z.-]+):([1-9]\d*)$/.exec(value);
  return m ? { name: m[1] as string, at: Number(m[2]) } : undefined;
}

/** Kill this process here if `HEALTHMESH_FAULT_POINT` names this point and this is its n-th reach. */
export function faultPoint(name: string): void {
  if (spec === undefined || spec.name !== name) return;
  if (++reached === spec.at) process.kill(process.pid, 'SIGKILL');
}
