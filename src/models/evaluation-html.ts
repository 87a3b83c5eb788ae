import type { CalibrationBin } from './calibration.js';
import type { EvaluationReport, Metrics } from './evaluation.js';
import type { LogisticFit } from './logistic-inference.js';

/** Plot geometry: a square plot area inside margins, in SVG user units. */
const SIZE = 300;
const MARGIN = 44;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number | null, digits = 3): string {
  return v === null ? '—' : v.toFixed(digits);
}

/** Map [0, 1] to plot coordinates (y grows downwards in SVG). */
const px = (v: number) => (MARGIN + v * SIZE).toFixed(1);
const py = (v: number) => (MARGIN + (1 - v) * SIZE).toFixed(1);

function axes(xLabel: string, yLabel: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const parts = [
    `<rect x="${MARGIN}" y="${MARGIN}" width="${SIZE}" height="${SIZE}" fill="none" stroke="#999"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#bbb" stroke-dasharray="4 4"/>`,
  ];
  for (const t of ticks) {
    parts.push(`<text x="${px(t)}" y="${MARGIN + SIZE + 16}" text-anchor="middle">${t}</text>`);
    parts.push(`<text x="${MARGIN - 6}" y="${py(t)}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  parts.push(`<text x="${MARGIN + SIZE / 2}" y="${MARGIN + SIZE + 34}" text-anchor="middle">${xLabel}</text>`);
  parts.push(`<text transform="translate(12 ${MARGIN + SIZE / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  return parts.join('');
}

function svg(title: string, body: string): string {
  const full = SIZE + 2 * MARGIN;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" width="${full}" height="${full}" ` +
    `role="img" aria-label="${escapeHtml(title)}" font-size="11" font-family="sans-serif">${body}</svg>`
  );
}

/** The ROC curve as an inline SVG. */
export function rocSvg(roc: { fpr: number[]; tpr: number[] }, auroc: number | null): string {
  const points = roc.fpr.map((f, k) => `${px(f)},${py(roc.tpr[k]!)}`).join(' ');
  const curve = points ? `<polyline points="${points}" fill="none" stroke="#1f5fa8" stroke-width="2"/>` : '';
  const label = `<text x="${px(0.55)}" y="${py(0.08)}">AUROC ${fmt(auroc)}</text>`;
  return svg('ROC curve', axes('1 − specificity', 'sensitivity') + curve + label);
}

/** Observed against mean predicted risk per group, with Wilson intervals, as an inline SVG. */
export function calibrationSvg(bins: readonly CalibrationBin[]): string {
  const marks = bins.map(
    (b) =>
      `<line x1="${px(b.meanPredicted)}" y1="${py(b.observedCi[0])}" x2="${px(b.meanPredicted)}" y2="${py(b.observedCi[1])}" stroke="#c0504d"/>` +
      `<circle cx="${px(b.meanPredicted)}" cy="${py(b.observed)}" r="3.5" fill="#c0504d"><title>n=${b.n}, predicted ${fmt(b.meanPredicted)}, observed ${fmt(b.observed)}</title></circle>`,
  );
  const path = bins.map((b) => `${px(b.meanPredicted)},${py(b.observed)}`).join(' ');
  const line = path ? `<polyline points="${path}" fill="none" stroke="#c0504d" stroke-width="1"/>` : '';
  return svg('Calibration curve', axes('mean predicted risk', 'observed proportion') + line + marks.join(''));
}

function metricCells(m: Metrics): string {
  const ci = m.aurocCi ? ` (${fmt(m.aurocCi[0])}–${fmt(m.aurocCi[1])})` : '';
  return [
    m.n.toString(),
    m.events.toString(),
    fmt(m.prevalence),
    `${fmt(m.auroc)}${ci}`,
    fmt(m.auprc),
    fmt(m.brier, 4),
    fmt(m.calibrationIntercept),
    fmt(m.calibrationSlope),
  ]
    .map((c) => `<td>${escapeHtml(c)}</td>`)
    .join('');
}

const HEADER = ['n', 'events', 'prevalence', 'AUROC (95% CI)', 'AUPRC', 'Brier', 'cal. intercept', 'cal. slope']
  .map((h) => `<th>${h}</th>`)
  .join('');

/** The Wald table of a logistic fit, with its log-likelihood and AIC. */
function fitSection(fit: LogisticFit): string {
  const p = (v: number) => (v < 1e-4 ? v.toExponential(2) : v.toFixed(4));
  const rows = fit.coefficients
    .map((c) =>
      [
        c.term,
        fmt(c.estimate, 6),
        fmt(c.standardError, 6),
        `${fmt(c.ci95[0], 4)} – ${fmt(c.ci95[1], 4)}`,
        fmt(c.z, 2),
        p(c.p),
      ]
        .map((v, k) => (k === 0 ? `<th scope="row">${escapeHtml(v)}</th>` : `<td>${escapeHtml(v)}</td>`))
        .join(''),
    )
    .map((r) => `<tr>${r}</tr>`)
    .join('');
  return `<h2>Coefficients</h2>
<p>Wald statistics from the inverse observed information at the estimate${fit.penalised ? ' (ridge-penalised: not maximum-likelihood)' : ''}. Log-likelihood ${fmt(fit.logLikelihood, 4)}, AIC ${fmt(fit.aic, 2)}, n ${fit.rows}, events ${fit.events}.</p>
<table><thead><tr><th>term</th><th>estimate</th><th>SE</th><th>95% CI</th><th>z</th><th>p</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * A self-contained HTML page of an evaluation: summary table, ROC and calibration plots (inline SVG), every
 * metric by subgroup, and with `fit` the logistic model's coefficient table. No scripts, fonts or external
 * assets, so it can be archived or mailed as one file.
 */
export function evaluationHtml(report: EvaluationReport, title: string, fit?: LogisticFit): string {
  const o = report.overall;
  const notes = o.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  const groups = Object.entries(report.subgroups)
    .map(([name, rows]) => {
      const body = rows
        .map((r) => {
          const note = r.notes.length > 0 ? ` title="${escapeHtml(r.notes.join('; '))}"` : '';
          return `<tr${note}><th scope="row">${escapeHtml(r.group)}</th>${metricCells(r)}</tr>`;
        })
        .join('');
      return `<h2>By ${escapeHtml(name)}</h2><table><thead><tr><th>${escapeHtml(name)}</th>${HEADER}</tr></thead><tbody>${body}</tbody></table>`;
    })
    .join('');
  const deciles = o.calibrationCurve
    .map(
      (b, k) =>
        `<tr><td>${k + 1}</td><td>${b.n}</td><td>${fmt(b.meanPredicted)}</td><td>${fmt(b.observed)}</td><td>${fmt(b.observedCi[0])}–${fmt(b.observedCi[1])}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:68rem}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:0.25rem 0.5rem;text-align:right}
th[scope=row],thead th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:2rem}
figure{margin:0}figcaption{font-size:0.9rem;color:#555}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<table><thead><tr><th>overall</th>${HEADER}</tr></thead><tbody><tr><th scope="row">all</th>${metricCells(o)}</tr></tbody></table>
${notes ? `<ul>${notes}</ul>` : ''}
<div class="plots">
<figure>${rocSvg(report.roc, o.auroc)}<figcaption>ROC curve; dashed: chance.</figcaption></figure>
<figure>${calibrationSvg(o.calibrationCurve)}<figcaption>Calibration by group of predicted risk, with 95% Wilson intervals; dashed: perfect calibration.</figcaption></figure>
</div>
${fit ? fitSection(fit) : ''}
<h2>Calibration groups</h2>
<table><thead><tr><th>group</th><th>n</th><th>mean predicted</th><th>observed</th><th>95% CI</th></tr></thead><tbody>${deciles}</tbody></table>
${groups}
</body></html>
`;
}
