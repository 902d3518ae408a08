import type { Platform } from '../platform.js';
import type { RouteDef } from './route.js';
import { keyRoutes } from './routes/keys.routes.js';
import { auditRoutes } from './routes/audit.routes.js';
import { alertRoutes } from './routes/alerts.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { ownSessionRoutes } from './routes/own-sessions.routes.js';
import { userRoutes } from './routes/users.routes.js';
import { webauthnRoutes } from './routes/webauthn.routes.js';
import { proofingRoutes } from './routes/proofing.routes.js';
import { ssoRoutes } from './routes/sso.routes.js';
import { accessRoutes } from './routes/access.routes.js';
import { drugRoutes } from './routes/drugs.routes.js';
import { complianceProgramRoutes } from './routes/compliance-program.routes.js';
import { complianceEvidenceRoutes } from './routes/compliance-evidence.routes.js';
import { prescriptionRoutes } from './routes/prescriptions.routes.js';
import { fhirRxRoutes } from './routes/fhir-rx.routes.js';
import { pharmacyRoutes } from './routes/pharmacies.routes.js';
import { patientRoutes } from './routes/patients.routes.js';
import { fhirRoutes } from './routes/fhir.routes.js';
import { accessGrantRoutes } from './routes/access-grants.routes.js';
import { breakGlassRoutes } from './routes/break-glass.routes.js';
import { accessReviewRoutes } from './routes/access-reviews.routes.js';
import { accessSettingsRoutes } from './routes/access-settings.routes.js';
import { networkRoutes } from './routes/network.routes.js';
import { pharmacyInboxRoutes } from './routes/pharmacy-inbox.routes.js';

/** The platform services routes are built from. */
export type RoutePlatform = Pick<
  Platform,
  | 'signingKeys'
  | 'keyAdmin'
  | 'identity'
  | 'db'
  | 'clock'
  | 'access'
  | 'accessOps'
  | 'pharmacies'
  | 'pharmacy'
  | 'prescriptions'
  | 'compliance'
  | 'complianceProgram'
  | 'changes'
  | 'patientServices'
  | 'network'
>;

/**
 * Every domain's routes, composed once: `scrip serve`, `scrip routes` and the authorization
 * matrix test (test/access/authorization-matrix.test.ts) all use this list.
 */
export function domainRoutes(platform: RoutePlatform): RouteDef[] {
  return [
    ...keyRoutes(platform.signingKeys, platform.keyAdmin),
    ...auditRoutes(platform.db, platform.clock),
    ...alertRoutes(platform.db, platform.clock),
    ...authRoutes(platform.identity),
    ...ownSessionRoutes(platform.identity),
    ...userRoutes(platform.identity),
    ...webauthnRoutes(platform.identity),
    ...proofingRoutes(platform.identity),
    ...ssoRoutes(platform.identity.sso, platform.identity.ssoConfig, platform.identity.ssoDomains),
    ...accessRoutes(platform.access.roles, platform.access.context),
    ...accessGrantRoutes(platform.accessOps),
    ...breakGlassRoutes(platform.accessOps),
    ...accessReviewRoutes(platform.accessOps, platform.db, platform.clock),
    ...accessSettingsRoutes(platform.db, platform.clock),
    ...drugRoutes(platform.db, platform.changes),
    ...pharmacyRoutes(platform.pharmacies, platform.changes),
    ...prescriptionRoutes(platform.prescriptions),
    ...fhirRxRoutes(platform.prescriptions),
    ...complianceProgramRoutes(platform.complianceProgram),
    ...complianceEvidenceRoutes(platform.compliance),
    ...patientRoutes(platform.patientServices),
    ...fhirRoutes(platform.patientServices, platform.db, platform.clock),
    ...networkRoutes(platform.network, platform.prescriptions, platform.db),
    ...pharmacyInboxRoutes(platform.pharmacy),
  ];
}
