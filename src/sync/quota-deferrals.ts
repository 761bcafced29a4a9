/**
 * Accounts this process found out of quota, by priority class, until when. A hint kept in memory
 * only: it decides which due calendars this process does not claim for now, never what is requested
 * (that stays in MongoDB), and a claim would find the same answer in the governor. Without it, every
 * due calendar of a spent account was claimed, checked against the governor and released again, once
 * per calendar and per replica, until the budget came back: a claim and a release per calendar for no
 * Google call.
 */
export class QuotaDeferrals {
  private readonly until = new Map<string, Map<number, number>>();

  /** A pass of this account and priority was deferred by the governor until `until`. */
  note(accountId: string, priority: number, until: Date): void {
    let byPriority = this.until.get(accountId);
    if (!byPriority) this.until.set(accountId, (byPriority = new Map()));
    byPriority.set(priority, Math.max(byPriority.get(priority) ?? 0, until.getTime()));
  }

  /**
   * Until when work of this account and priority waits (null: it may be claimed). A class is spent
   * when the class itself or a more urgent one is: the governor gives less urgent classes a smaller
   * share of the same budget.
   */
  blockedUntil(accountId: string, priority: number, now: Date): Date | null {
    const byPriority = this.until.get(accountId);
    if (!byPriority) return null;
    let latest = 0;
    for (const [p, t] of byPriority) {
      if (t <= now.getTime()) byPriority.delete(p);
      else if (p <= priority) latest = Math.max(latest, t);
    }
    if (byPriority.size === 0) this.until.delete(accountId);
    return latest > 0 ? new Date(latest) : null;
  }
}
