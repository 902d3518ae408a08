import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { buildJwks, type Jwks } from './jws.js';
import type { KeyProvider, SigningPublicKey } from './key-provider.js';
import type { KeyEventSink } from './reencrypt.js';

/**
 * The platform's ECDSA P-256 signing keys (prescription JWS, audit checkpoints, evidence
 * manifests). Private keys live in the key provider (on the token for pkcs11, wrapped by the KEK
 * for local); this service records which key is active, rotates, and publishes every key that
 * may still have to verify something as a JWKS (RFC 7517) at /.well-known/jwks.json.
 */
export interface ActiveSigner {
  readonly keyId: string;
  readonly publicKey: SigningPublicKey;
  sign(data: Buffer): Promise<Buffer>;
}

export class SigningKeyService {
  constructor(
    private readonly db: Database,
    private readonly provider: KeyProvider,
    private readonly clock: Clock,
    private readonly events: KeyEventSink = async () => undefined,
  ) {}

  /** The active key, generating the first one on first use. */
  async active(): Promise<ActiveSigner> {
    const existing = await this.#activeId();
    const keyId = existing ?? (await this.rotate()).keyId;
    const publicKey = await this.provider.getSigningPublicKey(keyId);
    return { keyId, publicKey, sign: (data) => this.provider.sign(keyId, data) };
  }

  /** Makes a fresh key active; earlier keys stay published (they verify earlier signatures). */
  async rotate(): Promise<SigningPublicKey> {
    const key = await this.provider.generateSigningKey();
    await this.db.withoutTenant(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['scrip-signing-keys']);
      const now = this.clock.now();
      await tx.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = $1 WHERE status = 'active'`,
        [now],
      );
      await tx.query(
        `INSERT INTO signing_keys (key_id, status, created_at) VALUES ($1, 'active', $2)`,
        [key.keyId, now],
      );
      await this.events(tx, {
        action: 'key.signing.rotate',
        tenantId: null,
        details: { keyId: key.keyId },
      });
    });
    return key;
  }

  async jwks(): Promise<Jwks> {
    const ids = await this.db.withoutTenant(async (tx) =>
      (
        await tx.query<{ key_id: string }>(
          'SELECT key_id FROM signing_keys ORDER BY created_at, key_id',
        )
      ).rows.map((r) => r.key_id),
    );
    const keys = await Promise.all(ids.map((id) => this.provider.getSigningPublicKey(id)));
    return buildJwks(keys.map((k) => ({ publicKey: k.publicKey, kid: k.keyId })));
  }

  async #activeId(): Promise<string | undefined> {
    const { rows } = await this.db.withoutTenant((tx) =>
      tx.query<{ key_id: string }>(`SELECT key_id FROM signing_keys WHERE status = 'active'`),
    );
    return rows[0]?.key_id;
  }
}
