import { MailDeliveryError } from './ports/mail-errors.js';
import type { Mailer, MailMessage } from './ports/mailer.js';
import type { Logger } from '../logger.js';

/**
 * Sends one queued mail. A relay that refuses the recipient or the message
 * (`rejected`) gets the same answer on every try: the mail is dropped with a
 * warning ('refused'). Any other failure (connection, 4xx, auth,
 * configuration) is about the relay, not the message: it is thrown, and the
 * queue tries again later with back-off.
 */
export async function deliverOrDrop(
  mailer: Mailer,
  message: MailMessage,
  drop: { logger?: Pick<Logger, 'warn'>; what: string; context: Record<string, unknown> },
): Promise<{ messageId: string } | 'refused'> {
  try {
    return await mailer.send(message);
  } catch (error) {
    if (!(error instanceof MailDeliveryError && error.kind === 'rejected')) throw error;
    drop.logger?.warn({ ...drop.context, err: { kind: error.kind, responseCode: error.responseCode } }, `${drop.what} refused by the relay; not retried`);
    return 'refused';
  }
}
