/**
 * The released survival curve drawn as SVG (Kaplan–Meier and cumulative incidence as steps, withheld times left
 * out), with the numbers at risk beneath, and a self-contained HTML report around it (`cohort run --outcome --html`).
 */

import type { ReleasedSurvival } from './survival-release.js';

const W = 640;
const H = 320;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Step path through the released points (a withheld time carries the previous value on to the next released one). */
function steps(
  days: readonly number[],
  values: readonly (number | null)[],
  x: (d: number) => number,
  y: (v: number) => number,
) {
  let path = '';
  let prev: number | null = null;
  days.forEach((d, k) => {
    const v = values[k];
    if (v === null || v === undefined) return;
    path += prev === null ? `M${x(d).toFixed(1)},${y(v).toFixed(1)}` : `H${x(d).toFixed(1)}V${y(v).toFixed(1)}`;
    prev = v;
  });
  return path;
}

/** The curve as an SVG element: survival (solid) and cumulative incidence (dashed) against years from index. */
export function survivalSvg(r: ReleasedSurvival, title: string): string {
  const maxDay = Math.max(r.days[r.days.length - 1] ?? 1, 1);
  const x = (d: number) => PAD.left + (d / maxDay) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);
  const ticks = r.days
    .map(
      (d) =>
        `<line x1="${x(d).toFixed(1)}" x2="${x(d).toFixed(1)}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom + 4}" stroke="#444"/><text x="${x(d).toFixed(1)}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${(d / 365.25).toFixed(1)}</text>`,
    )
    .join('');
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `<line x1="${PAD.left - 4}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD.left - 8}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<title>${esc(title)}</title>${yTicks}${ticks}
<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#444"/>
<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">years from index</text>
<path class="survival" d="${steps(r.days, r.survival, x, y)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>
<path class="incidence" d="${steps(r.days, r.cumulativeIncidence, x, y)}" fill="none" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4"/>
</svg>`;
}

/** A self-contained HTML page: the plot, its legend and method, and the released numbers at risk per time. */
export function survivalHtml(r: ReleasedSurvival, title: string): string {
  const cell = (v: number | null, digits?: number) =>
    v === null ? '<td class="withheld">–</td>' : `<td>${digits === undefined ? v : v.toFixed(digits)}</td>`;
  const rows = r.days
    .map(
      (d, k) =>
        `<tr><td>${(d / 365.25).toFixed(1)}</td>${cell(r.atRisk[k] ?? null)}${cell(r.survival[k] ?? null, 3)}${cell(r.cumulativeIncidence[k] ?? null, 3)}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:46rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:right;border-bottom:1px solid #ddd}.withheld{color:#888}</style>
</head><body>
<h1>${esc(title)}</h1>
${survivalSvg(r, title)}
<p><span style="color:#1f5fbf">━</span> Kaplan–Meier survival (free of the outcome) · <span style="color:#c0392b">╌</span> cumulative incidence (1 − KM: one event type, no competing risks).</p>
<p>Released through the hub's release gate: numbers at risk are counts (under the threshold: –; others rounded); a value is shown only where at least the threshold's events lie since the previous shown value.</p>
<table><thead><tr><th>years</th><th>at risk</th><th>survival</th><th>cumulative incidence</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
