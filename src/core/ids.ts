/** Branded identifiers: a tenant id cannot be passed where a user id is expected. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type RequestId = Brand<string, 'RequestId'>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

export function asTenantId(value: string): TenantId {
  if (!isUuid(value)) throw new TypeError('tenant id must be a UUID');
  return value as TenantId;
}
