/** A due calendar as the claimer sees it before claiming. */
export interface Candidate {
  id: string;
  priority: number;
  accountId: string;
}

/**
 * The order one replica tries its candidates in: classes stay most urgent first, and within a class
 * the list starts at a random point and wraps. Every replica reads the same due calendars in the same
 * order; if each then tried the oldest first they would all race for it, and each lost race costs the
 * losers a claim write queued behind the winner's. Starting at different points they mostly claim
 * different calendars. Within a class the order is by due time, so the rotation only reorders work that
 * is all due already, within one read's window.
 */
export function spreadWithinPriority<T extends Pick<Candidate, 'priority'>>(candidates: readonly T[], random: () => number): T[] {
  const order: T[] = [];
  for (let start = 0; start < candidates.length; ) {
    let end = start + 1;
    while (end < candidates.length && candidates[end]!.priority === candidates[start]!.priority) end++;
    const group = candidates.slice(start, end);
    const offset = Math.min(group.length - 1, Math.floor(random() * group.length));
    order.push(...group.slice(offset), ...group.slice(0, offset));
    start = end;
  }
  return order;
}
