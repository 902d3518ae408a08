/**
 * Public API of the network switch (issue 8 item 5; docs/switch.md): an NCPDP SCRIPT
 * intermediary that authenticates participants by client certificate, routes by Header To and
 * service level, verifies controlled-substance prescription signatures, stores and forwards, and
 * relays the recipient's answer to the sender. Its log is the tamper-evident audit log.
 */
export {
  switchOptionsFromConfig,
  startSwitch,
  startLocalSwitch,
  type RunningSwitch,
  type SwitchDeps,
  type SwitchOptions,
} from './switch-server.js';
export { loadSwitchTls, switchPolicy, type SwitchPolicy, type SwitchTls } from './switch-config.js';
export {
  assertParticipant,
  ParticipantRepository,
  type Participant,
  type ParticipantInput,
  type ParticipantKind,
  type SwitchAddress,
  type SwitchServiceLevel,
} from './participants.js';
export { SWITCH_TENANT_ID, ensureSwitchTenant } from './switch-tenant.js';
export { SWITCH_MESSAGES } from './switch-store.js';
export { SCRIPT_PATH } from './switch-ingress.js';
export { parseParticipantFile, removeParticipant, saveParticipants } from './participant-admin.js';
