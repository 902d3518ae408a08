import type { AuditDetailValue } from '../audit/index.js';
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';

/**
 * The kinds of change control and the appliers that make each take effect. The registry is an
 * exported interface so that each domain registers its own kind: `catalog` and `formulary` here
 * (catalog-change.applier.ts), `routing` by the network domain.
 */
export type ChangeKind = 'catalog' | 'formulary' | 'routing';
export const CHANGE_KINDS: readonly ChangeKind[] = ['catalog', 'formulary', 'routing'];

export interface ChangeApplyContext {
  readonly tenantId: TenantId;
  readonly proposalId: string;
  /** The catalog version this application creates. */
  readonly version: number;
  readonly now: Date;
}

/** What a domain registers to make a kind of change take effect. */
export interface ChangeApplier {
  readonly kind: ChangeKind;
  /** Checks a payload when proposed; throws `AppError('validation_failed')` naming the problem. */
  validate(payload: unknown): void;
  /** What the change would do against the data in force now (for the approver); PHI-free. */
  preview?(tx: Tx, payload: unknown): Promise<Record<string, AuditDetailValue>>;
  /** Applies inside the caller's transaction; returns PHI-free counts for the version record. */
  apply(
    tx: Tx,
    payload: unknown,
    context: ChangeApplyContext,
  ): Promise<Record<string, AuditDetailValue>>;
}

/** The appliers by kind (an exported interface: the network domain registers `routing`). */
export interface ChangeApplierRegistry {
  register(applier: ChangeApplier): void;
  get(kind: ChangeKind): ChangeApplier | undefined;
  kinds(): ChangeKind[];
}

export function createChangeApplierRegistry(
  appliers: readonly ChangeApplier[] = [],
): ChangeApplierRegistry {
  const map = new Map<ChangeKind, ChangeApplier>();
  const registry: ChangeApplierRegistry = {
    register(applier) {
      if (map.has(applier.kind)) throw new TypeError(`an applier for ${applier.kind} exists`);
      map.set(applier.kind, applier);
    },
    get: (kind) => map.get(kind),
    kinds: () => [...map.keys()],
  };
  for (const a of appliers) registry.register(a);
  return registry;
}
