// Home ("preferred") DERP choice with history and stickiness (tailscale net/netcheck/netcheck.go
// `addReportHistoryAndSetPreferredDERP`): best latency over the last 5 minutes, scaled by
// HomeParams.RegionScore, among regions that answered now; keep the previous home when it is still
// reachable and the winner is not clearly better (< 10 ms better, or better by less than 1/3).

export const HISTORY_MAX_AGE_MS = 5 * 60 * 1000;
const ABSOLUTE_DIFF_NS = 10e6;
/** "Heard from the old home recently" window (netcheck PreferredDERPFrameTime). */
export const PREFERRED_DERP_FRAME_TIME_MS = 8000;

export interface PastReport {
  at: number;
  regionLatency: Map<number, number>;
}

export interface PreferredInput {
  now: number;
  current: Map<number, number>;
  history: PastReport[];
  previous: number;
  scores?: Record<string, number> | null | undefined;
  /** ms timestamp of the last DERP frame from the previous home (0 = never). */
  lastHeardFromPrevious?: number;
  reportStart?: number;
}

/** Returns the region to use as home and the pruned history (including this report). */
export function choosePreferredDERP(i: PreferredInput): { preferred: number; history: PastReport[] } {
  const history = [...i.history, { at: i.now, regionLatency: i.current }].filter((h) => i.now - h.at <= HISTORY_MAX_AGE_MS);
  const score = (id: number): number => {
    const s = i.scores?.[String(id)];
    return s !== undefined && s > 0 ? s : 1;
  };
  const bestRecent = new Map<number, number>();
  for (const h of history) {
    for (const [id, d] of h.regionLatency) {
      const b = bestRecent.get(id);
      if (b === undefined || d < b) bestRecent.set(id, d);
    }
  }
  let preferred = 0;
  let bestAny = Infinity;
  let oldCur = 0;
  for (const id of [...i.current.keys()].sort((a, b) => a - b)) {
    const d = i.current.get(id)! * score(id);
    if (id === i.previous) oldCur = d;
    const best = bestRecent.get(id)! * score(id);
    if (preferred === 0 || best < bestAny) {
      bestAny = best;
      preferred = id;
    }
  }
  const changing = i.previous !== 0 && preferred !== i.previous;
  if (changing) {
    const heard = (i.lastHeardFromPrevious ?? 0) > 0 &&
      ((i.reportStart !== undefined && i.lastHeardFromPrevious! > i.reportStart) ||
        i.lastHeardFromPrevious! > i.now - PREFERRED_DERP_FRAME_TIME_MS);
    const accessible = oldCur !== 0 || i.current.has(i.previous) || heard;
    if (accessible && (oldCur - bestAny < ABSOLUTE_DIFF_NS || bestAny > (oldCur / 3) * 2)) preferred = i.previous;
  }
  // Nothing answered, but the old home's DERP connection is alive (2 × keep-alive): keep it.
  if (preferred === 0 && i.previous !== 0 && (i.lastHeardFromPrevious ?? 0) > i.now - 120_000) preferred = i.previous;
  return { preferred, history };
}
