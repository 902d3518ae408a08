/**
 * Evidence preservation for an incident (45 CFR 164.308(a)(6)(ii) document incidents and their
 * outcomes; 164.312(b), (c)(1) audit controls and integrity): a range of the tenant's audit
 * records is linked to the incident together with the latest signed checkpoint of the log and an
 * RFC 9162 inclusion proof for each record. Anyone holding the log's public key can later show,
 * offline (`scrip audit verify-proof`), that those exact records were in the log the checkpoint
 * signed, whatever happens to the database afterwards.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Database, Tx } from '../db/index.js';
import {
  databaseAuditReader,
  inclusionProofFor,
  type InclusionProofBundle,
} from '../audit/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { INCIDENT_EVIDENCE_SEALED, narrativeCipher, type Narrative } from './incident-narrative.js';
import { appendTimeline, lockIncident } from './incident-timeline.js';
import { auditProgram, checkId, checkText, notFound, type ProgramActor } from './program-common.js';

/** At most this many of the tenant's records per preserved range (split longer ranges). */
export const MAX_EVIDENCE_RECORDS = 1000;
/** At most this wide a seq range (other tenants' records in it are skipped, not proved). */
export const MAX_EVIDENCE_SPAN = 1_000_000;

export interface PreservedEvidence {
  readonly id: string;
  readonly incidentId: string;
  readonly fromSeq: number;
  /** Exclusive. */
  readonly toSeq: number;
  readonly records: number;
  readonly checkpointSize: number;
  /** The signed checkpoint (C2SP signed note) every proof is made against. */
  readonly checkpoint: string;
  readonly proofs: readonly InclusionProofBundle[];
  readonly note: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
}

interface EvidenceRow {
  id: string;
  incident_id: string;
  from_seq: string;
  to_seq: string;
  records: number;
  checkpoint_size: string;
  checkpoint_note: string;
  proofs: InclusionProofBundle[];
  /** Sealed (incident-narrative.ts). */
  note: Buffer | null;
  created_by: string;
  created_at: Date;
}

async function toEvidence(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  r: EvidenceRow,
): Promise<PreservedEvidence> {
  const { note } = await narrative.open(tx, tenantId, INCIDENT_EVIDENCE_SEALED, r.id, {
    note: r.note,
  });
  return {
    id: r.id,
    incidentId: r.incident_id,
    fromSeq: Number(r.from_seq),
    toSeq: Number(r.to_seq),
    records: r.records,
    checkpointSize: Number(r.checkpoint_size),
    checkpoint: r.checkpoint_note,
    proofs: r.proofs,
    note: note ?? null,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  };
}

export class IncidentEvidenceService {
  readonly #narrative: Narrative;

  constructor(
    private readonly db: Database,
    keyring: Keyring,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {
    this.#narrative = narrativeCipher(keyring);
  }

  /**
   * Links the tenant's audit records with `fromSeq` ≤ seq < `toSeq` to the incident, with the
   * latest signed checkpoint and an inclusion proof per record. `conflict` when the checkpoint
   * does not cover the range yet (retry after the next checkpoint); `validation_failed` when the
   * range holds none (or too many) of the tenant's records.
   */
  async preserve(
    actor: ProgramActor,
    incidentId: string,
    fromSeq: number,
    toSeq: number,
    note?: string,
  ): Promise<PreservedEvidence> {
    checkId('incident', incidentId);
    if (!Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(toSeq) || fromSeq < 0) {
      throw new AppError('validation_failed', 'fromSeq and toSeq must be whole numbers', {
        detail: 'fromSeq',
      });
    }
    if (toSeq <= fromSeq || toSeq - fromSeq > MAX_EVIDENCE_SPAN) {
      throw new AppError(
        'validation_failed',
        `toSeq must be after fromSeq, at most ${String(MAX_EVIDENCE_SPAN)} records later`,
        { detail: 'toSeq' },
      );
    }
    const text = note === undefined ? null : checkText('note', note, 1, 2000);
    // The tenant's records in the range (row-level security hides every other tenant's).
    const seqs = await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const { rows } = await tx.query<{ seq: string }>(
        `SELECT seq FROM audit_log WHERE tenant_id = $1 AND seq >= $2 AND seq < $3
          ORDER BY seq LIMIT $4`,
        [actor.tenantId, fromSeq, toSeq, MAX_EVIDENCE_RECORDS + 1],
      );
      return rows.map((r) => Number(r.seq));
    });
    if (seqs.length === 0) {
      throw new AppError('validation_failed', 'the range holds no audit record of this tenant', {
        detail: 'fromSeq',
      });
    }
    if (seqs.length > MAX_EVIDENCE_RECORDS) {
      throw new AppError(
        'validation_failed',
        `the range holds more than ${String(MAX_EVIDENCE_RECORDS)} records; split it`,
        { detail: 'toSeq' },
      );
    }
    const size = await databaseAuditReader(this.db).maxCheckpointSize();
    const last = seqs.at(-1) ?? 0;
    if (size <= last) {
      throw new AppError(
        'conflict',
        'the range is not yet covered by a signed checkpoint; retry after the next checkpoint',
        { detail: 'checkpoint' },
      );
    }
    const proofs: InclusionProofBundle[] = [];
    for (const seq of seqs) {
      proofs.push(
        await inclusionProofFor(this.db, seq, size, {
          tenantId: actor.tenantId,
          includeRecord: false,
        }),
      );
    }
    const checkpoint = proofs[0]?.checkpoint ?? '';
    const id = this.random.uuid();
    const now = this.clock.now();
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const { version, sealed } = await this.#narrative.seal(
        tx,
        actor.tenantId,
        INCIDENT_EVIDENCE_SEALED,
        id,
        { note: text },
      );
      const { rows } = await tx.query<EvidenceRow>(
        `INSERT INTO compliance_incident_evidence (id, tenant_id, incident_id, from_seq, to_seq,
           records, checkpoint_size, checkpoint_note, proofs, note, created_by, created_at,
           dek_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING id, incident_id, from_seq, to_seq, records, checkpoint_size, checkpoint_note,
                   proofs, note, created_by, created_at`,
        [
          id,
          actor.tenantId,
          incidentId,
          fromSeq,
          toSeq,
          seqs.length,
          size,
          checkpoint,
          JSON.stringify(proofs),
          sealed.note,
          actor.userId,
          now,
          version,
        ],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'evidence insert returned no row');
      const details = {
        evidenceId: id,
        fromSeq,
        toSeq,
        records: seqs.length,
        checkpointSize: size,
      };
      const entry = await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        { kind: 'evidence', actorUserId: actor.userId, text, details },
        now,
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_EVIDENCE,
        [
          { type: 'incident', id: incidentId },
          { type: 'evidence', id },
        ],
        { ...details, entry: entry.entry },
      );
      return toEvidence(tx, this.#narrative, actor.tenantId, row);
    });
  }

  /** One preserved evidence record with its checkpoint and proofs. */
  async get(
    tenantId: TenantId,
    incidentId: string,
    evidenceId: string,
  ): Promise<PreservedEvidence> {
    checkId('incident', incidentId);
    checkId('evidence', evidenceId);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<EvidenceRow>(
        `SELECT id, incident_id, from_seq, to_seq, records, checkpoint_size, checkpoint_note, proofs,
                note, created_by, created_at
           FROM compliance_incident_evidence WHERE tenant_id = $1 AND incident_id = $2 AND id = $3`,
        [tenantId, incidentId, evidenceId],
      );
      if (rows[0] === undefined) throw notFound('evidence');
      return toEvidence(tx, this.#narrative, tenantId, rows[0]);
    });
  }
}
