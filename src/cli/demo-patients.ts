import type { TenantId } from '../core/index.js';
import { permissionsFor, type Caller } from '../identity/index.js';
import type { PatientActor, Patients } from '../prescribing/index.js';

/** Made-up patients for the demo clinic (no real person; 555-01xx numbers are fictional). */
const DEMO_PATIENTS = [
  {
    demographics: {
      givenName: 'Alex',
      familyName: 'Demo-Rivera',
      birthDate: '1958-04-12',
      mrn: 'DEMO-1001',
      phone: '555-010-0101',
      address: '1 Demo Way, Sacramento, CA 95814',
    },
    allergies: [
      {
        rxcui: '7980',
        substance: 'Penicillin G',
        reaction: 'hives',
        severity: 'moderate' as const,
      },
    ],
    medications: [
      {
        rxcui: '314076',
        ingredientRxcuis: ['29046'],
        name: 'lisinopril 10 MG Oral Tablet',
        dosage: 'one tablet by mouth daily',
        startedOn: '2024-05-01',
      },
    ],
    pharmacy: '0500001',
  },
  {
    demographics: {
      givenName: 'Sam',
      familyName: 'Demo-Okafor',
      birthDate: '1979-11-30',
      mrn: 'DEMO-1002',
      phone: '555-010-0102',
      address: '2 Demo Way, Sacramento, CA 95814',
    },
    allergies: [{ substance: 'Shellfish', reaction: 'swelling', severity: 'severe' as const }],
    medications: [
      {
        rxcui: '861007',
        ingredientRxcuis: ['6809'],
        name: 'metformin hydrochloride 500 MG Oral Tablet',
        dosage: 'one tablet twice daily with meals',
        startedOn: '2023-02-15',
      },
    ],
    pharmacy: '0500001',
  },
  {
    demographics: {
      givenName: 'Jordan',
      familyName: 'Demo-Nakamura',
      birthDate: '1991-06-08',
      mrn: 'DEMO-1003',
      phone: '555-010-0103',
      address: '3 Demo Way, Sacramento, CA 95814',
    },
    allergies: [
      { rxcui: '2670', substance: 'Codeine', reaction: 'nausea', severity: 'mild' as const },
    ],
    medications: [],
    pharmacy: '0500002',
  },
] as const;

/** Every NCPDP ID the demo patients prefer (the demo prescriptions go to these too). */
export const DEMO_PHARMACY_NCPDP_IDS: readonly string[] = [
  ...new Set(DEMO_PATIENTS.map((p) => p.pharmacy)),
];

/**
 * Creates the demo patients through the ordinary patient services, as the demo prescriber (so
 * they are on each care team and every step is audited like any other). Returns their ids.
 */
export async function seedDemoPatients(
  patients: Patients,
  prescriber: Caller & { readonly tenantId: TenantId },
): Promise<string[]> {
  const who: PatientActor = {
    userId: prescriber.userId,
    tenantId: prescriber.tenantId,
    sessionId: prescriber.sessionId,
    roles: ['prescriber'],
    permissions: permissionsFor(['prescriber']),
  };
  const meta = {};
  const ids: string[] = [];
  for (const d of DEMO_PATIENTS) {
    const r = await patients.service.create(
      who,
      d.demographics,
      { confirmNotDuplicate: true },
      meta,
    );
    if (r.kind !== 'created') throw new TypeError('demo patient was not created');
    for (const a of d.allergies) await patients.clinicalService.addAllergy(who, r.id, a, meta);
    for (const m of d.medications) await patients.clinicalService.addMedication(who, r.id, m, meta);
    await patients.clinicalService.setPreferredPharmacy(who, r.id, d.pharmacy, meta);
    ids.push(r.id);
  }
  return ids;
}
