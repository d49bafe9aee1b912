export type { Mailer, MailMessage } from '../../application/ports/mailer.js';
export { MailDeliveryError, type MailFailureKind } from '../../application/ports/mail-errors.js';
export { createSmtpMailer, type SmtpMailerOptions } from './smtp-mailer.js';
export { passwordResetMail, escapeHtml, type RenderedMail, type PasswordResetMailInput } from '../../application/mail/templates.js';
