export type { Mailer, MailMessage } from './mail-port.js';
export { MailDeliveryError, type MailFailureKind } from './mail-errors.js';
export { createSmtpMailer, type SmtpMailerOptions } from './smtp-mailer.js';
export { passwordResetMail, escapeHtml, type RenderedMail, type PasswordResetMailInput } from './templates.js';
