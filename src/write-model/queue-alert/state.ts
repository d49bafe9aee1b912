/** Whether an episode is open in this day stream, and how many the day had (for the stream sizing). */
export interface QueueAlertDayState {
  open: { blockedSince: string; detectedAt: string } | null;
  episodes: number;
}

export function initialState(): QueueAlertDayState {
  return { open: null, episodes: 0 };
}
