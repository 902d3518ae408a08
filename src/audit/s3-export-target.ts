/**
 * An S3-compatible object store with Object Lock as a write-once export target.
 *
 * Every object is written with a conditional PUT (`If-None-Match: *`, so an existing key is never
 * replaced: S3 answers 412 Precondition Failed) and Object Lock in COMPLIANCE mode with a
 * retain-until date at least the audit retention period ahead (45 CFR 164.316(b)(2)(i)); in
 * compliance mode no user, root account included, can delete or overwrite a version before that
 * date. This is the storage model SEC Rule 17a-4(f) accepts as WORM. `Content-MD5` and
 * `x-amz-checksum-sha256` make the store itself reject bytes damaged in transit; reads are
 * checked against the stored SHA-256.
 *
 * The store is reached through {@link S3ObjectPort}, a minimal port shaped like the AWS SDK v3
 * `S3Client` commands. The SDK is not a dependency: the adapter that maps
 * `PutObjectCommand`/`HeadObjectCommand`/`GetObjectCommand`/`ListObjectsV2Command` onto this port
 * (412 and 409 ConditionalRequestConflict to `exists`, 404 NotFound/NoSuchKey to `undefined`) is
 * a follow-up; tests drive the target through an in-memory fake of the port.
 */
import { createHash } from 'node:crypto';
import { AppError, systemClock, type Clock } from '../core/index.js';
import {
  assertDigest,
  assertObjectName,
  objectConflict,
  sha256Hex,
  verifyRead,
  type ExportTarget,
  type ExportTargetInfo,
  type GetOptions,
  type PutOnceOptions,
} from './export-target.js';
import { retainUntil, type RetentionPolicy } from './retention-policy.js';

/** PutObject input, the subset of the SDK's `PutObjectCommandInput` this target uses. */
export interface S3PutObjectInput {
  readonly Bucket: string;
  readonly Key: string;
  readonly Body: Uint8Array;
  /** base64 MD5 of Body (RFC 1864), required by S3 for Object Lock PUTs. */
  readonly ContentMD5: string;
  /** base64 SHA-256 of Body. */
  readonly ChecksumSHA256: string;
  /** `*`: fail with 412 if the key exists. */
  readonly IfNoneMatch: '*';
  readonly ObjectLockMode: 'COMPLIANCE';
  readonly ObjectLockRetainUntilDate: Date;
}

export interface S3ObjectHead {
  readonly ContentLength: number;
  readonly ChecksumSHA256?: string;
  readonly ObjectLockMode?: string;
  readonly ObjectLockRetainUntilDate?: Date;
}

export interface S3GetObjectOutput extends S3ObjectHead {
  readonly Body: Uint8Array;
}

export interface S3ListOutput {
  readonly Keys: readonly string[];
  readonly NextContinuationToken?: string;
}

/** The S3 operations the target needs; the SDK adapter maps the SDK's errors onto these results. */
export interface S3ObjectPort {
  /** `created`, or `exists` when If-None-Match refused the write (HTTP 412/409). */
  putObject(input: S3PutObjectInput): Promise<'created' | 'exists'>;
  /** undefined when the key does not exist. */
  headObject(input: { Bucket: string; Key: string }): Promise<S3ObjectHead | undefined>;
  /** undefined when the key does not exist. */
  getObject(input: { Bucket: string; Key: string }): Promise<S3GetObjectOutput | undefined>;
  listObjectsV2(input: {
    Bucket: string;
    Prefix: string;
    ContinuationToken?: string;
  }): Promise<S3ListOutput>;
}

export interface S3ExportTargetOptions {
  readonly client: S3ObjectPort;
  readonly bucket: string;
  /** Key prefix inside the bucket, e.g. `scrip/audit/` (must end with `/` when not empty). */
  readonly keyPrefix?: string;
  /** Objects are locked until now + this policy's period. */
  readonly retention: RetentionPolicy;
  readonly clock?: Clock;
}

const b64 = (algorithm: string, bytes: Uint8Array): string =>
  createHash(algorithm).update(bytes).digest('base64');

/** The Object Lock target; see the module comment. */
export class S3ExportTarget implements ExportTarget {
  readonly #client: S3ObjectPort;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #retention: RetentionPolicy;
  readonly #clock: Clock;

  constructor(options: S3ExportTargetOptions) {
    const prefix = options.keyPrefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) throw new TypeError('keyPrefix must end with /');
    if (options.bucket.length === 0) throw new TypeError('bucket must not be empty');
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = prefix;
    this.#retention = options.retention;
    this.#clock = options.clock ?? systemClock;
  }

  describe(): ExportTargetInfo {
    const location = `s3://${this.#bucket}/${this.#prefix}`;
    return {
      kind: 's3',
      key: `s3:${location}`,
      location,
      worm: `S3 Object Lock COMPLIANCE, ${this.#retention.years} years, If-None-Match`,
    };
  }

  #key(name: string): string {
    assertObjectName(name);
    return this.#prefix + name;
  }

  async putOnce(name: string, bytes: Uint8Array, options: PutOnceOptions): Promise<void> {
    const Key = this.#key(name);
    assertDigest(name, bytes, options.sha256);
    const result = await this.#client.putObject({
      Bucket: this.#bucket,
      Key,
      Body: bytes,
      ContentMD5: b64('md5', bytes),
      ChecksumSHA256: b64('sha256', bytes),
      IfNoneMatch: '*',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: retainUntil(this.#retention, this.#clock.now()),
    });
    if (result === 'created') return;
    const existing = await this.#client.getObject({ Bucket: this.#bucket, Key });
    if (existing === undefined) {
      throw new AppError('unavailable', `export object ${name}: refused as existing, then absent`);
    }
    if (sha256Hex(existing.Body) !== options.sha256) throw objectConflict(name);
  }

  async get(name: string, options?: GetOptions): Promise<Buffer> {
    const out = await this.#client.getObject({ Bucket: this.#bucket, Key: this.#key(name) });
    if (out === undefined) throw new AppError('not_found', `export object ${name} not found`);
    const bytes = Buffer.from(out.Body);
    if (out.ChecksumSHA256 !== undefined && out.ChecksumSHA256 !== b64('sha256', bytes)) {
      throw new AppError(
        'integrity_error',
        `export object ${name} does not match its stored checksum`,
      );
    }
    return verifyRead(name, bytes, options);
  }

  /** Object Lock state of one object, for audits of the bucket configuration. */
  async lockOf(name: string): Promise<{ mode?: string; retainUntil?: Date } | undefined> {
    const head = await this.#client.headObject({ Bucket: this.#bucket, Key: this.#key(name) });
    if (head === undefined) return undefined;
    return {
      ...(head.ObjectLockMode === undefined ? {} : { mode: head.ObjectLockMode }),
      ...(head.ObjectLockRetainUntilDate === undefined
        ? {}
        : { retainUntil: head.ObjectLockRetainUntilDate }),
    };
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.listObjectsV2({
        Bucket: this.#bucket,
        Prefix: this.#prefix + prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      });
      for (const key of page.Keys) out.push(key.slice(this.#prefix.length));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return out.sort();
  }
}
