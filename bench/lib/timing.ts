import { performance } from 'node:perf_hooks';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Nearest-rank percentile of already sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** One time-boxed stretch of a closed-loop load. */
export interface Slice {
  ops: number;
  seconds: number;
  /** per-op latency, ms, of the ops that completed inside the measured window */
  latencies: number[];
  errors: number;
}

/**
 * Closed loop: each of `workers` calls its op back to back (so the concurrency
 * is workers.length). An op counts when it completes inside the measured
 * window, which starts after the warm-up and has a fixed length; ops still in
 * flight when it closes are awaited but not counted.
 */
export async function runSlice(workers: readonly (() => Promise<unknown>)[], warmupSeconds: number, seconds: number): Promise<Slice> {
  const t0 = performance.now();
  const measureFrom = t0 + warmupSeconds * 1000;
  const measureTo = measureFrom + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  await Promise.all(
    workers.map(async (op) => {
      for (;;) {
        const start = performance.now();
        if (start >= measureTo) return;
        try {
          await op();
        } catch (error) {
          errors++;
          firstError ??= error;
          continue;
        }
        const end = performance.now();
        if (end >= measureFrom && end < measureTo) latencies.push(end - start);
      }
    }),
  );
  if (errors > 0) progress(`  ${errors} ops failed; first error: ${String(firstError)}`);
  return { ops: latencies.length, seconds, latencies, errors };
}

export interface ThroughputResult {
  /** operations completed in the measured windows, per second */
  opsPerSec: number;
  ops: number;
  seconds: number;
  /** each slice's own rate, to show the spread */
  sliceRates: number[];
  /** latency of one operation, ms */
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function summarize(slices: readonly Slice[]): ThroughputResult {
  const latencies = slices.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  return {
    opsPerSec: latencies.length / seconds,
    ops: latencies.length,
    seconds,
    sliceRates: slices.map((s) => Math.round(s.ops / s.seconds)),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: slices.reduce((sum, s) => sum + s.errors, 0),
  };
}
