/**
 * Encrypted backup file format: a header carrying a fresh 256-bit backup key wrapped by the KEK
 * ({@link KeyProvider.wrap}), then the plaintext stream cut into chunks, each sealed with
 * AES-256-GCM (NIST SP 800-38D) in the STREAM construction of Hoang, Reyhanitabar, Rogaway and
 * Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015,
 * §7): nonce = 7-byte random prefix ‖ 32-bit chunk counter ‖ 1-byte last-chunk flag. The AAD of
 * every chunk also binds SHA-256 of the header, the counter and the flag, so a flipped byte,
 * truncation, extension, reordering, chunks swapped between files and header edits all fail
 * authentication. The last chunk carries no data, only a trailer: SHA-256 of the whole
 * plaintext and its length, checked again at the end (defence in depth, and a digest an
 * operator can log).
 *
 * Layout (integers big-endian):
 * ```
 * header: "SCRIPBAK" | version u8 = 1 | chunkSize u32 | noncePrefix[7] | wrappedLen u16 | wrapped
 * frame:  last u8 (0|1) | ciphertextLen u32 | ciphertext | tag[16]      (repeated, last = 1 once)
 * ```
 * Decryption releases a chunk's plaintext only after its tag verified. A consumer that must not
 * act on a prefix of a file (restore) verifies the whole file first, or works in a transaction
 * it rolls back when the stream errors.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, cryptoRandom, isAppError, type Random } from '../core/index.js';
import {
  AES_256_KEY_BYTES,
  aesGcmDecryptWithNonce,
  aesGcmEncryptWithNonce,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
} from './aes-gcm.js';
import { parseWrappedKey, type KeyProvider } from './key-provider.js';

/** File magic: identifies a Scrip backup before anything is parsed. */
export const BACKUP_MAGIC = Buffer.from('SCRIPBAK', 'ascii');
export const BACKUP_FORMAT_VERSION = 1;
/** Plaintext bytes per chunk unless a caller (tests) asks otherwise. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Bounds on the chunk size a file may declare, so a forged header cannot exhaust memory. */
export const MIN_CHUNK_SIZE = 16;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

const PREFIX_BYTES = 7;
const FIXED_HEADER_BYTES = BACKUP_MAGIC.length + 1 + 4 + PREFIX_BYTES + 2;
const MAX_WRAPPED_BYTES = 4096;
const FRAME_HEAD_BYTES = 5;
const TRAILER_BYTES = 32 + 8;
const MAX_CHUNKS = 0xffffffff;
const AAD_LABEL = Buffer.from('scrip/backup/v1', 'ascii');

/** What a finished encryptor or decryptor saw: the plaintext's length and SHA-256 (hex). */
export interface BackupDigest {
  readonly plaintextBytes: number;
  readonly plaintextSha256: string;
}

export interface BackupEncryptOptions {
  readonly chunkSize?: number;
  /** Source of the backup key and nonce prefix (node:crypto's CSPRNG by default). */
  readonly random?: Random;
}

function refuse(message: string, cause?: unknown): AppError {
  return new AppError('integrity_error', `backup refused: ${message}`, { cause });
}

/** Nonce per STREAM §7: prefix ‖ counter ‖ last flag (12 bytes, SP 800-38D §8.2.1). */
function chunkNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(GCM_NONCE_BYTES);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, PREFIX_BYTES);
  nonce.writeUInt8(last ? 1 : 0, PREFIX_BYTES + 4);
  return nonce;
}

function chunkAad(headerDigest: Buffer, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail.writeUInt8(last ? 1 : 0, 4);
  return Buffer.concat([AAD_LABEL, headerDigest, tail]);
}

function trailer(hash: Hash, bytes: number): Buffer {
  const length = Buffer.alloc(8);
  length.writeBigUInt64BE(BigInt(bytes));
  return Buffer.concat([hash.copy().digest(), length]);
}

function assertChunkSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_CHUNK_SIZE || size > MAX_CHUNK_SIZE) {
    throw new TypeError(`chunkSize must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`);
  }
}

/**
 * Plaintext in, backup file bytes out. Wraps a fresh backup key with the current KEK first, so a
 * provider failure surfaces before any byte is written.
 */
export async function createBackupEncryptor(
  keys: KeyProvider,
  options: BackupEncryptOptions = {},
): Promise<BackupEncryptor> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  assertChunkSize(chunkSize);
  const random = options.random ?? cryptoRandom;
  const key = random.bytes(AES_256_KEY_BYTES);
  const { wrapped, kekVersion } = await keys.wrap(key);
  if (wrapped.length > MAX_WRAPPED_BYTES) throw new TypeError('wrapped backup key is too long');
  const fixed = Buffer.alloc(FIXED_HEADER_BYTES);
  BACKUP_MAGIC.copy(fixed, 0);
  fixed.writeUInt8(BACKUP_FORMAT_VERSION, 8);
  fixed.writeUInt32BE(chunkSize, 9);
  const prefix = random.bytes(PREFIX_BYTES);
  prefix.copy(fixed, 13);
  fixed.writeUInt16BE(wrapped.length, 20);
  const encryptor = new BackupEncryptor(Buffer.concat([fixed, wrapped]), key, prefix, chunkSize);
  encryptor.kekVersion = kekVersion;
  return encryptor;
}

/** See {@link createBackupEncryptor}. `digest` is set once the stream has flushed. */
export class BackupEncryptor extends Transform {
  readonly #header: Buffer;
  readonly #headerDigest: Buffer;
  readonly #key: Buffer;
  readonly #prefix: Buffer;
  readonly #chunkSize: number;
  readonly #hash = createHash('sha256');
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #index = 0;
  #total = 0;
  #headerSent = false;
  digest: BackupDigest | undefined;
  /** The KEK version that wrapped this file's key. */
  kekVersion = 0;

  constructor(header: Buffer, key: Buffer, prefix: Buffer, chunkSize: number) {
    super();
    this.#header = header;
    this.#headerDigest = createHash('sha256').update(header).digest();
    this.#key = key;
    this.#prefix = prefix;
    this.#chunkSize = chunkSize;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#sendHeader();
      this.#hash.update(chunk);
      this.#total += chunk.length;
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      while (this.#pendingBytes >= this.#chunkSize) this.#sealPending(this.#chunkSize);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#sendHeader();
      if (this.#pendingBytes > 0) this.#sealPending(this.#pendingBytes);
      this.#seal(trailer(this.#hash, this.#total), true);
      this.digest = {
        plaintextBytes: this.#total,
        plaintextSha256: this.#hash.digest('hex'),
      };
      this.#key.fill(0);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.#key.fill(0);
    done(err);
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(this.#header);
  }

  #sealPending(length: number): void {
    const all = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending);
    if (all === undefined) return;
    this.#seal(all.subarray(0, length), false);
    const rest = all.subarray(length);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
  }

  #seal(plaintext: Buffer, last: boolean): void {
    if (this.#index > MAX_CHUNKS) throw new AppError('payload_too_large', 'backup is too large');
    const index = this.#index;
    this.#index += 1;
    const nonce = chunkNonce(this.#prefix, index, last);
    const sealed = aesGcmEncryptWithNonce(
      this.#key,
      nonce,
      plaintext,
      chunkAad(this.#headerDigest, index, last),
    );
    const head = Buffer.alloc(FRAME_HEAD_BYTES);
    head.writeUInt8(last ? 1 : 0, 0);
    head.writeUInt32BE(sealed.ciphertext.length, 1);
    this.push(Buffer.concat([head, sealed.ciphertext, sealed.tag]));
  }
}

/** Backup file bytes in, authenticated plaintext out; any defect is an `integrity_error`. */
export function createBackupDecryptor(keys: KeyProvider): BackupDecryptor {
  return new BackupDecryptor(keys);
}

/** See {@link createBackupDecryptor}. `digest` is set once the whole file verified. */
export class BackupDecryptor extends Transform {
  readonly #keys: KeyProvider;
  readonly #hash = createHash('sha256');
  #buffer: Buffer = Buffer.alloc(0);
  #parts: Buffer[] = [];
  #size = 0;
  #need = 0;
  #key: Buffer | undefined;
  #headerDigest: Buffer | undefined;
  #prefix: Buffer | undefined;
  #chunkSize = 0;
  #index = 0;
  #total = 0;
  #ended = false;
  digest: BackupDigest | undefined;

  constructor(keys: KeyProvider) {
    super();
    this.#keys = keys;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#parts.push(chunk);
    this.#size += chunk.length;
    if (this.#size < this.#need) {
      done(); // a frame is still incomplete: buffer without copying (no O(n²) concat)
      return;
    }
    this.#buffer = this.#parts.length === 1 ? chunk : Buffer.concat(this.#parts);
    this.#drain().then(
      () => {
        done();
      },
      (err: unknown) => {
        done(err as Error);
      },
    );
  }

  override _flush(done: TransformCallback): void {
    this.#buffer = Buffer.concat(this.#parts);
    this.#drain().then(
      () => {
        if (!this.#ended) {
          done(refuse('the file is truncated (no final chunk)'));
          return;
        }
        this.#key?.fill(0);
        done();
      },
      (err: unknown) => {
        done(err as Error);
      },
    );
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.#key?.fill(0);
    done(err);
  }

  async #drain(): Promise<void> {
    try {
      await this.#drainBuffer();
    } finally {
      this.#parts = this.#buffer.length > 0 ? [this.#buffer] : [];
      this.#size = this.#buffer.length;
    }
  }

  async #drainBuffer(): Promise<void> {
    this.#need = 0;
    if (this.#key === undefined && !(await this.#readHeader())) return;
    for (;;) {
      this.#need = 0;
      if (this.#buffer.length === 0) return;
      if (this.#ended) throw refuse('data after the final chunk');
      if (this.#buffer.length < FRAME_HEAD_BYTES) return;
      const flag = this.#buffer.readUInt8(0);
      const length = this.#buffer.readUInt32BE(1);
      if (flag > 1 || length > this.#chunkSize + TRAILER_BYTES) throw refuse('malformed chunk');
      const end = FRAME_HEAD_BYTES + length + GCM_TAG_BYTES;
      this.#need = end;
      if (this.#buffer.length < end) return;
      const ciphertext = this.#buffer.subarray(FRAME_HEAD_BYTES, FRAME_HEAD_BYTES + length);
      const tag = this.#buffer.subarray(FRAME_HEAD_BYTES + length, end);
      this.#buffer = this.#buffer.subarray(end);
      this.#open(ciphertext, tag, flag === 1);
    }
  }

  #open(ciphertext: Buffer, tag: Buffer, last: boolean): void {
    const key = this.#key;
    const prefix = this.#prefix;
    const headerDigest = this.#headerDigest;
    if (key === undefined || prefix === undefined || headerDigest === undefined) return;
    if (this.#index > MAX_CHUNKS) throw refuse('too many chunks');
    const index = this.#index;
    this.#index += 1;
    let plaintext: Buffer;
    try {
      plaintext = aesGcmDecryptWithNonce(
        key,
        chunkNonce(prefix, index, last),
        ciphertext,
        tag,
        chunkAad(headerDigest, index, last),
      );
    } catch (err) {
      throw refuse(`chunk ${index} failed authentication`, err);
    }
    if (!last) {
      this.#hash.update(plaintext);
      this.#total += plaintext.length;
      this.push(plaintext);
      return;
    }
    if (!plaintext.equals(trailer(this.#hash, this.#total))) {
      throw refuse('the plaintext digest does not match the trailer');
    }
    this.#ended = true;
    this.digest = { plaintextBytes: this.#total, plaintextSha256: this.#hash.digest('hex') };
  }

  /** Parses the header once it is complete; returns false while more bytes are needed. */
  async #readHeader(): Promise<boolean> {
    const buf = this.#buffer;
    const magicSeen = Math.min(buf.length, BACKUP_MAGIC.length);
    if (!buf.subarray(0, magicSeen).equals(BACKUP_MAGIC.subarray(0, magicSeen))) {
      throw refuse('not a Scrip backup file');
    }
    if (buf.length < FIXED_HEADER_BYTES) return false;
    if (buf.readUInt8(8) !== BACKUP_FORMAT_VERSION) throw refuse('unknown format version');
    const chunkSize = buf.readUInt32BE(9);
    const wrappedLength = buf.readUInt16BE(20);
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw refuse('malformed header');
    }
    if (wrappedLength > MAX_WRAPPED_BYTES) throw refuse('malformed header');
    const headerLength = FIXED_HEADER_BYTES + wrappedLength;
    if (buf.length < headerLength) return false;
    const header = buf.subarray(0, headerLength);
    let key: Buffer;
    try {
      key = await this.#keys.unwrap(parseWrappedKey(Buffer.from(header.subarray(22))));
    } catch (err) {
      if (isAppError(err) && err.code === 'unavailable') throw err;
      throw refuse('the backup key cannot be unwrapped (tampered header or unknown KEK)', err);
    }
    if (key.length !== AES_256_KEY_BYTES) throw refuse('the backup key has the wrong length');
    this.#key = key;
    this.#chunkSize = chunkSize;
    this.#prefix = Buffer.from(header.subarray(13, 13 + PREFIX_BYTES));
    this.#headerDigest = createHash('sha256').update(header).digest();
    this.#buffer = buf.subarray(headerLength);
    return true;
  }
}

/**
 * Reads and authenticates a whole backup file without keeping its plaintext; resolves to the
 * digest of the plaintext. Throws `integrity_error` on any defect.
 */
export async function verifyBackupFile(keys: KeyProvider, path: string): Promise<BackupDigest> {
  const decryptor = createBackupDecryptor(keys);
  const sink = new Writable({
    write(_chunk: Buffer, _encoding, done) {
      done();
    },
  });
  await pipeline(createReadStream(path), decryptor, sink);
  if (decryptor.digest === undefined) throw refuse('the file did not verify');
  return decryptor.digest;
}
