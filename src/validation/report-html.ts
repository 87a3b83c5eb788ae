import type { ValidationReport } from './validation-report.js';

/**
 * A validation report as one self-contained HTML page (no scripts, no external files), rendered from the report as
 * signed: every figure on it is one the release gate built. The signed file is embedded, so the page carries what
 * `healthmesh report verify` checks; the page itself is not what is signed.
 */
function esc(v: unknown): string {
  const s = v === null || v === undefined ? '—' : typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const row = (cells: unknown[], head = false) =>
  `<tr>${cells.map((c, i) => (head ? `<th>${esc(c)}</th>` : i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`;
const table = (header: unknown[], rows: unknown[][]) =>
  `<table><thead>${row(header, true)}</thead><tbody>${rows.map((r) => row(r)).join('')}</tbody></table>`;

type Group = {
  group: string;
  withheld?: true;
  n?: unknown;
  events?: unknown;
  auroc?: unknown;
  calibrationIntercept?: unknown;
  calibrationSlope?: unknown;
};

/** The page of `report`, with the signed file `jws` embedded. */
export function validationReportHtml(report: ValidationReport, jws: string): string {
  const r = report;
  const ci = (c: unknown) => (Array.isArray(c) ? `${esc(c[0])}–${esc(c[1])}` : '—');
  const subgroups = Object.entries(r.subgroups as Record<string, { groups: Group[]; aurocGap: unknown }>)
    .map(
      ([name, s]) =>
        `<h3>By ${esc(name)} (AUROC gap ${esc(s.aurocGap)})</h3>${table(
          ['group', 'n', 'events', 'AUROC', 'intercept', 'slope'],
          s.groups.map((g) =>
            g.withheld
              ? [g.group, 'withheld', '', '', '', '']
              : [g.group, g.n, g.events, g.auroc, g.calibrationIntercept, g.calibrationSlope],
          ),
        )}`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation of ${esc(r.submission.name)} ${esc(r.submission.version)} on ${esc(r.hub)}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}th[scope=row],thead th{text-align:left}.verdict{font-size:1.1rem;padding:.5rem;border:2px solid #333}pre{white-space:pre-wrap;word-break:break-all;font-size:.7rem}</style>
</head><body>
<h1>External validation of ${esc(r.submission.name)} ${esc(r.submission.version)}</h1>
<p>Developer ${esc(r.submission.developer)}; model SHA-256 <code>${esc(r.submission.modelSha256)}</code>; validated on hub <b>${esc(r.hub)}</b> at ${esc(r.createdAt)} (started by ${esc(r.startedBy)}).</p>
<p class="verdict">${esc(r.verdict.summary)}</p>
<h2>Intended use and population</h2>
<p>${esc(r.intendedUse.purpose)}; population: ${esc(r.intendedUse.population)}. Outcome ${esc(r.population.outcome)} within ${esc(r.population.horizonDays)} days of ${esc(r.population.indexDate)}; consent purpose ${esc(r.population.consentPurpose)} (left out: ${esc(r.population.leftOutByConsent)}).</p>
<h2>Sample size</h2>
${table(['n', 'events', 'non-events', 'prevalence', 'sufficient'], [[r.sampleSize.n, r.sampleSize.events, r.sampleSize.nonEvents, r.sampleSize.prevalence, r.sampleSize.sufficient ? 'yes' : 'no']])}
<p>${esc(r.sampleSize.rule)}</p>
<h2>Discrimination and calibration</h2>
${table(
  ['', 'this hub', 'developer'],
  [
    ['AUROC', r.discrimination.auroc, r.reportedPerformance.auroc],
    ['AUROC 95% CI', ci(r.discrimination.aurocCi), ci(r.reportedPerformance.aurocCi)],
    ['calibration intercept', r.calibration.intercept, r.reportedPerformance.calibrationIntercept],
    ['calibration slope', r.calibration.slope, r.reportedPerformance.calibrationSlope],
    ['ICI', r.calibration.ici, null],
    ['Brier', r.calibration.brier, null],
  ],
)}
${table(
  ['tenth', 'n', 'mean predicted', 'observed'],
  r.calibration.curve.map((b, i) => [i + 1, b.n, b.meanPredicted, b.observed]),
)}
<h2>Net benefit</h2>
${table(
  ['threshold', 'model', 'treat all', 'treat none'],
  r.netBenefit.map((n) => [n.threshold, n.model, n.treatAll, n.treatNone]),
)}
<h2>Subgroups</h2>${subgroups}
<h2>Missing data</h2>
${table(
  ['feature', 'missing', 'share', 'handling'],
  r.missingData.map((m) => [m.feature, m.missing, m.share, m.handling]),
)}
<h2>Dataset shift</h2>
${table(
  ['feature', 'developer mean', 'developer SD', 'hub mean', 'hub SD', 'standardised difference', 'shifted'],
  r.datasetShift.map((d) => [
    d.feature,
    d.developer.mean,
    d.developer.sd,
    d.hub.mean,
    d.hub.sd,
    d.standardisedDifference,
    d.shifted === null ? '—' : d.shifted ? 'yes' : 'no',
  ]),
)}
<p>Disclosure control: counts under ${esc(r.disclosure.threshold)} withheld, others rounded to ${esc(r.disclosure.rounding)}; figures to ${esc(r.disclosure.precision)} significant digits.</p>
<h2>Signature</h2>
<p>The signed report (compact JWS, Ed25519, the hub's identity); check it with <code>healthmesh report verify</code> and the hub's public key from <code>GET /federation/identity</code>.</p>
<pre id="signed-report">${esc(jws)}</pre>
</body></html>
`;
}
