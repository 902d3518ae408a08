/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed note body that commits a
 * log to its Merkle tree head.
 *
 *     <origin>\n                 non-empty; the log's identity (e.g. "scrip.example/audit/v1")
 *     <tree size>\n              ASCII decimal, no sign, no leading zeros ("0" for empty)
 *     <base64 root hash>\n       standard base64 of the 32-byte RFC 9162 §2.1.1 root
 *     [<extension line>\n]...    optional, non-empty, opaque (NOT RECOMMENDED by the spec)
 *
 * The note is signed with the platform's ECDSA P-256 key as signed-note type 0x02 (see
 * note-keys.ts); by the spec's convention the key name equals the origin.
 */
import { AppError } from '../core/index.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { HASH_SIZE } from './merkle-hash.js';
import { type NoteSigner, type NoteVerifier } from './note-keys.js';
import {
  noteCharsProblem,
  signNote,
  verifyNote,
  type NoteKeyRef,
  type VerifyNoteOptions,
} from './signed-note.js';

/** A parsed checkpoint body. */
export interface Checkpoint {
  readonly origin: string;
  /** Number of leaves; limited to safe integers (≤ 2^53 − 1). */
  readonly size: number;
  /** 32-byte RFC 9162 root hash of the first `size` leaves. */
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

/** Input to {@link formatCheckpoint}. */
export interface CheckpointInput {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

/** A checkpoint whose note signature verified. */
export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly verifiedBy: readonly NoteKeyRef[];
}

function lineProblem(line: string): string | undefined {
  if (line.length === 0) return 'is empty';
  if (line.includes('\n')) return 'contains a newline';
  return noteCharsProblem(line);
}

/**
 * Formats the checkpoint note text (body). Invalid input is programmer misuse (`TypeError`):
 * an empty origin or extension line, a newline or control character in one, a size that is not a
 * safe non-negative integer, or a root hash that is not 32 bytes.
 */
export function formatCheckpoint(input: CheckpointInput): string {
  const originProblem = lineProblem(input.origin);
  if (originProblem !== undefined) throw new TypeError(`checkpoint origin ${originProblem}`);
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new TypeError('checkpoint size must be a non-negative safe integer');
  }
  if (!(input.rootHash instanceof Uint8Array) || input.rootHash.length !== HASH_SIZE) {
    throw new TypeError(`checkpoint root hash must be ${HASH_SIZE} bytes`);
  }
  const extensions = input.extensions ?? [];
  for (const ext of extensions) {
    const problem = lineProblem(ext);
    if (problem !== undefined) throw new TypeError(`checkpoint extension line ${problem}`);
  }
  const lines = [input.origin, String(input.size), encodeBase64(input.rootHash), ...extensions];
  return `${lines.join('\n')}\n`;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Parses checkpoint note text strictly; anything else is `AppError('validation_failed')`:
 * no final newline, fewer than three lines, an empty line anywhere (origin or extension), a CR
 * or other control character, a size with sign, leading zeros, non-digits or above 2^53 − 1,
 * a root hash that is not canonical standard base64 of exactly 32 bytes.
 * Parsing does not authenticate: use {@link openCheckpoint} on a signed note.
 */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (why: string): AppError => new AppError('validation_failed', `checkpoint: ${why}`);
  if (typeof text !== 'string') throw new TypeError('checkpoint text must be a string');
  const problem = noteCharsProblem(text);
  if (problem !== undefined) throw bad(problem);
  if (!text.endsWith('\n')) throw bad('text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('expected origin, size and root hash lines');
  if (lines.some((l) => l.length === 0)) throw bad('lines must be non-empty');
  const [origin, sizeText, rootText, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  if (!DECIMAL.test(sizeText)) throw bad('tree size must be decimal without sign or leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad('tree size is too large');
  const rootHash = decodeBase64Strict(rootText);
  if (rootHash === undefined) throw bad('root hash is not canonical standard base64');
  if (rootHash.length !== HASH_SIZE) throw bad(`root hash must be ${HASH_SIZE} bytes`);
  return { origin, size, rootHash, extensions };
}

/** Formats `input` and signs it: the complete signed checkpoint note. */
export async function signCheckpoint(
  input: CheckpointInput,
  signers: NoteSigner | readonly NoteSigner[],
): Promise<string> {
  return signNote(formatCheckpoint(input), signers);
}

/**
 * Verifies a signed checkpoint note with the trusted `verifiers` (signed-note rules, see
 * `verifyNote`), then parses its text. With `origin`, the checkpoint must be for that log.
 * Untrusted or tampered notes are `integrity_error`; malformed ones `validation_failed`.
 */
export function openCheckpoint(
  note: string,
  verifiers: readonly NoteVerifier[],
  options: VerifyNoteOptions & { readonly origin?: string } = {},
): VerifiedCheckpoint {
  const verified = verifyNote(note, verifiers, options);
  const checkpoint = parseCheckpoint(verified.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new AppError('integrity_error', 'checkpoint is for a different log origin');
  }
  return { checkpoint, verifiedBy: verified.verifiedBy };
}
