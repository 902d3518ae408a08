/**
 * Public API of the audit domain: the append-only, tamper-evident audit log (hash chain + RFC 9162
 * Merkle tree + C2SP signed checkpoints), its proofs and its verifier. Other domains import only
 * this module.
 */
export {
  AUDIT_LIMITS,
  GENESIS_HASH,
  auditRecordBytes,
  buildAuditRecord,
  validateAuditEvent,
  type AuditActor,
  type AuditActorKind,
  type AuditDetailValue,
  type AuditEvent,
  type AuditOutcome,
  type AuditRecord,
  type AuditSubject,
  type StoredAuditRow,
} from './audit-record.js';
export {
  completeFromContext,
  currentAuditContext,
  runWithAuditContext,
  type AuditRequestContext,
} from './audit-context.js';
export { appendAudit, measureClockSkew, type AppendedAudit, type ClockSkew } from './audit-log.js';
export {
  CheckpointScheduler,
  createCheckpoint,
  intervalTicker,
  type CheckpointSchedulerOptions,
  type CheckpointSigner,
  type CreateCheckpointOptions,
  type Ticker,
} from './audit-checkpoints.js';
export {
  consistencyProofBetween,
  inclusionProofFor,
  type InclusionProofOptions,
} from './audit-proofs.js';
export {
  verifyAuditLog,
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerifyOptions,
  type AuditVerifyProgress,
  type AuditVerifyReport,
} from './audit-verify.js';
export { databaseAuditReader, type AuditLogReader, type StoredCheckpoint } from './audit-store.js';
export {
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  CompactRange,
} from './merkle.js';
export {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  type Checkpoint,
} from './checkpoint.js';
export { parseNote, signNote, verifyNote } from './signed-note.js';
export {
  createNoteSigner,
  createNoteVerifier,
  formatVerifierKey,
  parseVerifierKey,
  type NoteSigner,
  type NoteVerifier,
} from './note-keys.js';
export {
  createConsistencyBundle,
  createInclusionBundle,
  verifyConsistencyBundle,
  verifyInclusionBundle,
  verifyProofBundle,
  type ConsistencyProofBundle,
  type InclusionProofBundle,
  type VerifiedConsistency,
  type VerifiedInclusion,
} from './proof-bundle.js';
export {
  assertObjectName,
  sha256Hex,
  type ExportTarget,
  type ExportTargetInfo,
  type GetOptions,
  type PutOnceOptions,
} from './export-target.js';
export { DirectoryExportTarget } from './directory-export-target.js';
export {
  S3ExportTarget,
  type S3ExportTargetOptions,
  type S3GetObjectOutput,
  type S3ListOutput,
  type S3ObjectHead,
  type S3ObjectPort,
  type S3PutObjectInput,
} from './s3-export-target.js';
export {
  manifestObjectName,
  recordsObjectName,
  witnessObjectName,
  type SegmentManifest,
} from './segment-format.js';
export {
  AUDIT_EXPORT_FAILED,
  exportPendingSegments,
  type ExportOptions,
  type ExportReport,
  type ExportedSegment,
} from './segment-exporter.js';
export {
  verifyExport,
  type ExportProblem,
  type ExportVerifyOptions,
  type ExportVerifyReport,
} from './export-verify.js';
export {
  checkWitness,
  type WitnessCheckOptions,
  type WitnessProblem,
  type WitnessProblemKind,
  type WitnessReport,
} from './witness.js';
export {
  MIN_RETENTION_YEARS,
  parseRetentionYears,
  retentionCutoff,
  retentionPolicy,
  retainUntil,
  type RetentionPolicy,
} from './retention-policy.js';
export { planAuditPrune, type PrunableSegment, type PrunePlan } from './retention.js';
