import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The few pages AI Hub links to before the web console exists: the console landing page printed in the start banner,
 * and the pages behind the links in account emails (`/reset-password?token=`, `/verify-email?token=`). They are plain
 * server-rendered HTML forms; one small script posts them as JSON to the management API, the same endpoints the
 * console will call. The token stays in the address bar and never reaches another site (Referrer-Policy: no-referrer).
 */
export const consolePath = '/console';
const scriptPath = '/console/assets/forms.js';

const securityHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

export function registerConsolePages(app: FastifyInstance): void {
  const hidden = { schema: { hide: true } };
  app.get('/', hidden, async (_request, reply) => reply.redirect(consolePath, 302));
  app.get(consolePath, hidden, async (_request, reply) => sendPage(reply, 'AI Hub console', landingBody));
  app.get('/reset-password', hidden, async (_request, reply) =>
    sendPage(reply, 'Choose a new password · AI Hub', resetPasswordBody),
  );
  app.get('/verify-email', hidden, async (_request, reply) =>
    sendPage(reply, 'Verify your email · AI Hub', verifyEmailBody),
  );
  app.get(scriptPath, hidden, async (_request, reply) =>
    reply.headers({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }).send(formsScript),
  );
}

function sendPage(reply: FastifyReply, title: string, body: string): FastifyReply {
  return reply.headers(securityHeaders).send(renderPage(title, body));
}

function renderPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }
  h1 { font-size: 1.5rem; } .brand { font-weight: 700; color: #0b5cad; letter-spacing: .02em; }
  label { display: block; margin: .75rem 0 .25rem; } input { width: 100%; padding: .5rem; box-sizing: border-box; }
  button { margin-top: 1rem; padding: .5rem 1.25rem; font-size: 1rem; cursor: pointer; }
  [role=status] { margin-top: 1rem; min-height: 1.5rem; } .error { color: #b42318; } .ok { color: #067647; }
  code { background: #f3f4f6; padding: 0 .25rem; }
</style>
<script src="${scriptPath}" defer></script>
</head>
<body>
<p class="brand">AI Hub</p>
${body}
</body>
</html>
`;
}

const landingBody = `<h1>Console</h1>
<p>The full web console is not part of this release yet. Everything it will do is available now:</p>
<ul>
  <li><a href="/api/docs">API reference</a> (interactive, OpenAPI 3.1 at <a href="/api/openapi.json">/api/openapi.json</a>)</li>
  <li>The gateway at <code>/v1</code>: any OpenAI or Anthropic SDK with an AI Hub key</li>
  <li>Health: <a href="/health/live">/health/live</a>, <a href="/health/ready">/health/ready</a></li>
</ul>
<h2>Forgot your password?</h2>
<form id="reset-request-form" data-endpoint="/api/v1/auth/password/reset-request">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="email" required>
  <button type="submit">Email me a reset link</button>
  <p role="status" aria-live="polite"></p>
</form>`;

const resetPasswordBody = `<h1>Choose a new password</h1>
<form id="reset-password-form" data-endpoint="/api/v1/auth/password/reset">
  <label for="new-password">New password</label>
  <input id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="8" required>
  <label for="confirm-password">Repeat it</label>
  <input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password" minlength="8" required>
  <button type="submit">Set password</button>
  <p role="status" aria-live="polite"></p>
</form>
<p>Setting a new password signs you out everywhere. <a href="${consolePath}">Back to the console</a></p>`;

const verifyEmailBody = `<h1>Verify your email</h1>
<form id="verify-email-form" data-endpoint="/api/v1/auth/email/verify">
  <p>Confirm that this address is yours.</p>
  <button type="submit">Verify my email</button>
  <p role="status" aria-live="polite"></p>
</form>
<p><a href="${consolePath}">Back to the console</a></p>`;

/**
 * Posts a form as JSON (the API takes only JSON) with the link's token, and shows the outcome. Verification waits for
 * a click so that mail scanners that open links do not use the token up.
 */
const formsScript = `'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const token = new URLSearchParams(location.search).get('token') || '';
  for (const form of document.querySelectorAll('form[data-endpoint]')) {
    const status = form.querySelector('[role=status]');
    const show = (text, ok) => { status.textContent = text; status.className = ok ? 'ok' : 'error'; };
    if (form.id !== 'reset-request-form' && !token) {
      show('This link has no token: open the link from your email again.', false);
      form.querySelector('button').disabled = true;
      continue;
    }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const fields = Object.fromEntries(new FormData(form));
      let body;
      if (form.id === 'reset-password-form') {
        if (fields.new_password !== fields.confirm_password) return show('The two passwords differ.', false);
        body = { token, new_password: fields.new_password };
      } else if (form.id === 'verify-email-form') {
        body = { token };
      } else {
        body = { email: fields.email };
      }
      form.querySelector('button').disabled = true;
      try {
        const response = await fetch(form.dataset.endpoint, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
        });
        if (response.ok) {
          const done = {
            'reset-password-form': 'Your password is set. Sign in with it from now on.',
            'verify-email-form': 'Your email address is verified.',
            'reset-request-form': 'If that address has an account, a reset link is on its way.',
          };
          return show(done[form.id], true);
        }
        const problem = await response.json().catch(() => ({}));
        show(problem.detail || problem.title || 'That did not work (' + response.status + ').', false);
      } catch {
        show('AI Hub could not be reached. Try again.', false);
      }
      form.querySelector('button').disabled = false;
    });
  }
});
`;
