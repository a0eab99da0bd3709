import type { FastifyBaseLogger } from 'fastify';
import type { Mailer, MailMessage } from './mailer.ts';

/**
 * Sends account emails in the background: a slow or failing SMTP server neither delays the answer (whose timing
 * would otherwise tell whether an account exists) nor fails the request; failures are logged.
 */
export class EmailDelivery {
  readonly #mailer: Mailer;
  readonly #publicUrl: string;
  readonly #log: Pick<FastifyBaseLogger, 'error'>;

  constructor(mailer: Mailer, publicUrl: string, log: Pick<FastifyBaseLogger, 'error'>) {
    this.#mailer = mailer;
    this.#publicUrl = publicUrl;
    this.#log = log;
  }

  /** A link into the console, e.g. `https://hub.example.com/reset-password?token=…`. */
  link(path: string, token: string): string {
    return `${this.#publicUrl}${path}?token=${encodeURIComponent(token)}`;
  }

  deliver(message: MailMessage): void {
    void this.#mailer.send(message).catch((error: unknown) => {
      this.#log.error({ err: error, to: message.to, subject: message.subject }, 'email could not be sent');
    });
  }
}
