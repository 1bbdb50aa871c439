// The versions' lineage in the Versions card (docs/ARCHITECTURE.md, section 4, "Refresh"): for
// each version of the model, newest first, the version it came from, what it consumed (events:
// count, cursor range, time range; or the items an items-only update added), the refresh's
// decision with its reason (promoted / refused / items-only), and its metrics beside its parent's
// on the same held-out window. Manifests are immutable, so each is fetched once.
import type { BundleManifest } from '@vireo/core';
import { h } from './dom.ts';

/** GET /v1/models/:name, the part read here. */
export interface ModelInfo {
  versions: { version: string; complete: boolean }[];
  promoted: string | null;
}

type Scores = Record<string, number>;
interface Decision {
  kind?: 'retrain' | 'items-only';
  promote?: boolean;
  reason?: string;
  margin?: number;
  champion?: Scores;
  challenger?: Scores;
  seconds?: number;
}

/** Versions shown at most (the newest). */
export const LINEAGE_VERSIONS = 8;

const manifests = new Map<string, BundleManifest>();

/** The manifests of the newest versions, fetched once each (a version that fails is left out). */
export async function lineageManifests(
  info: ModelInfo,
  fetchManifest: (version: string) => Promise<BundleManifest>,
): Promise<BundleManifest[]> {
  const newest = info.versions
    .filter((v) => v.complete)
    .map((v) => v.version)
    .slice(-LINEAGE_VERSIONS)
    .reverse();
  const out: BundleManifest[] = [];
  for (const v of newest) {
    let m = manifests.get(v);
    if (!m) {
      try {
        m = await fetchManifest(v);
        manifests.set(v, m);
      } catch {
        continue;
      }
    }
    out.push(m);
  }
  return out;
}

/** A version's own held-out numbers as written by `vireo train` (no lineage). */
function ownScores(m: BundleManifest): Scores {
  const x = m.metrics as {
    retrieval?: { metrics?: { model?: Record<string, number> } };
    ranking?: { test?: { model?: { ctr?: { auc?: number } } } };
  };
  const out: Scores = {};
  const r = x.retrieval?.metrics?.model?.['recall@10'];
  const auc = x.ranking?.test?.model?.ctr?.auc;
  if (r !== undefined) out['retrieval.recall@10'] = r;
  if (auc !== undefined) out['ranking.auc'] = auc;
  return out;
}

const day = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ');

/** What a version consumed, in words. */
function consumed(m: BundleManifest): string {
  const l = m.lineage;
  const items = l?.items as { after: string; through: string; count: number } | undefined;
  if (items)
    return `${items.count} new item${items.count === 1 ? '' : 's'} · item cursor ${items.after}→${items.through}`;
  const e = l?.events;
  if (e) {
    const range = e.timeRange ? ` · ${day(e.timeRange.min)} → ${day(e.timeRange.max)}` : '';
    return `${e.count.toLocaleString('en-US')} events · cursor ${e.after}→${e.through}${range}`;
  }
  const counts = (m.trainingData as { counts?: { impressions?: number } }).counts;
  return counts?.impressions
    ? `${counts.impressions.toLocaleString('en-US')} impressions (vireo train)`
    : 'vireo train';
}

/** One metric, parent → this version, the change signed. */
function change(name: string, parent: number | undefined, self: number | undefined): HTMLElement {
  if (self === undefined) return h('div', {}, `${name} –`);
  if (parent === undefined) return h('div', { 'data-metric': name }, `${name} `, h('b', {}, self.toFixed(3)));
  const d = self - parent;
  return h(
    'div',
    { 'data-metric': name, title: `parent ${parent.toFixed(4)} → ${self.toFixed(4)}` },
    `${name} ${parent.toFixed(3)} → `,
    h('b', {}, self.toFixed(3)),
    h('small', { class: d > 0 ? 'up' : d < 0 ? 'down' : '' }, ` ${d >= 0 ? '+' : ''}${d.toFixed(3)}`),
  );
}

/**
 * The lineage table, newest version first: one body per version, its numbers on the first row and
 * what it consumed and why it was (not) promoted on the second.
 * @example mount(el.lineage, lineageTable(await lineageManifests(info, fetchManifest), info.promoted));
 */
export function lineageTable(list: readonly BundleManifest[], promoted: string | null): HTMLElement {
  const bodies = list.map((m) => {
    const l = m.lineage;
    const d = (l?.decision ?? {}) as Decision;
    const kind = !l ? 'trained' : d.kind === 'items-only' ? 'items-only' : d.promote ? 'promoted' : 'refused';
    // Retrain: both on the same window (decision.champion / challenger). Items-only: the parent's
    // weights and numbers, unchanged. Trained: its own evaluation.
    const parent = d.champion ?? (kind === 'items-only' ? ownScores(m) : undefined);
    const self = d.challenger ?? ownScores(m);
    return h(
      'tbody',
      { 'data-testid': 'lineage-row', 'data-version': m.version, 'data-decision': kind },
      h(
        'tr',
        {},
        h(
          'td',
          {},
          h('b', {}, `@${m.version}`),
          m.version === promoted ? h('span', { class: 'chip ok', title: 'the promoted version' }, 'serving') : null,
        ),
        h('td', { 'data-field': 'parent' }, l?.parent ? `@${l.parent}` : '—'),
        h('td', { 'data-field': 'decision' }, h('span', { class: `decision ${kind}` }, kind)),
        h(
          'td',
          { class: 'metrics' },
          change('Recall@10', parent?.['retrieval.recall@10'], self['retrieval.recall@10']),
          change('CTR AUC', parent?.['ranking.auc'], self['ranking.auc']),
        ),
      ),
      h(
        'tr',
        { class: 'why' },
        h(
          'td',
          { colspan: 4 },
          h('span', { 'data-field': 'consumed' }, consumed(m)),
          d.reason ? h('small', { class: 'reason', 'data-field': 'reason' }, d.reason) : null,
        ),
      ),
    );
  });
  return h(
    'table',
    { class: 'stats lineage', 'data-testid': 'lineage' },
    h(
      'thead',
      {},
      h('tr', {}, ...['version', 'parent', 'decision', 'held-out: parent → it'].map((t) => h('th', {}, t))),
    ),
    ...bodies,
  );
}
