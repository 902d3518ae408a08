/**
 * C2SP signed notes (https://c2sp.org/signed-note): a text ending in a newline, a blank line, then
 * one or more lines `— <key name> <base64(4-byte big-endian key ID ‖ signature)>` (U+2014 em dash).
 * Signatures cover the text including its final newline, not the blank line.
 *
 * Parsing is strict: valid Unicode (so valid UTF-8 on the wire), no control characters other than
 * newline (a CR is rejected), canonical standard base64, at most {@link MAX_NOTE_SIGNATURES}
 * signature lines and {@link MAX_NOTE_LENGTH} characters. Malformed input is
 * `AppError('validation_failed')`; a note that is well formed but not trustworthy is
 * `AppError('integrity_error')`.
 */
import { AppError } from '../core/index.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { isValidKeyName, type NoteSigner, type NoteVerifier } from './note-keys.js';

/** Signature lines accepted per note (the spec requires at least 16; Go's note package caps at 100). */
export const MAX_NOTE_SIGNATURES = 100;
/** Longest note accepted, in UTF-16 code units (checkpoints are a few hundred bytes). */
export const MAX_NOTE_LENGTH = 1 << 20;

const SIG_PREFIX = '\u2014 ';

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Buffer;
}

/** A syntactically valid note whose signatures have not been checked. Do not trust `text`. */
export interface ParsedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** Identity of a key whose signature verified. */
export interface NoteKeyRef {
  readonly name: string;
  readonly keyId: number;
}

/** A note with at least one verified signature from a trusted key. */
export interface VerifiedNote {
  readonly text: string;
  /** Trusted keys whose signatures verified, in note order, each once. */
  readonly verifiedBy: readonly NoteKeyRef[];
}

function malformed(why: string): AppError {
  return new AppError('validation_failed', `signed note: ${why}`);
}

// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot appear in a note, or undefined when it can. */
export function noteCharsProblem(s: string): string | undefined {
  if (FORBIDDEN_CHARS.test(s)) return 'control characters other than newline are not allowed';
  if (LONE_SURROGATE.test(s)) return 'text is not valid Unicode';
  return undefined;
}

function checkText(text: string): void {
  if (typeof text !== 'string') throw new TypeError('note text must be a string');
  const problem = noteCharsProblem(text);
  if (problem !== undefined) throw malformed(problem);
  if (!text.endsWith('\n')) throw malformed('text must end with a newline');
  if (text.length > MAX_NOTE_LENGTH) throw malformed('note is too long');
}

/**
 * Signs `text` (which must end in a newline) with each signer, in order, and returns the note.
 * Signers come from `createNoteSigner`.
 */
export async function signNote(
  text: string,
  signers: NoteSigner | readonly NoteSigner[],
): Promise<string> {
  checkText(text);
  const list: readonly NoteSigner[] = Array.isArray(signers) ? signers : [signers as NoteSigner];
  if (list.length === 0) throw new TypeError('signNote needs at least one signer');
  if (list.length > MAX_NOTE_SIGNATURES) throw new TypeError('too many signers');
  const message = Buffer.from(text, 'utf8');
  let lines = '';
  for (const signer of list) {
    if (!isValidKeyName(signer.name)) throw new TypeError('invalid signer key name');
    const signature = await signer.sign(message);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(signer.keyId >>> 0);
    lines += `${SIG_PREFIX}${signer.name} ${encodeBase64(Buffer.concat([id, signature]))}\n`;
  }
  return `${text}\n${lines}`;
}

/** Splits a note into text and signature lines without checking any signature. */
export function parseNote(note: string): ParsedNote {
  if (typeof note !== 'string') throw new TypeError('note must be a string');
  if (note.length > MAX_NOTE_LENGTH) throw malformed('note is too long');
  const problem = noteCharsProblem(note);
  if (problem !== undefined) throw malformed(problem);
  if (!note.endsWith('\n')) throw malformed('note must end with a newline');
  // The text is separated from the signatures by the last empty line.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('missing blank line before the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1);
  if (lines.length === 0) throw malformed('no signature lines');
  const sigLines = lines.split('\n');
  if (sigLines.length > MAX_NOTE_SIGNATURES) throw malformed('too many signatures');
  const signatures = sigLines.map((line): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw malformed('signature line has no signature');
    const name = rest.slice(0, space);
    if (!isValidKeyName(name)) throw malformed('invalid key name in signature line');
    const bytes = decodeBase64Strict(rest.slice(space + 1));
    if (bytes === undefined) throw malformed('signature is not canonical base64');
    if (bytes.length < 5) throw malformed('signature is too short');
    return { name, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/** Options for {@link verifyNote}. */
export interface VerifyNoteOptions {
  /** Require a valid signature from every verifier, not just one (e.g. log key plus witnesses). */
  readonly requireAll?: boolean;
}

/**
 * Verifies a note per signed-note §"Signatures": lines from unknown keys, i.e. no verifier with
 * the same name *and* key ID, are ignored; a known key's line is always checked and a failing one
 * rejects the whole note; the note is rejected unless at least one known key verified (all of
 * them with `requireAll`). Failures are `AppError('integrity_error')`.
 */
export function verifyNote(
  note: string,
  verifiers: readonly NoteVerifier[],
  options: VerifyNoteOptions = {},
): VerifiedNote {
  if (verifiers.length === 0) throw new TypeError('verifyNote needs at least one trusted verifier');
  const byKey = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const key = `${v.name} ${v.keyId >>> 0}`;
    if (byKey.has(key)) throw new TypeError(`ambiguous verifiers for key ${v.name}`);
    byKey.set(key, v);
  }
  const parsed = parseNote(note);
  const message = Buffer.from(parsed.text, 'utf8');
  const verified = new Map<string, NoteKeyRef>();
  for (const sig of parsed.signatures) {
    const key = `${sig.name} ${sig.keyId}`;
    const verifier = byKey.get(key);
    if (verifier === undefined) continue;
    if (!verifier.verify(message, sig.signature)) {
      throw new AppError(
        'integrity_error',
        'signed note: a signature from a trusted key is invalid',
        {
          detail: sig.name,
        },
      );
    }
    verified.set(key, { name: sig.name, keyId: sig.keyId });
  }
  if (verified.size === 0) {
    throw new AppError('integrity_error', 'signed note: no signature from a trusted key');
  }
  if (options.requireAll === true && verified.size !== byKey.size) {
    throw new AppError('integrity_error', 'signed note: a required key did not sign');
  }
  return { text: parsed.text, verifiedBy: [...verified.values()] };
}
