import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
// The API's own schemas (types only): the console's calls are typed by what the hub validates and answers.
import type { ConsolePolicy } from '../../src/server/api-schemas.js';
import { ApiError, api } from './api.js';
import { useI18n } from './i18n.js';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: ApiError } | { state: 'ready'; data: T };

function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'CLIENT', e instanceof Error ? e.message : String(e));
}

/** The hub's disclosure rules (`GET /console/policy`), loaded once after sign-in, before any page renders. */
export type DisclosureRules = ConsolePolicy['disclosure'];
export const PolicyContext = createContext<DisclosureRules | null>(null);

/** The hub's disclosure rules; pages render only inside the App's provider, which has them. */
export function usePolicy(): DisclosureRules {
  const rules = useContext(PolicyContext);
  if (!rules) throw new Error('usePolicy outside the signed-in console');
  return rules;
}

/** GET `path` (null: nothing yet) with loading and error states; `reload` asks again. */
export function useApi<T>(path: string | null): Loaded<T> & { reload: () => void } {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  const shown = useRef<string | null>(null);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    // A reload of the same path keeps what is shown until the answer comes: forms beside the data keep what the
    // user typed, and the page does not flicker. A new path starts from the loading state.
    if (shown.current !== path) setResult({ state: 'loading' });
    shown.current = path;
    api<T>(path).then(
      (data) => live && setResult({ state: 'ready', data }),
      (e: unknown) => live && setResult({ state: 'error', error: asApiError(e) }),
    );
    return () => {
      live = false;
    };
  }, [path, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...result, reload };
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p class="loading" role="status" aria-live="polite">
      {t('loading')}
    </p>
  );
}

/** A failed call, said on the page (never a blank page), with the hub's code and a way to try again. */
export function ErrorBox({ error, onRetry }: { error: ApiError | string; onRetry?: () => void }) {
  const { t } = useI18n();
  const text = typeof error === 'string' ? error : `${error.message} (${error.code})`;
  return (
    <div class="error" role="alert">
      <strong>{t('errorPrefix')}</strong> {text}
      {onRetry && (
        <button type="button" class="link" onClick={onRetry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}

/** Render `loaded` once ready, with the shared loading and error states otherwise. */
export function Async<T>({
  loaded,
  children,
}: {
  loaded: Loaded<T> & { reload: () => void };
  children: (data: T) => ComponentChildren;
}) {
  if (loaded.state === 'loading') return <Loading />;
  if (loaded.state === 'error') return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  return <>{children(loaded.data)}</>;
}

export function Section({
  title,
  children,
  id,
  wide,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
  /** Spans every column of a grid of cards (long tables). */
  wide?: boolean;
}) {
  return (
    <section class={wide ? 'card wide' : 'card'} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * Horizontal bars drawn with CSS: each bar is a row of a list with its label and figure as text, so a screen
 * reader reads the numbers and nothing is only a picture. A null value is a suppressed count.
 */
export function Bars({ items, label }: { items: { label: string; value: number | null }[]; label: string }) {
  const { t, num } = useI18n();
  const { threshold } = usePolicy();
  const max = Math.max(1, ...items.map((i) => i.value ?? 0));
  return (
    <ul class="bars" aria-label={label}>
      {items.map((i) => (
        <li key={i.label}>
          <span class="bar-label">{i.label}</span>
          <span class="bar-track" aria-hidden="true">
            <span class="bar" style={{ width: `${((i.value ?? 0) / max) * 100}%` }} />
          </span>
          <span class="bar-value">{i.value === null ? t('suppressed', { n: threshold }) : num(i.value)}</span>
        </li>
      ))}
    </ul>
  );
}

/** A released count: a number, or the suppression notice where disclosure control withheld it. */
export function Count({ value }: { value: number | null | undefined }) {
  const { t, num } = useI18n();
  const { threshold } = usePolicy();
  return <>{value === null || value === undefined ? t('suppressed', { n: threshold }) : num(value)}</>;
}

/** One column of a `DataTable`: its header, how a row shows in it, and whether it holds numbers (right-aligned). */
export interface TableColumn<R> {
  label: string;
  cell: (row: R) => ComponentChildren;
  numeric?: boolean;
  /** The row's own header cell (`<th scope="row">`), which screen readers announce with each cell. */
  rowHeader?: boolean;
  class?: string;
  /** A class for one row's cell in this column (a health or reject flag), added to the column's. */
  cellClass?: (row: R) => string | undefined;
}

/** A scrollable table with column headers; every page's tables are drawn through it. */
export function DataTable<R>({
  columns,
  rows,
  rowKey,
  rowClass,
  caption,
  tableClass,
  testId,
}: {
  columns: readonly TableColumn<R>[];
  rows: readonly R[];
  rowKey: (row: R) => string | number;
  rowClass?: (row: R) => string | undefined;
  caption?: string;
  tableClass?: string;
  testId?: string;
}) {
  const classOf = (c: TableColumn<R>) => (c.numeric ? 'num' : c.class);
  const cellClassOf = (c: TableColumn<R>, r: R) =>
    [classOf(c), c.cellClass?.(r)].filter((x) => x !== undefined && x !== '').join(' ') || undefined;
  return (
    <div class="scroll">
      <table class={tableClass} data-testid={testId}>
        {caption !== undefined && <caption>{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.label} scope="col" class={classOf(c)}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)} class={rowClass?.(r)}>
              {columns.map((c) =>
                c.rowHeader ? (
                  <th key={c.label} scope="row" class={cellClassOf(c, r)}>
                    {c.cell(r)}
                  </th>
                ) : (
                  <td key={c.label} class={cellClassOf(c, r)}>
                    {c.cell(r)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
