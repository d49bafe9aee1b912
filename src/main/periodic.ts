import type { Logger } from '../logger.js';

/**
 * Runs `task` every `intervalMs` (the first run after one interval), never
 * two at once; a failure is logged and the next run comes as usual.
 * `stop()` waits for a run in progress.
 */
export function every(intervalMs: number, name: string, task: () => Promise<unknown>, logger: Pick<Logger, 'error'>): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await task();
      } catch (error) {
        logger.error({ err: error, task: name }, `${name} failed`);
      }
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
