import { createHash } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { ChangeApplier } from '../prescribing/change-applier.js';
import type {
  ChangeActor,
  ChangeControlService,
  ChangeProposal,
} from '../prescribing/change-control.service.js';
import {
  PharmacyDirectoryRepository,
  type Pharmacy,
  type PharmacyInput,
} from './pharmacy-directory.repository.js';
import {
  directoryRowChecker,
  parseDirectoryFile,
  upsertDirectory,
} from './pharmacy-directory.service.js';

/**
 * The `routing` kind of change control (issue 7): the pharmacy directory decides where
 * prescriptions go (endpoint, SPKI pins, service levels, active), so a change to it is a proposal
 * that a second person approves before it takes effect on its effective date
 * (change-control.service.ts; 45 CFR 164.312(c)(1), (e)(1)). The payload is a list of directory
 * rows upserted by NCPDP ID, each checked as strictly as a directory file row; applying upserts
 * them all in the approval's transaction, or none.
 */
export interface RoutingChange {
  readonly upsert: readonly PharmacyInput[];
}

/** Checks a routing payload; refuses naming the bad row (1-based) and field, never a value. */
export function checkRoutingChange(payload: unknown): RoutingChange {
  if (
    typeof payload !== 'object' ||
    payload === null ||
    Array.isArray(payload) ||
    Object.keys(payload).some((k) => k !== 'upsert')
  ) {
    throw new AppError('validation_failed', 'a routing change is { upsert: [rows] }', {
      detail: 'payload',
    });
  }
  const rows = (payload as { upsert?: unknown }).upsert;
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new AppError('validation_failed', 'a routing change upserts at least one pharmacy', {
      detail: 'upsert',
    });
  }
  const check = directoryRowChecker();
  return { upsert: rows.map((r: unknown, i) => check(i + 1, r)) };
}

/** The comparable directory state of a pharmacy (the fields a row sets, in a fixed order). */
function stateOf(p: PharmacyInput): string {
  return JSON.stringify([
    p.ncpdpId,
    p.npi,
    p.name,
    p.address.line,
    p.address.city,
    p.address.state,
    p.address.zip,
    p.phone,
    p.serviceLevels,
    p.endpointUrl,
    p.pins.primary,
    p.pins.backup ?? null,
    p.active,
  ]);
}

const SHOWN_IDS = 50;

/** What the change would do against the directory in force now (NCPDP IDs are not PHI). */
async function preview(
  tx: Tx,
  repository: PharmacyDirectoryRepository,
  change: RoutingChange,
): Promise<Record<string, string | number>> {
  const current = new Map<string, Pharmacy>(
    (
      await repository.byNcpdpIds(
        tx,
        change.upsert.map((r) => r.ncpdpId),
      )
    ).map((p) => [p.ncpdpId, p]),
  );
  let added = 0;
  let unchanged = 0;
  let endpointChanges = 0;
  let pinChanges = 0;
  let deactivated = 0;
  const changed: string[] = [];
  for (const next of change.upsert) {
    const before = current.get(next.ncpdpId);
    if (before === undefined) added += 1;
    else if (stateOf(before) === stateOf(next)) unchanged += 1;
    else {
      changed.push(next.ncpdpId);
      if (before.endpointUrl !== next.endpointUrl) endpointChanges += 1;
      if (JSON.stringify(before.pins) !== JSON.stringify(next.pins)) pinChanges += 1;
      if (before.active && !next.active) deactivated += 1;
    }
  }
  return {
    added,
    changed: changed.length,
    unchanged,
    endpointChanges,
    pinChanges,
    deactivated,
    changedNcpdpIds: changed.slice(0, SHOWN_IDS).join(','),
  };
}

/** The `routing` applier over the tenant's directory (registered in platform.ts). */
export function routingApplier(clock: Clock): ChangeApplier {
  const repository = new PharmacyDirectoryRepository(clock);
  return {
    kind: 'routing',
    validate(payload) {
      checkRoutingChange(payload);
    },
    preview: (tx, payload) => preview(tx, repository, checkRoutingChange(payload)),
    async apply(tx, payload, ctx) {
      // Checked again: a stored proposal is applied only if it still passes today's rules.
      const change = checkRoutingChange(payload);
      const counts = await upsertDirectory(tx, repository, ctx.tenantId, change.upsert);
      return { rows: change.upsert.length, ...counts };
    },
  };
}

/** A directory file whose every row passed (parseDirectoryFile), with its name and SHA-256. */
export interface CheckedDirectoryFile {
  readonly name: string;
  readonly rows: readonly PharmacyInput[];
  readonly sha256: string;
}

/** Checks a directory file before anyone is asked to sign in; throws naming the bad row. */
export function checkDirectoryFile(name: string, content: string): CheckedDirectoryFile {
  const rows = parseDirectoryFile(content);
  return { name, rows, sha256: createHash('sha256').update(content, 'utf8').digest('hex') };
}

/**
 * `scrip pharmacies import`: proposes a checked directory file as one routing change; nothing
 * changes until a second person approves. The summary names the file and its SHA-256, so the
 * approver can match what they approve with the file they were sent.
 */
export async function proposeDirectoryImport(
  changes: Pick<ChangeControlService, 'propose'>,
  tenantId: TenantId,
  actor: ChangeActor,
  file: CheckedDirectoryFile,
  effectiveAt?: Date,
): Promise<ChangeProposal> {
  return changes.propose(tenantId, actor, {
    kind: 'routing',
    payload: { upsert: file.rows } satisfies RoutingChange,
    summary: `Pharmacy directory import ${file.name.slice(0, 200)} (sha256 ${file.sha256}): ${String(file.rows.length)} pharmacies`,
    effectiveAt,
  });
}
