/**
 * Outgoing mail port. The application hands over a rendered message; the
 * adapter owns the transport, the sender address (From) and the retries of
 * its connection pool. Implementations throw `MailDeliveryError` (see
 * ./mail-errors.ts) when a message is not accepted by the relay.
 */
export interface MailMessage {
  /** one recipient address, or several */
  to: string | readonly string[];
  subject: string;
  /** plain-text body: always present, it is what every client can show */
  text: string;
  /** optional HTML alternative of the same content */
  html?: string;
  /** files sent with it (e.g. a scheduled report), base64 in the message */
  attachments?: readonly MailAttachment[];
}

export interface MailAttachment {
  /** ASCII file name, e.g. `report-20261201.pdf` */
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface Mailer {
  /** Resolves once the relay accepted the message; `messageId` is the Message-ID header, without angle brackets. */
  send(message: MailMessage): Promise<{ messageId: string }>;
  /** Lets in-flight sends finish (bounded), then closes the connections. Later `send` calls reject. */
  close(): Promise<void>;
}
