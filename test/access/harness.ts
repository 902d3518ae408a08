import { ManualClock } from '../../src/core/index.js';
import { domainRoutes } from '../../src/http/domain-routes.js';
import { contextCheck } from '../../src/http/context-check.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import { testPlatform } from '../platform.js';
import { codeFor, post, type Browser, type Enrolled, type Harness } from '../identity/harness.js';

/**
 * The whole API as `scrip serve` composes it (every domain route, the session authenticator and
 * the context gate) over an isolated platform with a frozen clock.
 */
export async function fullHarness(start = Date.UTC(2026, 2, 2, 15, 0, 0)): Promise<Harness> {
  const clock = new ManualClock(start);
  const p = await testPlatform(clock, { isolated: true });
  const { app, logs } = await buildTestApp(p.db, {
    routes: domainRoutes(p),
    authenticator: sessionAuthenticator(p.identity.sessions),
    contextGate: contextCheck(p.access.context),
  });
  return {
    p,
    app,
    logs,
    clock,
    close: async () => {
      await app.close();
      await p.close();
    },
  };
}

/** A fresh TOTP step-up for `action` (advances the clock to the next time step first). */
export async function stepUp(
  h: Harness,
  user: Enrolled,
  action: string,
  b?: Browser,
): Promise<void> {
  h.clock.advance(30_000);
  const res = await post(h.app, '/api/v1/auth/step-up', b ?? user.browser, {
    action,
    totp: codeFor(user.secret, h.clock),
  });
  if (res.statusCode !== 200) throw new Error(`step-up failed: ${res.body}`);
}
