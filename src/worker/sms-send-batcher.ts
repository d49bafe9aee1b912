import type { SmsAccepted, SmsProvider, SmsToSend } from '../application/ports/sms-provider.js';

/**
 * Gathers the sms-send jobs running at once into the provider's batch call:
 * each job still sends its one message and gets its own answer (or its own
 * refusal), but one signed request carries up to `maxBatch` of them, so the
 * HTTP round trip and the answer's signature check are paid once per batch.
 * A message waits at most `lingerMs` for others, and a batch stays under
 * `maxBytes` of text (100 long Chinese messages would be half a megabyte:
 * more than providers take in one request). A provider without sendBatch is
 * called one message at a time.
 */
export class SmsSendBatcher {
  private pending: { sms: SmsToSend; resolve: (accepted: SmsAccepted) => void; reject: (error: unknown) => void }[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly options: { maxBatch: number; lingerMs: number; maxBytes: number };

  constructor(
    private readonly provider: SmsProvider,
    options: Partial<{ maxBatch: number; lingerMs: number; maxBytes: number }> = {},
  ) {
    this.options = { maxBatch: 100, lingerMs: 5, maxBytes: 128 * 1024, ...options };
  }

  send(sms: SmsToSend): Promise<SmsAccepted> {
    if (!this.provider.sendBatch) return this.provider.send(sms);
    // the message's share of the request: its text as UTF-8 (escaped at worst twice as long) and its fields
    const bytes = 2 * Buffer.byteLength(sms.text) + 200;
    if (this.pending.length > 0 && this.pendingBytes + bytes > this.options.maxBytes) this.flush();
    return new Promise((resolve, reject) => {
      this.pending.push({ sms, resolve, reject });
      this.pendingBytes += bytes;
      if (this.pending.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length === 0) return;
    this.provider.sendBatch!(batch.map((p) => p.sms)).then(
      (outcomes) =>
        batch.forEach((p, i) => {
          const outcome = outcomes[i];
          if (outcome?.ok) p.resolve(outcome.accepted);
          else p.reject(outcome ? outcome.error : new Error('sms-send: the batch answered fewer results than messages'));
        }),
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  }
}
