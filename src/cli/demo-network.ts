/**
 * The network part of `scrip demo seed` (issue 8 item 7; docs/network.md "One machine"): when the
 * one-machine network is on (SCRIP_LOCAL_NETWORK), the demo clinic and the demo pharmacy are
 * connected through the local switch of `scrip serve` over mutual TLS, as two organisations
 * would be in production. Every step goes through the ordinary services (each audited):
 *
 * - certificates from the local CA: one client certificate per tenant; network identities
 *   `D:<clinic network id>` and `P:<NCPDP ID>` (every NCPDP ID the demo patients use), sending
 *   through the local switch (pinned);
 * - switch participants for both, reached at the local listener (pinned), with all service levels
 *   including controlled; the clinic's JWKS is the platform's (it signs the prescriptions);
 * - the pharmacy tenant: its pharmacy locations, the demo pharmacist and technician as staff, the
 *   clinic as a trusted sender with the platform JWKS;
 * - the clinic: directory entries for those pharmacies (endpoint: the local switch), as one
 *   routing change proposed by the clinic's compliance officer and approved by a clinic
 *   pharmacist (two-person change control, docs/pharmacy-directory.md);
 * - the BAA gate of both tenants (45 CFR 164.308(b)): a vendor for the local switch, a BAA with a
 *   signed demo document, the `endpoint:<switch origin>` integration enabled.
 *
 * An NCPDP ID belongs to one tenant of an installation: when an earlier seed's pharmacy already
 * owns them, that pharmacy trusts the new clinic instead (a second seed still delivers).
 */
import { X509Certificate } from 'node:crypto';
import type { Config } from '../config/index.js';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Compliance, ComplianceActor } from '../compliance/index.js';
import { issueCert } from '../crypto/x509.js';
import type { SigningKeyService } from '../crypto/signing-keys.js';
import { npiCheckDigit } from '../identity/index.js';
import { ensureLocalNetwork, type LocalNetwork } from '../network/local-network.js';
import { spkiSha256 } from '../network/mtls.js';
import type { NetworkNode } from '../network/network-node.js';
import { assertPharmacy } from '../network/pharmacy-directory.repository.js';
import { endpointRef } from '../network/send-gate.js';
import type { PharmacyModule } from '../pharmacy/index.js';
import { assertParticipant, saveParticipants } from '../switch/index.js';
import type { ChangeControlService } from '../prescribing/change-control.service.js';
import { DEMO_PHARMACY_NCPDP_IDS } from './demo-patients.js';
import { twoPerson } from './demo-rx.js';

export interface DemoNetworkDeps {
  readonly config: Config;
  readonly dataDir: string;
  readonly db: Database;
  readonly clock: Clock;
  readonly signingKeys: Pick<SigningKeyService, 'jwks'>;
  readonly network: Pick<NetworkNode, 'identities'>;
  readonly pharmacy: Pick<PharmacyModule, 'setup'>;
  /** The clinic's directory entries are a routing change (proposed, then approved). */
  readonly changes: Pick<ChangeControlService, 'propose' | 'approve'>;
  readonly compliance: Pick<Compliance, 'vendors' | 'baas' | 'integrations'>;
}

interface Person {
  readonly userId: string;
  readonly sessionId: string;
}

export interface DemoNetworkInput {
  readonly tag: string;
  readonly clinic: TenantId;
  readonly pharmacy: TenantId;
  /** Records the clinic's compliance steps (vendor, BAA, integration); proposes its directory. */
  readonly complianceOfficer: Person;
  /** A clinic pharmacist (`catalog.manage`): approves the directory change. */
  readonly routingApprover: Person;
  /** The pharmacy tenant's administrator: its set-up and its compliance steps. */
  readonly pharmacyAdmin: Person;
  /** Staff of every demo pharmacy location. */
  readonly pharmacyStaff: readonly string[];
}

export interface DemoNetwork {
  readonly switchUrl: string;
  readonly listenerUrl: string;
  readonly clinicAddress: string;
  readonly pharmacyAddresses: readonly string[];
  /** The tenant that owns the pharmacy addresses (an earlier seed's pharmacy when reused). */
  readonly pharmacyTenantId: string;
  readonly reusedPharmacy: boolean;
  /** The integration ref both tenants enabled (`endpoint:<switch origin>`). */
  readonly integrationRef: string;
}

const LEVELS = ['new', 'cancel', 'change', 'renewal', 'controlled'] as const;
const CERT_DAYS = 397;
const DEMO_BAA = Buffer.from(
  '%PDF-1.7\nDemo Business Associate Agreement for the local Scrip switch (demo data; signed).\n%%EOF\n',
  'utf8',
);

const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));
const userActor = (p: Person): ComplianceActor => ({
  kind: 'user',
  userId: p.userId,
  sessionId: p.sessionId,
});

/** Sets up the demo network; undefined when the one-machine network is off. */
export async function seedDemoNetwork(
  deps: DemoNetworkDeps,
  input: DemoNetworkInput,
): Promise<DemoNetwork | undefined> {
  const local = await ensureLocalNetwork(deps.config, deps.dataDir);
  if (local === undefined) return undefined;
  const clinicId = `DEMO-CLINIC-${input.tag.toUpperCase()}`;
  const jwks = await deps.signingKeys.jwks();
  const ref = endpointRef(local.switchUrl);
  const cli = { kind: 'cli' as const };

  // Whose are the demo NCPDP IDs? Taken by an earlier seed: reuse that pharmacy tenant.
  let owner: TenantId | undefined;
  for (const id of DEMO_PHARMACY_NCPDP_IDS) {
    owner ??= await deps.network.identities.tenantOf('P', id);
  }
  const pharmacyTenant = owner ?? input.pharmacy;
  const reused = owner !== undefined;

  await enableSwitchIntegration(deps, input.clinic, ref, userActor(input.complianceOfficer));
  const admin = { kind: 'user' as const, userId: input.pharmacyAdmin.userId };
  let pharmacyPin: string | undefined;
  const pharmacyCert = reused
    ? undefined
    : await issueCert(local.ca, {
        commonName: `Demo Pharmacy ${input.tag}`,
        usage: 'client',
        days: CERT_DAYS,
      });
  if (pharmacyCert !== undefined) {
    pharmacyPin = pinOf(pharmacyCert.certPem);
    await enableSwitchIntegration(deps, pharmacyTenant, ref, userActor(input.pharmacyAdmin));
    for (const [i, ncpdpId] of DEMO_PHARMACY_NCPDP_IDS.entries()) {
      const location = await deps.pharmacy.setup.createLocation(
        pharmacyTenant,
        { ncpdpId, npi: demoPharmacyNpi(i), name: demoPharmacyName(i) },
        admin,
      );
      for (const userId of input.pharmacyStaff) {
        await deps.pharmacy.setup.addMember(pharmacyTenant, location.id, userId, admin);
      }
    }
  }
  await deps.pharmacy.setup.trustSender(pharmacyTenant, clinicId, jwks, admin);

  const rows = DEMO_PHARMACY_NCPDP_IDS.map((ncpdpId, i) =>
    assertPharmacy({
      ncpdpId,
      npi: demoPharmacyNpi(i),
      name: demoPharmacyName(i),
      address: {
        line: `${String(10 + i)} Demo Street`,
        city: 'Sacramento',
        state: 'CA',
        zip: '95814',
      },
      phone: `55501002${String(i + 1).padStart(2, '0')}`,
      serviceLevels: LEVELS,
      endpointUrl: local.switchUrl,
      pins: { primary: local.switchPin },
      active: true,
    }),
  );
  const routing = await deps.changes.propose(input.clinic, input.complianceOfficer, {
    kind: 'routing',
    payload: { upsert: rows },
    summary: 'Demo pharmacies, reached through the local switch',
  });
  await twoPerson(deps.changes, input.clinic, input.routingApprover, routing);

  const clinicCert = await issueCert(local.ca, {
    commonName: `Demo Clinic ${input.tag}`,
    usage: 'client',
    days: CERT_DAYS,
  });
  const participants = [
    participant(local, {
      id: `demo-clinic-${input.tag}`,
      kind: 'prescriber_system',
      addresses: [`D:${clinicId}`],
      clientPin: pinOf(clinicCert.certPem),
      jwks,
    }),
  ];
  if (pharmacyPin !== undefined) {
    participants.push(
      participant(local, {
        id: `demo-pharmacy-${input.tag}`,
        kind: 'pharmacy',
        addresses: DEMO_PHARMACY_NCPDP_IDS.map((id) => `P:${id}`),
        clientPin: pharmacyPin,
      }),
    );
  }
  await saveParticipants(deps.db, deps.clock, participants, cli);

  // Identities last: the running server's outbox workers start sending once they exist.
  const via = { switchUrl: local.switchUrl, switchPins: [local.switchPin] };
  if (pharmacyCert !== undefined) {
    for (const id of DEMO_PHARMACY_NCPDP_IDS) {
      await deps.network.identities.set(
        pharmacyTenant,
        {
          qualifier: 'P',
          address: id,
          certPem: pharmacyCert.certPem,
          keyPem: pharmacyCert.keyPem,
          ...via,
        },
        cli,
      );
    }
  }
  await deps.network.identities.set(
    input.clinic,
    {
      qualifier: 'D',
      address: clinicId,
      certPem: clinicCert.certPem,
      keyPem: clinicCert.keyPem,
      ...via,
    },
    cli,
  );
  return {
    switchUrl: local.switchUrl,
    listenerUrl: local.nodeUrl,
    clinicAddress: `D:${clinicId}`,
    pharmacyAddresses: DEMO_PHARMACY_NCPDP_IDS.map((id) => `P:${id}`),
    pharmacyTenantId: pharmacyTenant,
    reusedPharmacy: reused,
    integrationRef: ref,
  };
}

function demoPharmacyName(i: number): string {
  return `Demo Pharmacy ${String(i + 1)}`;
}

/** A well-formed NPI (Luhn with the 80840 prefix) for the i-th demo pharmacy. */
function demoPharmacyNpi(i: number): string {
  const base = `15000000${String(i + 1)}`;
  return `${base}${String(npiCheckDigit(base))}`;
}

function participant(
  local: LocalNetwork,
  p: {
    id: string;
    kind: 'prescriber_system' | 'pharmacy';
    addresses: string[];
    clientPin: string;
    jwks?: unknown;
  },
): ReturnType<typeof assertParticipant> {
  return assertParticipant({
    id: p.id,
    kind: p.kind,
    addresses: p.addresses,
    endpointUrl: local.nodeUrl,
    serverPins: { primary: local.nodePin },
    clientPins: { primary: p.clientPin },
    serviceLevels: [...LEVELS],
    ...(p.jwks === undefined ? {} : { jwks: p.jwks }),
  });
}

/** Vendor, BAA (with the signed demo document) and the enabled integration for the switch. */
async function enableSwitchIntegration(
  deps: DemoNetworkDeps,
  tenantId: TenantId,
  ref: string,
  actor: ComplianceActor,
): Promise<void> {
  const vendor = await deps.compliance.vendors.create(
    tenantId,
    {
      name: 'Scrip local switch (demo)',
      services: 'Pharmacy network switch on this machine (demo)',
      contact: 'demo@localhost',
      riskRating: 'low',
      phiAccess: true,
    },
    actor,
  );
  const today = deps.clock.now();
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  await deps.compliance.baas.create(
    tenantId,
    {
      vendorId: vendor.id,
      parties: ['Demo tenant', 'Scrip local switch (demo)'],
      effectiveDate: day(today),
      expiryDate: day(new Date(today.getTime() + 365 * 86_400_000)),
      permittedUses: 'Routing demo prescriptions between the demo clinic and the demo pharmacy',
      breachNoticeDays: 10,
      subcontractorFlowDown: true,
      auditRights: true,
      returnDestruction: 'Return or destroy all PHI within 30 days of termination',
    },
    actor,
    { bytes: DEMO_BAA, mediaType: 'application/pdf' },
  );
  const integration = await deps.compliance.integrations.create(
    tenantId,
    { kind: 'pharmacy_network', name: 'Local switch', ref, vendorId: vendor.id, sendsPhi: true },
    actor,
  );
  const enabled = await deps.compliance.integrations.enable(tenantId, integration.id, actor);
  if (enabled.status !== 'enabled') throw new AppError('internal', 'demo integration not enabled');
}
