import { createHash } from 'node:crypto';
import type {
  S3GetObjectOutput,
  S3ListOutput,
  S3ObjectHead,
  S3ObjectPort,
  S3PutObjectInput,
} from '../../src/audit/index.js';

interface StoredObject {
  readonly body: Buffer;
  readonly checksum: string;
  readonly mode: string;
  readonly retainUntil: Date;
}

/**
 * An in-memory FAKE of the S3ObjectPort (not of S3, and not the AWS SDK adapter, which is a
 * follow-up): a bucket with Object Lock enabled. It honours what the target relies on:
 * If-None-Match: * refuses an existing key, Content-MD5 / x-amz-checksum-sha256 must match the
 * body, every PUT must carry COMPLIANCE mode with a future retain-until date, and a locked object
 * cannot be deleted before that date. `corrupt` simulates damage below the API, for tests.
 */
export class FakeObjectLockBucket implements S3ObjectPort {
  readonly objects = new Map<string, StoredObject>();
  readonly puts: S3PutObjectInput[] = [];
  constructor(
    readonly bucket: string,
    readonly now: () => Date = () => new Date(),
    readonly pageSize = 2,
  ) {}

  #check(bucket: string): void {
    if (bucket !== this.bucket) throw new Error('NoSuchBucket');
  }

  async putObject(input: S3PutObjectInput): Promise<'created' | 'exists'> {
    this.#check(input.Bucket);
    this.puts.push(input);
    const body = Buffer.from(input.Body);
    if (createHash('md5').update(body).digest('base64') !== input.ContentMD5)
      throw new Error('BadDigest');
    const checksum = createHash('sha256').update(body).digest('base64');
    if (checksum !== input.ChecksumSHA256) throw new Error('BadDigest (sha256)');
    const mode: string = input.ObjectLockMode; // the wire carries any string
    if (mode !== 'COMPLIANCE') throw new Error('InvalidRequest: lock mode');
    if (!(input.ObjectLockRetainUntilDate.getTime() > this.now().getTime())) {
      throw new Error('InvalidRequest: retain-until must be in the future');
    }
    const ifNoneMatch: string = input.IfNoneMatch;
    if (ifNoneMatch !== '*') throw new Error('this bucket policy requires If-None-Match');
    if (this.objects.has(input.Key)) return 'exists'; // 412 Precondition Failed
    this.objects.set(input.Key, {
      body,
      checksum,
      mode: input.ObjectLockMode,
      retainUntil: input.ObjectLockRetainUntilDate,
    });
    return 'created';
  }

  async headObject(input: { Bucket: string; Key: string }): Promise<S3ObjectHead | undefined> {
    this.#check(input.Bucket);
    const o = this.objects.get(input.Key);
    if (o === undefined) return undefined;
    return {
      ContentLength: o.body.length,
      ChecksumSHA256: o.checksum,
      ObjectLockMode: o.mode,
      ObjectLockRetainUntilDate: o.retainUntil,
    };
  }

  async getObject(input: { Bucket: string; Key: string }): Promise<S3GetObjectOutput | undefined> {
    const head = await this.headObject(input);
    const o = this.objects.get(input.Key);
    if (head === undefined || o === undefined) return undefined;
    return { ...head, Body: Buffer.from(o.body) };
  }

  async listObjectsV2(input: {
    Bucket: string;
    Prefix: string;
    ContinuationToken?: string;
  }): Promise<S3ListOutput> {
    this.#check(input.Bucket);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(input.Prefix)).sort();
    const start = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken);
    const page = keys.slice(start, start + this.pageSize);
    const next = start + this.pageSize < keys.length ? String(start + this.pageSize) : undefined;
    return { Keys: page, ...(next === undefined ? {} : { NextContinuationToken: next }) };
  }

  /** DeleteObject on a locked version: refused until retain-until (COMPLIANCE mode). */
  deleteObject(key: string): void {
    const o = this.objects.get(key);
    if (o !== undefined && o.retainUntil.getTime() > this.now().getTime()) {
      throw new Error('AccessDenied: object is locked in COMPLIANCE mode');
    }
    this.objects.delete(key);
  }

  /** Damage below the API (bit rot, a rogue storage admin): keeps the stored checksum. */
  corrupt(key: string, body: Buffer): void {
    const o = this.objects.get(key);
    if (o === undefined) throw new Error(`no ${key}`);
    this.objects.set(key, { ...o, body });
  }
}
