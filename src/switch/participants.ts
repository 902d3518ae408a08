/**
 * The switch's participant registry: who may connect (client-certificate SPKI pins, primary and
 * backup for rotation), which Header addresses each owns (`D:<prescriber system id>`,
 * `P:<NCPDP ID>`), where and how to deliver to it (endpoint URL and server pins), which SCRIPT
 * transactions it takes (service levels) and, for prescriber systems, the JWKS that verifies
 * their prescription signatures (registered out of band, docs/switch.md).
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Jwks } from '../crypto/jws.js';
import { importEs256Jwk } from '../crypto/jws.js';
import { isSpkiPin } from '../network/mtls.js';

export const PARTICIPANT_KINDS = ['prescriber_system', 'pharmacy'] as const;
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number];
export const SWITCH_SERVICE_LEVELS = ['new', 'cancel', 'change', 'renewal', 'controlled'] as const;
export type SwitchServiceLevel = (typeof SWITCH_SERVICE_LEVELS)[number];

/** A Header To/From address the switch routes: P (pharmacy, NCPDP ID) or D (prescriber system). */
export interface SwitchAddress {
  readonly qualifier: 'P' | 'D';
  readonly value: string;
}

export interface Pins {
  readonly primary: string;
  readonly backup?: string;
}

export interface Participant {
  readonly id: string;
  readonly kind: ParticipantKind;
  readonly addresses: readonly SwitchAddress[];
  readonly endpointUrl: string;
  readonly serverPins: Pins;
  readonly clientPins: Pins;
  readonly serviceLevels: readonly SwitchServiceLevel[];
  /** ES256 JWKS of a prescriber system's prescription-signing keys; undefined for pharmacies. */
  readonly jwks?: Jwks;
  readonly active: boolean;
}

export type ParticipantInput = Omit<Participant, 'active'>;

function bad(field: string): AppError {
  return new AppError('validation_failed', 'invalid participant', { detail: field });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function pinsOf(v: unknown, field: string): Pins {
  if (!isRecord(v) || Object.keys(v).some((k) => k !== 'primary' && k !== 'backup')) {
    throw bad(field);
  }
  if (typeof v.primary !== 'string' || !isSpkiPin(v.primary)) throw bad(`${field}.primary`);
  if (v.backup === undefined) return { primary: v.primary };
  if (typeof v.backup !== 'string' || !isSpkiPin(v.backup) || v.backup === v.primary) {
    throw bad(`${field}.backup`);
  }
  return { primary: v.primary, backup: v.backup };
}

function addressOf(v: unknown, kind: ParticipantKind): SwitchAddress {
  if (typeof v !== 'string') throw bad('addresses');
  const m = /^([PD]):(.+)$/.exec(v);
  if (m === null) throw bad('addresses');
  const qualifier = m[1] as 'P' | 'D';
  const value = m[2] ?? '';
  if (!/^[A-Za-z0-9._:-]{1,35}$/.test(value)) throw bad('addresses');
  if (qualifier === 'P' && !/^[0-9]{7}$/.test(value)) throw bad('addresses');
  // A pharmacy owns P addresses, a prescriber system D addresses (wire contract: addressing).
  if ((qualifier === 'P') !== (kind === 'pharmacy')) throw bad('addresses');
  return { qualifier, value };
}

function jwksOf(v: unknown): Jwks {
  if (!isRecord(v) || !Array.isArray(v.keys) || v.keys.length === 0 || v.keys.length > 20) {
    throw bad('jwks');
  }
  const kids = new Set<string>();
  for (const k of v.keys) {
    if (!isRecord(k) || typeof k.kid !== 'string' || k.kid.length === 0 || kids.has(k.kid)) {
      throw bad('jwks');
    }
    kids.add(k.kid);
    try {
      importEs256Jwk(k); // public ES256 keys only (no `d`, P-256, on the curve)
    } catch {
      throw bad('jwks');
    }
  }
  return { keys: v.keys as unknown[] };
}

/**
 * Validates one participant as given in a registry file (JSON):
 * `{ id, kind, addresses: ["P:1234567"], endpointUrl, serverPins: {primary, backup?},
 *    clientPins: {primary, backup?}, serviceLevels: [...], jwks? }`.
 */
export function assertParticipant(v: unknown): ParticipantInput {
  if (!isRecord(v)) throw bad('participant');
  const allowed = [
    'id',
    'kind',
    'addresses',
    'endpointUrl',
    'serverPins',
    'clientPins',
    'serviceLevels',
    'jwks',
  ];
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw bad(extra.slice(0, 40));
  if (typeof v.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v.id)) throw bad('id');
  const kind = PARTICIPANT_KINDS.find((k) => k === v.kind);
  if (kind === undefined) throw bad('kind');
  if (!Array.isArray(v.addresses) || v.addresses.length === 0 || v.addresses.length > 50) {
    throw bad('addresses');
  }
  const addresses = v.addresses.map((a) => addressOf(a, kind));
  if (new Set(addresses.map((a) => `${a.qualifier}:${a.value}`)).size !== addresses.length) {
    throw bad('addresses');
  }
  let endpoint: URL;
  try {
    endpoint = new URL(typeof v.endpointUrl === 'string' ? v.endpointUrl : '');
  } catch {
    throw bad('endpointUrl');
  }
  if (endpoint.protocol !== 'https:' || (v.endpointUrl as string).length > 2048) {
    throw bad('endpointUrl');
  }
  const levels = v.serviceLevels;
  if (
    !Array.isArray(levels) ||
    levels.length === 0 ||
    !levels.every((l) => (SWITCH_SERVICE_LEVELS as readonly unknown[]).includes(l)) ||
    new Set(levels).size !== levels.length
  ) {
    throw bad('serviceLevels');
  }
  if (kind === 'pharmacy' && v.jwks !== undefined) throw bad('jwks');
  const jwks = kind === 'prescriber_system' ? jwksOf(v.jwks) : undefined;
  return {
    id: v.id,
    kind,
    addresses,
    endpointUrl: v.endpointUrl as string,
    serverPins: pinsOf(v.serverPins, 'serverPins'),
    clientPins: pinsOf(v.clientPins, 'clientPins'),
    serviceLevels: SWITCH_SERVICE_LEVELS.filter((l) => (levels as unknown[]).includes(l)),
    ...(jwks === undefined ? {} : { jwks }),
  };
}

/** The pins of a {@link Pins} as a list (primary first). */
export function pinList(p: Pins): string[] {
  return p.backup === undefined ? [p.primary] : [p.primary, p.backup];
}

interface Row {
  id: string;
  kind: ParticipantKind;
  endpoint_url: string;
  server_pin_primary: string;
  server_pin_backup: string | null;
  client_pin_primary: string;
  client_pin_backup: string | null;
  service_levels: SwitchServiceLevel[];
  jwks: Jwks | null;
  active: boolean;
  addresses: string[] | null;
}

function toParticipant(r: Row): Participant {
  return {
    id: r.id,
    kind: r.kind,
    addresses: (r.addresses ?? []).map((a) => ({
      qualifier: a.slice(0, 1) as 'P' | 'D',
      value: a.slice(2),
    })),
    endpointUrl: r.endpoint_url,
    serverPins:
      r.server_pin_backup === null
        ? { primary: r.server_pin_primary }
        : { primary: r.server_pin_primary, backup: r.server_pin_backup },
    clientPins:
      r.client_pin_backup === null
        ? { primary: r.client_pin_primary }
        : { primary: r.client_pin_primary, backup: r.client_pin_backup },
    serviceLevels: r.service_levels,
    ...(r.jwks === null ? {} : { jwks: r.jwks }),
    active: r.active,
  };
}

const SELECT = `SELECT p.id, p.kind, p.endpoint_url, p.server_pin_primary, p.server_pin_backup,
       p.client_pin_primary, p.client_pin_backup, p.service_levels, p.jwks, p.active,
       (SELECT array_agg(a.qualifier || ':' || a.value ORDER BY a.qualifier, a.value)
          FROM switch_addresses a
         WHERE a.tenant_id = p.tenant_id AND a.participant_id = p.id) AS addresses
  FROM switch_participants p`;

/** Participant rows of the switch tenant (every call inside the caller's transaction). */
export class ParticipantRepository {
  constructor(private readonly clock: Clock) {}

  /**
   * Adds a participant, or replaces an existing one with the same id (pin rotation, new
   * endpoint, service levels) and re-activates it. Its addresses are replaced; an address
   * owned by another participant is a `conflict`.
   */
  async save(tx: Tx, tenantId: TenantId, p: ParticipantInput): Promise<'created' | 'updated'> {
    const now = this.clock.now();
    const { rows } = await tx.query<{ inserted: boolean }>(
      `INSERT INTO switch_participants (tenant_id, id, kind, endpoint_url, server_pin_primary,
              server_pin_backup, client_pin_primary, client_pin_backup, service_levels, jwks,
              active, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, $11, $11)
       ON CONFLICT (tenant_id, id) DO UPDATE SET kind = EXCLUDED.kind,
              endpoint_url = EXCLUDED.endpoint_url,
              server_pin_primary = EXCLUDED.server_pin_primary,
              server_pin_backup = EXCLUDED.server_pin_backup,
              client_pin_primary = EXCLUDED.client_pin_primary,
              client_pin_backup = EXCLUDED.client_pin_backup,
              service_levels = EXCLUDED.service_levels, jwks = EXCLUDED.jwks, active = true,
              updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS inserted`,
      [
        tenantId,
        p.id,
        p.kind,
        p.endpointUrl,
        p.serverPins.primary,
        p.serverPins.backup ?? null,
        p.clientPins.primary,
        p.clientPins.backup ?? null,
        p.serviceLevels,
        p.jwks === undefined ? null : JSON.stringify(p.jwks),
        now,
      ],
    );
    // A client key identifies one participant only: the sender is found by its pin.
    const { rows: clash } = await tx.query<{ id: string }>(
      `SELECT id FROM switch_participants
        WHERE tenant_id = $1 AND id <> $2 AND active
          AND ARRAY[client_pin_primary, client_pin_backup] && ARRAY[$3, $4]::text[]`,
      [tenantId, p.id, p.clientPins.primary, p.clientPins.backup ?? p.clientPins.primary],
    );
    if (clash.length > 0) {
      throw new AppError('conflict', 'client pin already registered to another participant', {
        detail: 'clientPins',
      });
    }
    await tx.query('DELETE FROM switch_addresses WHERE tenant_id = $1 AND participant_id = $2', [
      tenantId,
      p.id,
    ]);
    for (const a of p.addresses) {
      const r = await tx.query(
        `INSERT INTO switch_addresses (tenant_id, qualifier, value, participant_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [tenantId, a.qualifier, a.value, p.id],
      );
      if (r.rowCount !== 1) {
        throw new AppError('conflict', 'address already owned by another participant', {
          detail: 'addresses',
        });
      }
    }
    return rows[0]?.inserted === true ? 'created' : 'updated';
  }

  /** Deactivates a participant and releases its addresses (its messages stay on record). */
  async remove(tx: Tx, tenantId: TenantId, id: string): Promise<boolean> {
    const r = await tx.query(
      `UPDATE switch_participants SET active = false, updated_at = $3
        WHERE tenant_id = $1 AND id = $2 AND active`,
      [tenantId, id, this.clock.now()],
    );
    await tx.query('DELETE FROM switch_addresses WHERE tenant_id = $1 AND participant_id = $2', [
      tenantId,
      id,
    ]);
    return r.rowCount === 1;
  }

  async list(tx: Tx, tenantId: TenantId): Promise<Participant[]> {
    const { rows } = await tx.query<Row>(`${SELECT} WHERE p.tenant_id = $1 ORDER BY p.id`, [
      tenantId,
    ]);
    return rows.map(toParticipant);
  }

  async byId(tx: Tx, tenantId: TenantId, id: string): Promise<Participant | undefined> {
    const { rows } = await tx.query<Row>(`${SELECT} WHERE p.tenant_id = $1 AND p.id = $2`, [
      tenantId,
      id,
    ]);
    return rows[0] === undefined ? undefined : toParticipant(rows[0]);
  }

  /** The active participant whose client certificate has this SPKI pin (primary or backup). */
  async byClientPin(tx: Tx, tenantId: TenantId, pin: string): Promise<Participant | undefined> {
    const { rows } = await tx.query<Row>(
      `${SELECT} WHERE p.tenant_id = $1 AND p.active
          AND (p.client_pin_primary = $2 OR p.client_pin_backup = $2)`,
      [tenantId, pin],
    );
    return rows[0] === undefined ? undefined : toParticipant(rows[0]);
  }

  /** The active participant owning a Header address. */
  async byAddress(
    tx: Tx,
    tenantId: TenantId,
    address: SwitchAddress,
  ): Promise<Participant | undefined> {
    const { rows } = await tx.query<Row>(
      `${SELECT} JOIN switch_addresses x ON x.tenant_id = p.tenant_id AND x.participant_id = p.id
        WHERE p.tenant_id = $1 AND p.active AND x.qualifier = $2 AND x.value = $3`,
      [tenantId, address.qualifier, address.value],
    );
    return rows[0] === undefined ? undefined : toParticipant(rows[0]);
  }

  /** Every active client pin (the connection-level allow-list). */
  async activeClientPins(tx: Tx, tenantId: TenantId): Promise<string[]> {
    const { rows } = await tx.query<{ pin: string }>(
      `SELECT client_pin_primary AS pin FROM switch_participants WHERE tenant_id = $1 AND active
       UNION SELECT client_pin_backup FROM switch_participants
        WHERE tenant_id = $1 AND active AND client_pin_backup IS NOT NULL`,
      [tenantId],
    );
    return rows.map((r) => r.pin);
  }
}
