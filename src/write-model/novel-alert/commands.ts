import type { NovelAlertKind } from './events.js';

/**
 * Commands of the NovelAlert aggregate (stream `novel_alert-{alertId}`).
 * The alert_notifications unit a rule holds, and the check that its novel
 * is tracked, are the application layer's (src/application/novel-alerts.ts).
 */

export interface CreateNovelAlert {
  type: 'CreateNovelAlert';
  alertId: string;
  userId: string;
  novelId: string;
  kind: NovelAlertKind;
  /** required (a whole number ≥ 1) for word_count_threshold; null otherwise */
  words: number | null;
  now: string;
}

/** Absent fields stay as they are; a kind other than word_count_threshold drops the words. */
export interface ChangeNovelAlert {
  type: 'ChangeNovelAlert';
  alertId: string;
  requestedBy: string;
  kind?: NovelAlertKind;
  words?: number | null;
  now: string;
}

export interface DeleteNovelAlert {
  type: 'DeleteNovelAlert';
  alertId: string;
  requestedBy: string;
  now: string;
}

export type NovelAlertCommand = CreateNovelAlert | ChangeNovelAlert | DeleteNovelAlert;
