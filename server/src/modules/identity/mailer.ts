import type { FastifyBaseLogger } from 'fastify';
import type { Transporter } from 'nodemailer';
import type { IdentityConfig } from '../../config/config.ts';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Where account emails go. SMTP in production, the log in development; tests pass one that keeps the messages. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** nodemailer is loaded on the first email: it weighs ~20 MiB of memory that most instances never need. */
export class SmtpMailer implements Mailer {
  readonly #smtpUrl: string;
  readonly #from: string;
  #transport: Promise<Transporter> | undefined;

  constructor(smtpUrl: string, from: string) {
    this.#smtpUrl = smtpUrl;
    this.#from = from;
  }

  async send(message: MailMessage): Promise<void> {
    this.#transport ??= import('nodemailer').then((nodemailer) => nodemailer.default.createTransport(this.#smtpUrl));
    const transport = await this.#transport;
    await transport.sendMail({ from: this.#from, to: message.to, subject: message.subject, text: message.text });
  }

  close(): void {
    void this.#transport?.then((transport) => transport.close());
  }
}

/**
 * Development mode (no AIHUB_SMTP_URL): the message is written to the log at info level. Our messages carry no
 * secret but their one-time link, which is exactly what a developer needs to follow.
 */
export class LogMailer implements Mailer {
  readonly #log: Pick<FastifyBaseLogger, 'info'>;

  constructor(log: Pick<FastifyBaseLogger, 'info'>) {
    this.#log = log;
  }

  async send(message: MailMessage): Promise<void> {
    this.#log.info({ email: message }, 'email not sent (AIHUB_SMTP_URL is not set); logged for development');
  }

  close(): void {}
}

export function createMailer(identity: IdentityConfig, log: Pick<FastifyBaseLogger, 'info'>): Mailer {
  return identity.smtpUrl ? new SmtpMailer(identity.smtpUrl, identity.emailFrom) : new LogMailer(log);
}
