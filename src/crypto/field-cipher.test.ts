import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError, type Random } from '../core/index.js';
import {
  DataKeyUsage,
  decryptField,
  decryptFieldText,
  encryptField,
  FIELD_MIN_BYTES,
  fieldFromText,
  fieldToText,
  parseField,
  type DataKey,
  type DataKeyLookup,
  type FieldContext,
} from './field-cipher.js';

const ctx: FieldContext = {
  tenantId: '6f1c2a9e-0000-4000-8000-000000000001',
  table: 'patients',
  column: 'last_name',
  rowId: '0b7d1e44-0000-4000-8000-0000000000aa',
};
const key7: DataKey = { version: 7, key: Buffer.alloc(32, 0x42) };
const key8: DataKey = { version: 8, key: Buffer.alloc(32, 0x43) };
const SECRET = 'Zyxwvut-PHI-MARKER';

/** A tenant keyring: unknown versions are integrity errors, destroyed ones are `undefined`. */
function keyring(keys: DataKey[], destroyed: number[] = []): DataKeyLookup {
  return (version) => {
    if (destroyed.includes(version)) return undefined;
    const found = keys.find((k) => k.version === version);
    if (found === undefined) throw new AppError('integrity_error', 'unknown data key version');
    return found;
  };
}
const lookup = keyring([key7, key8]);

function fixedRandom(byte: number): Random {
  return { bytes: (n) => Buffer.alloc(n, byte), uuid: () => '' };
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appErr = err as AppError;
  expect(appErr.code).toBe(code);
  expect(appErr.message).not.toContain('PHI-MARKER');
  expect(String(appErr.detail)).not.toContain('PHI-MARKER');
  return appErr;
}

describe('encryptField / decryptField round trip', () => {
  it('round-trips strings, bytes and the empty value, as bytea and as text', async () => {
    for (const value of [SECRET, 'Ünïcødé 😂', '']) {
      const blob = encryptField(ctx, value, key7);
      expect(await decryptFieldText(ctx, blob, lookup)).toBe(value);
      expect(await decryptFieldText(ctx, fieldToText(blob), lookup)).toBe(value);
    }
    const bytes = Buffer.from([0, 1, 2, 255]);
    expect(await decryptField(ctx, encryptField(ctx, bytes, key8), lookup)).toEqual(bytes);
  });

  it('uses a fresh nonce each time, so equal values give different blobs', () => {
    const a = encryptField(ctx, SECRET, key7);
    const b = encryptField(ctx, SECRET, key7);
    expect(a.equals(b)).toBe(false);
  });
});

describe('wire format v1', () => {
  it('lays out version, key version, nonce, ciphertext, tag with the documented AAD', () => {
    const blob = encryptField(ctx, SECRET, key7, { random: fixedRandom(0x11) });
    expect(blob.byteLength).toBe(FIELD_MIN_BYTES + Buffer.byteLength(SECRET));
    expect(FIELD_MIN_BYTES).toBe(33);
    expect(blob.subarray(0, 5).toString('hex')).toBe('0100000007');
    expect(blob.subarray(5, 17)).toEqual(Buffer.alloc(12, 0x11));

    // Independent re-derivation straight from node:crypto pins the AAD encoding.
    const lp = (s: string): Buffer => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    };
    const aad = Buffer.concat([
      Buffer.from('scrip:field:v1\0'),
      Buffer.from('0100000007', 'hex'),
      lp(ctx.tenantId),
      lp(ctx.table),
      lp(ctx.column),
      lp(ctx.rowId),
    ]);
    const cipher = createCipheriv('aes-256-gcm', key7.key, Buffer.alloc(12, 0x11));
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(SECRET, 'utf8'), cipher.final()]);
    expect(blob.subarray(17).toString('hex')).toBe(
      Buffer.concat([ct, cipher.getAuthTag()]).toString('hex'),
    );

    const parsed = parseField(blob);
    expect(parsed.keyVersion).toBe(7);
    expect(parsed.ciphertext).toEqual(ct);
  });

  it('rejects every truncation and an appended byte', async () => {
    const blob = encryptField(ctx, 'abc', key7);
    for (let len = 0; len < blob.byteLength; len += 1) {
      await expectAppError(decryptField(ctx, blob.subarray(0, len), lookup), 'integrity_error');
    }
    const longer = Buffer.concat([blob, Buffer.from([0])]);
    await expectAppError(decryptField(ctx, longer, lookup), 'integrity_error');
  });

  it.each([0x00, 0x02, 0xff])('rejects unknown format version byte %i', async (version) => {
    const blob = encryptField(ctx, SECRET, key7);
    blob[0] = version;
    const err = await expectAppError(decryptField(ctx, blob, lookup), 'integrity_error');
    expect(err.detail).toBe('format_version');
  });

  it('rejects a flipped bit in every byte of the blob', async () => {
    const blob = encryptField(ctx, SECRET, key7);
    for (let i = 0; i < blob.byteLength; i += 1) {
      const copy = Buffer.from(blob);
      copy.writeUInt8(copy.readUInt8(i) ^ 0x01, i);
      await expectAppError(decryptField(ctx, copy, lookup), 'integrity_error');
    }
  });

  it('rejects non-canonical text forms', async () => {
    const text = fieldToText(encryptField(ctx, SECRET, key7));
    for (const bad of [`${text}=`, `${text} `, text.replace(/.$/, '+'), `${text}A`]) {
      await expectAppError(decryptField(ctx, bad, lookup), 'integrity_error');
    }
    // Same bytes, different trailing bits: only the canonical spelling is accepted.
    const short = fieldToText(Buffer.from([1, 2]));
    expect(short).toBe('AQI');
    expect(() => fieldFromText('AQJ')).toThrow(AppError);
  });
});

describe('AAD binding', () => {
  const moves: Array<[string, FieldContext]> = [
    ['another row', { ...ctx, rowId: '0b7d1e44-0000-4000-8000-0000000000ab' }],
    ['another column', { ...ctx, column: 'first_name' }],
    ['another table', { ...ctx, table: 'prescribers' }],
    ['another tenant', { ...ctx, tenantId: '6f1c2a9e-0000-4000-8000-000000000002' }],
  ];
  it.each(moves)('a ciphertext copied to %s fails with integrity_error', async (_, moved) => {
    const blob = encryptField(ctx, SECRET, key7);
    const err = await expectAppError(decryptField(moved, blob, lookup), 'integrity_error');
    expect(err.detail).toBe(`${moved.table}.${moved.column}`);
  });

  it('is unambiguous across part boundaries', async () => {
    const a = { ...ctx, table: 'ab', column: 'c' };
    const b = { ...ctx, table: 'a', column: 'bc' };
    await expectAppError(decryptField(b, encryptField(a, SECRET, key7), lookup), 'integrity_error');
  });

  it('rejects a wrong key under the right version number', async () => {
    const blob = encryptField(ctx, SECRET, key7);
    const impostor = keyring([{ version: 7, key: Buffer.alloc(32, 0x99) }]);
    await expectAppError(decryptField(ctx, blob, impostor), 'integrity_error');
  });
});

describe('key lookup', () => {
  it('reports a destroyed data key as shredded', async () => {
    const blob = encryptField(ctx, SECRET, key7);
    await expectAppError(decryptField(ctx, blob, keyring([key8], [7])), 'shredded');
  });

  it('passes the key version and tenant to the lookup and supports async lookups', async () => {
    const seen: Array<[number, string]> = [];
    const blob = encryptField(ctx, SECRET, key8);
    const value = await decryptFieldText(ctx, blob, async (version, tenantId) => {
      seen.push([version, tenantId]);
      return Promise.resolve(key8);
    });
    expect(value).toBe(SECRET);
    expect(seen).toEqual([[8, ctx.tenantId]]);
  });

  it('treats a lookup returning another version as programmer misuse', async () => {
    const blob = encryptField(ctx, SECRET, key7);
    await expect(decryptField(ctx, blob, () => key8)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('misuse', () => {
  it('throws TypeError for empty or non-UTF-16-well-formed context parts and bad keys', () => {
    expect(() => encryptField({ ...ctx, rowId: '' }, 'x', key7)).toThrow(TypeError);
    expect(() => encryptField({ ...ctx, column: 'a\ud800' }, 'x', key7)).toThrow(TypeError);
    expect(() => encryptField(ctx, 'lone \udc00', key7)).toThrow(TypeError);
    expect(() => encryptField(ctx, 'x', { version: -1, key: key7.key })).toThrow(TypeError);
    expect(() => encryptField(ctx, 'x', { version: 2 ** 32, key: key7.key })).toThrow(TypeError);
    expect(() => encryptField(ctx, 'x', { version: 1, key: Buffer.alloc(16) })).toThrow(TypeError);
  });

  it('refuses text that is not UTF-8 when asked for a string', async () => {
    const blob = encryptField(ctx, Buffer.from([0xc3, 0x28]), key7);
    await expectAppError(decryptFieldText(ctx, blob, lookup), 'integrity_error');
  });
});

describe('DataKeyUsage', () => {
  it('defaults to a 2^31 limit with rotation from 2^30', () => {
    const usage = new DataKeyUsage();
    expect(usage.limit).toBe(2 ** 31);
    expect(usage.rotateAt).toBe(2 ** 30);
    expect(usage.limit).toBeLessThan(2 ** 32);
    usage.restore(1, 2 ** 30 - 1);
    expect(usage.status(1).rotate).toBe(false);
    expect(usage.reserve(1).rotate).toBe(true);
  });

  it('signals rotation, then refuses past the limit without reserving', () => {
    const usage = new DataKeyUsage({ limit: 3, rotateAt: 2 });
    expect(usage.reserve(5)).toEqual({ used: 1, remaining: 2, rotate: false });
    expect(usage.reserve(5)).toEqual({ used: 2, remaining: 1, rotate: true });
    expect(() => usage.reserve(5, 2)).toThrow(AppError);
    expect(usage.reserve(5).remaining).toBe(0);
    expect(() => usage.reserve(5)).toThrow(AppError);
    expect(usage.status(6).used).toBe(0);
  });

  it('is enforced by encryptField when passed in', () => {
    const usage = new DataKeyUsage({ limit: 2 });
    encryptField(ctx, 'a', key7, { usage });
    encryptField(ctx, 'b', key7, { usage });
    let err: unknown;
    try {
      encryptField(ctx, 'c', key7, { usage });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).detail).toBe('data_key_exhausted');
    expect(encryptField(ctx, 'd', key8, { usage }).readUInt32BE(1)).toBe(8);
  });

  it('restore never lowers a count, and options are validated', () => {
    const usage = new DataKeyUsage({ limit: 10 });
    usage.reserve(1, 5);
    usage.restore(1, 2);
    expect(usage.status(1).used).toBe(5);
    expect(() => new DataKeyUsage({ limit: 2 ** 32 + 1 })).toThrow(TypeError);
    expect(() => new DataKeyUsage({ limit: 4, rotateAt: 5 })).toThrow(TypeError);
    expect(() => usage.reserve(1, 0)).toThrow(TypeError);
  });
});
