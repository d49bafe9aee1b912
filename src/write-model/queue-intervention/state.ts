/** The day's interventions so far (nothing is decided on them: every checked action is recorded). */
export interface QueueInterventionDayState {
  interventions: number;
}

export function initialState(): QueueInterventionDayState {
  return { interventions: 0 };
}
