/**
 * The web app's end-to-end harness: a seeded demo database (`scrip demo seed`), a real
 * `scrip serve` over HTTPS on localhost serving the built app (dist/web), and Debian's Chromium
 * (never a downloaded one) driven by playwright-core. Every page is watched for CSP violations
 * (console reports and `securitypolicyviolation` events); axe-core is run on every screen;
 * screenshots go to test-artifacts/web/ (gitignored).
 */
import { createHash, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { demoTotp, type DemoSeedResult, type DemoUser } from '../../src/cli/demo-seed.js';
import { packagePath } from '../../src/db/index.js';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = packagePath('test-artifacts', 'web');

/** A free TCP port on localhost (for a server the test starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, 'localhost', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's SPKI list wants. */
export function spkiHash(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export interface WebRun {
  readonly origin: string;
  readonly serve: ServeProcess;
  /** The environment `scrip serve` and the CLI run with (its data dir and database). */
  readonly env: NodeJS.ProcessEnv;
  readonly seed: DemoSeedResult;
  readonly context: BrowserContext;
  /** A fresh page (own browser context when `isolated`), watched for CSP violations. */
  page(isolated?: boolean): Promise<WatchedPage>;
  user(role: string, tenantKind?: 'clinic' | 'pharmacy'): DemoUser;
  close(): Promise<void>;
}

export interface WatchedPage {
  readonly page: Page;
  /** CSP violations seen so far on this page (console reports and DOM events). */
  readonly violations: string[];
  close(): Promise<void>;
}

/** Records every `securitypolicyviolation` event of the page (runs before any page script). */
const VIOLATION_LISTENER = `(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
})();`;

/**
 * Starts a run: by default on the demo data (`scrip demo seed`: users, patients, the agent on
 * their care teams, a drug catalog, a few prescriptions; plus a pharmacy directory);
 * `demo: false` leaves the database empty (the bootstrap link is printed).
 */
export async function startWebRun(
  options: {
    demo?: boolean;
    /**
     * The one-machine network (docs/network.md): the local switch and network listener on free
     * loopback ports, so the demo clinic's prescriptions reach the demo pharmacy over mTLS.
     */
    localNetwork?: boolean;
    /** More settings for `scrip serve` and the CLI (e.g. SCRIP_SESSION_IDLE_MINUTES). */
    env?: Readonly<Record<string, string>>;
    /**
     * Runs once the origin is known, before the seed and `scrip serve`: extra environment for the
     * server and CLI (e.g. NODE_EXTRA_CA_CERTS for a test IdP) and certificates (PEM) Chromium
     * should accept, by SPKI pin, like the server's own.
     */
    prepare?: (origin: string) => Promise<{ env?: Record<string, string>; trustPem?: string[] }>;
    /** Runs on the seeded database before `scrip serve` starts (e.g. to age an outbox row). */
    beforeServe?: (env: NodeJS.ProcessEnv, seed: DemoSeedResult) => Promise<void>;
  } = {},
): Promise<WebRun> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  }
  if (!existsSync(packagePath('dist', 'web', 'index.html'))) {
    throw new Error('dist/web is missing: run npm run build (npm test does)');
  }
  const root = mkdtempSync(join(tmpdir(), 'scrip-web-'));
  // The embedded PostgreSQL runs as an unprivileged user when the tests run as root.
  chmodSync(root, 0o711);
  const dataDir = join(root, 'data');
  const port = await freePort();
  const origin = `https://localhost:${String(port)}`;
  const prepared = (await options.prepare?.(origin)) ?? {};
  const isolated = await isolatedEnv(dataDir, {
    ...prepared.env,
    SCRIP_PORT: String(port),
    SCRIP_WEBAUTHN_RP_ID: 'localhost',
    SCRIP_WEBAUTHN_ORIGIN: origin,
    ...(options.localNetwork === true
      ? {
          SCRIP_LOCAL_NETWORK: 'on',
          SCRIP_SWITCH_PORT: String(await freePort()),
          SCRIP_NETWORK_PORT: String(await freePort()),
          SCRIP_NETWORK_WORKER_INTERVAL_MS: '200',
          SCRIP_SWITCH_BACKOFF_BASE_MS: '200',
          SCRIP_SWITCH_BACKOFF_MAX_MS: '2000',
        }
      : {}),
    ...options.env,
  });
  let seed: DemoSeedResult = {
    file: '',
    tenants: [],
    users: [],
    prescriber: { userId: '', npi: '', deaNumber: '', state: '', licence: '' },
    patientIds: [],
    catalog: { proposalIds: [], drugs: 0 },
    prescriptions: [],
  };
  if (options.demo !== false) {
    const seedFile = join(root, 'demo.json');
    const seedStart = Date.now();
    const seeded = await runScrip(['demo', 'seed', '--out', seedFile], isolated.env);
    if (seeded.code !== 0) throw new Error(`demo seed failed:\n${seeded.stderr}`);
    seed = JSON.parse(readFileSync(seedFile, 'utf8')) as DemoSeedResult;
    // The seed enrolled every user with a TOTP code of the current step, and stepped the
    // prescriber up with the next one: the server refuses those codes again.
    const seedEnd = Date.now();
    for (const u of seed.users) {
      for (const t of [seedStart, seedEnd, seedStart + 30_000, seedEnd + 30_000]) {
        markUsed(u, demoTotp(u.totpSecret, t));
      }
    }
    // Without the local network the demo clinic has no pharmacy directory: load one the
    // ordinary way (the directory file, proposed by the compliance officer and approved by a
    // pharmacist), with the demo patients' preferred pharmacies. With it, the seed's directory
    // points them at the local switch.
    if (seed.network === undefined) {
      const clinic = seed.tenants.find((t) => t.kind === 'clinic')?.id ?? '';
      const directory = join(root, 'pharmacies.jsonl');
      writeFileSync(directory, DEMO_PHARMACIES.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const operator = async (role: string, args: string[]): Promise<string> => {
        const u = seed.users.find((x) => x.role === role && x.tenantId === clinic);
        if (u === undefined) throw new Error(`no demo ${role} in the clinic`);
        const secrets = `${u.password}\n${await totpFor(u)}\n`;
        const r = await runScrip([...args, '--actor', u.email], isolated.env, secrets);
        if (r.code !== 0) throw new Error(`scrip ${args.join(' ')} failed:\n${r.stderr}`);
        return r.stdout;
      };
      const proposed = await operator('compliance_officer', [
        'pharmacies',
        'import',
        '--tenant',
        clinic,
        directory,
      ]);
      const id = /Proposal ([0-9a-f-]{36})/.exec(proposed)?.[1] ?? '';
      await operator('pharmacist', ['drugs', 'approve', id, '--tenant', clinic]);
    }
  }
  await options.beforeServe?.(isolated.env, seed);
  const serve = await startServe(isolated.env);
  const spki = [
    readFileSync(join(dataDir, 'tls', 'server.pem'), 'utf8'),
    ...(prepared.trustPem ?? []),
  ]
    .map(spkiHash)
    .join(',');
  const launchArgs = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--ignore-certificate-errors-spki-list=${spki}`,
  ];
  const profiles: string[] = [];
  const contexts: BrowserContext[] = [];
  const newContext = async (): Promise<BrowserContext> => {
    const profile = mkdtempSync(join(tmpdir(), 'scrip-chromium-'));
    profiles.push(profile);
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: launchArgs,
      viewport: { width: 1280, height: 900 },
    });
    contexts.push(ctx);
    return ctx;
  };
  const context = await newContext();
  mkdirSync(ARTIFACTS, { recursive: true });

  const watch = async (ctx: BrowserContext): Promise<WatchedPage> => {
    const page = await ctx.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(msg.text())) {
        violations.push(msg.text());
      }
    });
    page.on('pageerror', (err) => {
      violations.push(`page error: ${err.message}`);
    });
    await page.addInitScript(VIOLATION_LISTENER);
    return {
      page,
      violations,
      close: async () => {
        violations.push(...(await domViolations(page)));
        await page.close();
      },
    };
  };

  return {
    origin,
    serve,
    env: isolated.env,
    seed,
    context,
    page: async (isolatedContext = false) => watch(isolatedContext ? await newContext() : context),
    user: (role, tenantKind = 'clinic') => {
      const tenant = seed.tenants.find((t) => t.kind === tenantKind);
      const u = seed.users.find(
        (x) =>
          x.role === role &&
          x.tenantId === tenant?.id &&
          (role !== 'prescriber' || x.userId === seed.prescriber.userId),
      );
      if (u === undefined) throw new Error(`no demo ${role} in the ${tenantKind}`);
      return u;
    },
    close: async () => {
      for (const c of contexts) await c.close().catch(() => undefined);
      await serve.stop();
      await isolated.drop();
      for (const d of [root, ...profiles]) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** The demo clinic's pharmacy directory: the demo patients' preferred pharmacies. */
const DEMO_PHARMACIES = ['0500001', '0500002'].map((ncpdpId, i) => ({
  ncpdpId,
  npi: '1234567893',
  name: `Demo Street Pharmacy ${String(i + 1)}`,
  address: { line: `${String(i + 10)} Main St`, city: 'Sacramento', state: 'CA', zip: '95814' },
  phone: '9165550100',
  serviceLevels: ['new', 'cancel', 'renewal', 'controlled'],
  endpointUrl: `https://rx.example.test/${ncpdpId}/script`,
  pins: {
    primary: createHash('sha256').update(`${ncpdpId}-a`).digest('base64'),
    backup: createHash('sha256').update(`${ncpdpId}-b`).digest('base64'),
  },
  active: true,
}));

/** The `securitypolicyviolation` events the page recorded. */
export async function domViolations(page: Page): Promise<string[]> {
  if (page.isClosed()) return [];
  return page.evaluate<string[]>('window.__cspViolations ?? []').catch(() => []);
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/**
 * Runs axe-core on the page and fails on any serious or critical violation. The script is
 * evaluated through the DevTools protocol rather than added as an inline <script> tag, which the
 * CSP (rightly) refuses.
 */
export async function checkAccessibility(page: Page, screen: string): Promise<void> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const present = await page.evaluate<boolean>('typeof window.axe === "object"');
  if (!present) await page.evaluate(axeSource);
  const result = await page.evaluate<
    { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[]
  >(
    `window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  );
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `axe on ${screen}: ${JSON.stringify(bad, null, 1)}`).toEqual([]);
}

/** Saves a full-page PNG of the screen to test-artifacts/web/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe, a screenshot and the CSP check for one screen. */
export async function checkScreen(w: WatchedPage, name: string): Promise<void> {
  await checkAccessibility(w.page, name);
  await screenshot(w.page, name);
  const dom = await domViolations(w.page);
  expect([...w.violations, ...dom], `CSP violations on ${name}`).toEqual([]);
}

const usedCodes = new Map<string, Set<string>>();
function markUsed(user: DemoUser, code: string): void {
  const set = usedCodes.get(user.userId) ?? new Set<string>();
  set.add(code);
  usedCodes.set(user.userId, set);
}

/**
 * A fresh TOTP code for a demo user: the server accepts each code once, so this waits for the
 * next 30-second step when the current code was used already.
 */
export async function totpFor(user: DemoUser): Promise<string> {
  for (;;) {
    const code = demoTotp(user.totpSecret, Date.now());
    if (usedCodes.get(user.userId)?.has(code) !== true) {
      markUsed(user, code);
      return code;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Signs in through the sign-in form with password and TOTP. */
export async function signInWithPassword(
  page: Page,
  origin: string,
  user: DemoUser,
): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByLabel('Authenticator code').fill(await totpFor(user));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signedInOrAlert(page);
}

/**
 * Waits for the signed-in shell; fails at once with the shown error when one appears instead (an
 * alert in the signed-in shell, such as home's failed transmissions, is not a sign-in error).
 */
export async function signedInOrAlert(page: Page): Promise<void> {
  const signOut = page.getByRole('button', { name: 'Sign out' });
  const alert = page.getByRole('alert');
  await signOut.or(alert).first().waitFor();
  if ((await signOut.count()) === 0)
    throw new Error(`sign-in failed: ${await alert.first().innerText()}`);
}

/**
 * The prescriber's first sign-in with a recovery code (the TOTP code of this step stays unspent),
 * a passkey added on the account screen (`onAccount` runs there, e.g. to check the screen), then
 * signing out and in again with the passkey (CDP virtual authenticator).
 */
export async function signInWithNewPasskey(
  w: WatchedPage,
  run: WebRun,
  onAccount?: () => Promise<void>,
): Promise<void> {
  const { page } = w;
  const prescriber = run.user('prescriber');
  await virtualAuthenticator(page.context(), page);
  await page.goto(`${run.origin}/`);
  await page.getByLabel('Email').fill(prescriber.email);
  await page.getByLabel('Password').fill(prescriber.password);
  await page.getByLabel('Use a recovery code instead').check();
  await page
    .getByRole('textbox', { name: 'Recovery code' })
    .fill(prescriber.recoveryCodes[0] ?? '');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signedInOrAlert(page);
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Account' })
    .click();
  await page.getByLabel('Passkey name').fill('Virtual passkey');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByRole('cell', { name: 'Virtual passkey', exact: true }).waitFor();
  await onAccount?.();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await signedInOrAlert(page);
}

export async function virtualAuthenticator(
  context: BrowserContext,
  page: Page,
): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}
