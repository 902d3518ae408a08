/**
 * Password policy for memorized secrets, after NIST SP 800-63B §5.1.1.2 (and §5.1.1.1 for the
 * subscriber side): length is what counts (at least 12 here, above the standard's floor of 8;
 * up to 256 accepted), no composition rules, and candidates are refused when they appear in a
 * list of commonly used or breached passwords, are repetitive or sequential, or contain
 * context-specific words such as the user's email or username.
 *
 * Length is counted in Unicode code points after NFKC normalisation (§5.1.1.2: "each Unicode code
 * point SHALL be counted as a single character"; normalise with NFKC or NFKD before hashing).
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../db/index.js';

/** Stable reason codes; an empty list means the password is acceptable. */
export type PasswordPolicyReason =
  'too_short' | 'too_long' | 'common' | 'contains_identifier' | 'invalid_characters';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** Context-specific words the password must not contain (SP 800-63B §5.1.1.2). */
export interface PasswordContext {
  readonly email?: string;
  readonly username?: string;
  /** Further words, e.g. the user's name or the organisation's name. */
  readonly words?: readonly string[];
}

/** Identifier fragments shorter than this are not checked: too many innocent matches. */
const MIN_IDENTIFIER_LENGTH = 3;
const MIN_SEGMENT_LENGTH = 4;

const LONE_SURROGATE_RE = /\p{Cs}/u;
const EDGE_NON_LETTERS_RE = /^[^\p{L}]+|[^\p{L}]+$/gu;
const SEPARATORS_RE = /[^\p{L}\p{N}]+/gu;

/** Common character substitutions undone before lookup ("p@ssw0rd" is "password"). */
const LEET: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
};

/** Runs that are sequential rather than chosen (SP 800-63B §5.1.1.2 "sequential characters"). */
const SEQUENCES: readonly string[] = (() => {
  const digits = '0123456789'.repeat(27);
  const letters = 'abcdefghijklmnopqrstuvwxyz'.repeat(11);
  const keyboard = 'qwertyuiopasdfghjklzxcvbnm'.repeat(11);
  const reverse = (s: string): string => Array.from(s).reverse().join('');
  return [digits, letters, keyboard].flatMap((s) => [s, reverse(s)]);
})();

let commonList: ReadonlySet<string> | undefined;

/**
 * The shipped list (src/identity/common-passwords.txt), read once on first use and cached. Call it
 * at start-up to take the file read off the first request.
 */
export function loadCommonPasswords(): ReadonlySet<string> {
  if (commonList !== undefined) return commonList;
  const text = readFileSync(packagePath('src', 'identity', 'common-passwords.txt'), 'utf8');
  const entries = new Set<string>();
  for (const line of text.split('\n')) {
    const entry = line.trim();
    if (entry.length > 0 && !entry.startsWith('#'))
      entries.add(entry.normalize('NFKC').toLowerCase());
  }
  commonList = entries;
  return entries;
}

function codePoints(text: string): number {
  return Array.from(text).length;
}

function stripEdges(text: string): string {
  return text.replace(EDGE_NON_LETTERS_RE, '');
}

function unleet(text: string): string {
  return Array.from(text, (ch) => LEET[ch] ?? ch).join('');
}

/** The shortest unit that the text repeats exactly (the text itself when it is not periodic). */
function repeatedUnit(text: string): string {
  for (let size = 1; size <= text.length / 2; size++) {
    if (text.length % size === 0 && text.slice(0, size).repeat(text.length / size) === text) {
      return text.slice(0, size);
    }
  }
  return text;
}

/**
 * True when the (NFKC, lower-cased) password is a listed password or a trivial transformation of
 * one: separators removed, digits and symbols stripped from either end, leetspeak undone, or the
 * same unit repeated; and when it is a run of repeated or sequential characters.
 */
function isCommon(lower: string, list: ReadonlySet<string>): boolean {
  const collapsed = lower.replace(SEPARATORS_RE, '');
  const bases = new Set<string>();
  for (const form of [lower, collapsed]) {
    for (const variant of [form, unleet(form)]) {
      bases.add(variant);
      bases.add(stripEdges(variant));
      bases.add(repeatedUnit(variant));
      bases.add(stripEdges(repeatedUnit(variant)));
    }
    bases.add(unleet(stripEdges(form)));
  }
  for (const base of bases) {
    if (base.length === 0) continue;
    if (list.has(base)) return true;
  }
  const unit = repeatedUnit(collapsed);
  if (unit.length > 0 && unit.length <= 4 && unit !== collapsed) return true;
  return collapsed.length > 0 && SEQUENCES.some((seq) => seq.includes(collapsed));
}

/** Lower-cased identifier fragments worth checking, from the context. */
function identifierFragments(context: PasswordContext): string[] {
  const fragments = new Set<string>();
  const add = (value: string, min: number): void => {
    const lower = value.normalize('NFKC').toLowerCase().trim();
    if (codePoints(lower) >= min) fragments.add(lower);
    const collapsed = lower.replace(SEPARATORS_RE, '');
    if (codePoints(collapsed) >= min) fragments.add(collapsed);
  };
  const addWithSegments = (value: string): void => {
    add(value, MIN_IDENTIFIER_LENGTH);
    for (const segment of value.split(/[^\p{L}\p{N}]+/u)) add(segment, MIN_SEGMENT_LENGTH);
  };
  if (context.email !== undefined) {
    add(context.email, MIN_IDENTIFIER_LENGTH);
    const at = context.email.lastIndexOf('@');
    if (at > 0) addWithSegments(context.email.slice(0, at));
  }
  if (context.username !== undefined) addWithSegments(context.username);
  for (const word of context.words ?? []) add(word, MIN_IDENTIFIER_LENGTH);
  return [...fragments];
}

/**
 * Checks a prospective password (at registration, reset or change) and returns every reason it is
 * refused, in a stable order; an empty list means it is acceptable. The password is judged in its
 * NFKC form, which is also the form that is hashed.
 */
export function checkPasswordPolicy(
  password: string,
  context: PasswordContext = {},
): readonly PasswordPolicyReason[] {
  if (LONE_SURROGATE_RE.test(password)) return ['invalid_characters'];
  const normalized = password.normalize('NFKC');
  const reasons: PasswordPolicyReason[] = [];
  const length = codePoints(normalized);
  if (length < PASSWORD_MIN_LENGTH) reasons.push('too_short');
  if (length > PASSWORD_MAX_LENGTH) {
    reasons.push('too_long');
    return reasons; // no point in scanning an over-long input further
  }
  const lower = normalized.toLowerCase();
  if (isCommon(lower, loadCommonPasswords())) reasons.push('common');
  const collapsed = lower.replace(SEPARATORS_RE, '');
  const fragments = identifierFragments(context);
  if (fragments.some((f) => lower.includes(f) || collapsed.includes(f))) {
    reasons.push('contains_identifier');
  }
  return reasons;
}
