/**
 * Every server route the web app calls, by method and route template. Plain data (no DOM), so
 * test/web/client-drift.test.ts can compare it with the server's route table: a renamed or
 * removed route fails that test before it fails a user.
 */
export const ENDPOINTS = {
  login: ['POST', '/api/v1/auth/login'],
  logout: ['POST', '/api/v1/auth/logout'],
  logoutAll: ['POST', '/api/v1/auth/logout-all'],
  session: ['GET', '/api/v1/auth/session'],
  mySessions: ['GET', '/api/v1/auth/sessions'],
  mySessionEnd: ['DELETE', '/api/v1/auth/sessions/:id'],
  stepUp: ['POST', '/api/v1/auth/step-up'],
  totpEnrol: ['POST', '/api/v1/auth/totp/enrol'],
  totpConfirm: ['POST', '/api/v1/auth/totp/confirm'],
  recoveryCodes: ['POST', '/api/v1/auth/recovery-codes'],
  passkeyLoginOptions: ['POST', '/api/v1/auth/webauthn/login/options'],
  passkeyLogin: ['POST', '/api/v1/auth/webauthn/login'],
  passkeyRegisterOptions: ['POST', '/api/v1/auth/webauthn/register/options'],
  passkeyRegister: ['POST', '/api/v1/auth/webauthn/register'],
  passkeyList: ['GET', '/api/v1/auth/webauthn/credentials'],
  passkeyRename: ['PATCH', '/api/v1/auth/webauthn/credentials/:id'],
  passkeyDelete: ['DELETE', '/api/v1/auth/webauthn/credentials/:id'],
  passkeyStepUpOptions: ['POST', '/api/v1/auth/webauthn/step-up/options'],
  passkeyStepUp: ['POST', '/api/v1/auth/webauthn/step-up'],
  ssoDiscover: ['POST', '/api/v1/auth/sso/discover'],
  ssoCallback: ['GET', '/api/v1/auth/sso/callback'],
  ssoComplete: ['POST', '/api/v1/auth/sso/complete'],
  bootstrap: ['POST', '/api/v1/auth/bootstrap'],
  acceptInvitation: ['POST', '/api/v1/auth/invitations/accept'],
  myPatients: ['GET', '/api/v1/patients'],
  patientSearch: ['POST', '/api/v1/patients/search'],
  patientCareTeam: ['GET', '/api/v1/patients/:id/care-team'],
  patient: ['GET', '/api/v1/patients/:id'],
  patientAllergies: ['GET', '/api/v1/patients/:id/allergies'],
  patientMedications: ['GET', '/api/v1/patients/:id/medications'],
  patientPrescriptions: ['GET', '/api/v1/patients/:patientId/prescriptions'],
  drugs: ['GET', '/api/v1/drugs'],
  pharmacies: ['GET', '/api/v1/pharmacies'],
  rxCreate: ['POST', '/api/v1/prescriptions'],
  rx: ['GET', '/api/v1/prescriptions/:id'],
  rxUpdate: ['PATCH', '/api/v1/prescriptions/:id'],
  rxSafety: ['GET', '/api/v1/prescriptions/:id/safety-checks'],
  rxReady: ['POST', '/api/v1/prescriptions/:id/ready'],
  rxSign: ['POST', '/api/v1/prescriptions/:id/sign'],
  rxCancel: ['POST', '/api/v1/prescriptions/:id/cancel'],
  rxRenew: ['POST', '/api/v1/prescriptions/:id/renew'],
  rxChange: ['POST', '/api/v1/prescriptions/:id/change'],
  epcsReview: ['GET', '/api/v1/patients/:patientId/epcs-review'],
  epcsSign: ['POST', '/api/v1/patients/:patientId/epcs-sign'],
  rxDelivery: ['GET', '/api/v1/prescriptions/:id/delivery'],
  rxPrint: ['GET', '/api/v1/prescriptions/:id/print'],
  transmissionFailures: ['GET', '/api/v1/transmission-failures'],
  prescriberRequests: ['GET', '/api/v1/prescriber-requests'],
  prescriberRequestApprove: ['POST', '/api/v1/prescriber-requests/:id/approve'],
  prescriberRequestDeny: ['POST', '/api/v1/prescriber-requests/:id/deny'],
} as const satisfies Record<string, readonly [string, `/api/v1/${string}`]>;

export type EndpointName = keyof typeof ENDPOINTS;

/**
 * Routes the app may call that another change is still adding: the drift test accepts them
 * missing (none at the moment).
 */
export const PENDING_ENDPOINTS: Readonly<Record<string, readonly [string, string]>> = {};
