import { basename } from 'node:path';
import type { TenantId } from '../core/index.js';
import type { CatalogChange } from './catalog-change.applier.js';
import type {
  ChangeActor,
  ChangeControlService,
  ChangeProposal,
} from './change-control.service.js';
import { readRxNormRelease, type RxNormImport } from './rxnorm-rrf.js';

/**
 * `scrip drugs import`: reads the RxNorm release in `dir` and proposes it as a catalog change.
 * Nothing changes until a second person approves (change-control.service.ts); drugs the release
 * marks obsolete are proposed for retirement.
 */
export async function proposeRxNormImport(
  changes: ChangeControlService,
  tenantId: TenantId,
  actor: ChangeActor,
  dir: string,
  effectiveAt?: Date,
): Promise<{ proposal: ChangeProposal; release: RxNormImport }> {
  const release = await readRxNormRelease(dir);
  const payload: CatalogChange = {
    source: 'rxnorm',
    upsert: release.drugs,
    retire: release.retire,
    limits: [],
  };
  const proposal = await changes.propose(tenantId, actor, {
    kind: 'catalog',
    payload,
    summary: `RxNorm import from ${basename(dir).slice(0, 200)}: ${String(release.drugs.length)} drugs, ${String(release.retire.length)} obsolete`,
    effectiveAt,
  });
  return { proposal, release };
}
