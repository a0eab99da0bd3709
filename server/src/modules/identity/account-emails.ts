import type { MailMessage } from './mailer.ts';

/** The texts of account emails. Plain text only: they carry one link and nothing else worth styling. */
export function passwordResetEmail(to: string, link: string, validMinutes: number): MailMessage {
  return {
    to,
    subject: 'Reset your AI Hub password',
    text: [
      'Someone (hopefully you) asked to reset the password of your AI Hub account.',
      '',
      `Choose a new password here (the link works once, for ${validMinutes} minutes):`,
      link,
      '',
      'If you did not ask for this, ignore this email; your password stays as it is.',
    ].join('\n'),
  };
}

export function emailVerificationEmail(to: string, link: string, validHours: number): MailMessage {
  return {
    to,
    subject: 'Verify your email address for AI Hub',
    text: [
      'Confirm that this address belongs to your AI Hub account by opening this link',
      `(it works once, for ${validHours} hours):`,
      link,
      '',
      'If you did not create an AI Hub account, ignore this email.',
    ].join('\n'),
  };
}
