/**
 * A real OpenID Connect provider (`oidc-provider`) on 127.0.0.1 over HTTPS with a throw-away CA,
 * for driving SSO sign-ins headlessly: its interactions (login, consent) are answered by this
 * test server through the provider's interaction API, as whichever account `next` names.
 * The relying party reaches it through `fetch` (a port that trusts the CA), never through a
 * relaxed https rule.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { CustomFetch } from 'openid-client';
import { createCa, issueCert } from '../../src/crypto/x509.js';

export interface IdpAccount {
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly name?: string;
}

/** Who signs in at the IdP next, and how (RFC 8176 `amr`, `acr`). */
export interface NextLogin {
  sub: string;
  amr?: string[];
  acr?: string;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  ca: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export class LoopbackIdp {
  readonly clientId = 'scrip-test-client';
  readonly clientSecret = `idp-secret-${randomBytes(12).toString('hex')}`;
  next: NextLogin = { sub: 'alice' };
  readonly accounts = new Map<string, IdpAccount>();
  /** Rewrites the ID token in the token endpoint's answer (tamper tests). */
  tamperIdToken: ((jwt: string) => string) | undefined;

  private constructor(
    readonly issuer: string,
    readonly caPem: string,
    /** The server certificate (for a browser that pins it by SPKI). */
    readonly certPem: string,
    private readonly server: Server,
  ) {}

  static async start(redirectUris: readonly string[]): Promise<LoopbackIdp> {
    const ca = await createCa('Scrip test IdP CA', 1);
    const leaf = await issueCert(ca, {
      commonName: '127.0.0.1',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      days: 1,
    });
    let handler: Parameters<typeof createServer>[1] = (_req, res) => res.end();
    const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) =>
      handler?.(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const idp = new LoopbackIdp(`https://127.0.0.1:${port}`, ca.certPem, leaf.certPem, server);
    const signingKey = {
      ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
      kid: 'test-rs256',
      use: 'sig',
      alg: 'RS256',
    };
    const provider = new Provider(idp.issuer, {
      clients: [
        {
          client_id: idp.clientId,
          client_secret: idp.clientSecret,
          redirect_uris: [...redirectUris],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [signingKey] },
      ttl: {
        AccessToken: 600,
        AuthorizationCode: 60,
        Grant: 3600,
        IdToken: 600,
        Interaction: 600,
        Session: 3600,
      },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
      pkce: { required: () => true },
      conformIdTokenClaims: false,
      // amr/acr ride on the openid scope, as IdPs that report MFA commonly do.
      claims: {
        sid: null,
        iss: null,
        openid: ['sub', 'amr', 'acr', 'auth_time'],
        email: ['email', 'email_verified'],
        profile: ['name'],
      },
      findAccount: (_ctx: unknown, sub: string) => {
        const a = idp.accounts.get(sub) ?? {};
        return {
          accountId: sub,
          claims: () => ({
            sub,
            ...(a.email === undefined
              ? {}
              : { email: a.email, email_verified: a.emailVerified ?? true }),
            ...(a.name === undefined ? {} : { name: a.name }),
          }),
        };
      },
    });
    const koa = provider.callback();
    handler = (req, res) => {
      if (req.url?.startsWith('/interaction/') !== true) {
        koa(req, res);
        return;
      }
      void (async () => {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          const n = idp.next;
          await provider.interactionFinished(
            req,
            res,
            {
              login: {
                accountId: n.sub,
                ...(n.amr === undefined ? {} : { amr: n.amr }),
                ...(n.acr === undefined ? {} : { acr: n.acr }),
              },
            },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        const grant = new provider.Grant({ accountId: idp.next.sub, clientId: idp.clientId });
        grant.addOIDCScope('openid email profile');
        await provider.interactionFinished(
          req,
          res,
          { consent: { grantId: await grant.save() } },
          { mergeWithLastSubmission: true },
        );
      })().catch(() => {
        res.statusCode = 500;
        res.end();
      });
    };
    return idp;
  }

  /** The relying party's HTTP client: trusts the test CA; applies `tamperIdToken`. */
  readonly fetch: CustomFetch = async (url, options) => {
    const b = options.body;
    const body =
      b === undefined || b === null
        ? undefined
        : typeof b === 'string'
          ? b
          : b instanceof URLSearchParams
            ? b.toString()
            : b instanceof Uint8Array
              ? Buffer.from(b)
              : undefined;
    const r = await send(url, options.method, options.headers, body, this.caPem);
    let payload = r.body;
    const tamper = this.tamperIdToken;
    if (tamper !== undefined && new URL(url).pathname.endsWith('/token')) {
      const json = JSON.parse(payload.toString('utf8')) as { id_token?: string };
      if (json.id_token !== undefined) json.id_token = tamper(json.id_token);
      payload = Buffer.from(JSON.stringify(json));
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(r.headers)) {
      if (v === undefined || k === 'content-length') continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
    }
    return new Response(r.status === 204 || r.status === 304 ? null : payload, {
      status: r.status,
      headers,
    });
  };

  /** A fresh user agent at the IdP (its own cookie jar). */
  browser(): IdpBrowser {
    return new IdpBrowser(this.issuer, this.caPem);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

/** Follows the IdP's redirects with a cookie jar until it sends the user agent elsewhere. */
export class IdpBrowser {
  readonly #jar = new Map<string, string>();

  constructor(
    private readonly issuer: string,
    private readonly ca: string,
  ) {}

  /** Visits an authorization URL; returns the URL the IdP finally redirects to (the RP's). */
  async authorize(url: string): Promise<URL> {
    let next = new URL(url);
    for (let hops = 0; hops < 10; hops++) {
      if (next.origin !== new URL(this.issuer).origin) return next;
      const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const r = await send(next.href, 'GET', cookie === '' ? {} : { cookie }, undefined, this.ca);
      this.#store(r.headers['set-cookie'] ?? []);
      const location = r.headers.location;
      if (r.status < 300 || r.status >= 400 || location === undefined) {
        throw new Error(
          `IdP answered ${String(r.status)}: ${r.body.toString('utf8').slice(0, 300)}`,
        );
      }
      next = new URL(location, next);
    }
    throw new Error('too many redirects at the IdP');
  }

  #store(lines: readonly string[]): void {
    for (const line of lines) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#jar.delete(name);
      else this.#jar.set(name, value);
    }
  }
}
