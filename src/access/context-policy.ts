import { BlockList, isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../core/index.js';
import { isTimeZone, withinHours } from '../monitoring/time-zone.js';

/**
 * Context-aware access (45 CFR 164.312(a)(1); OWASP ASVS V4.1): per-tenant rules evaluated on
 * every authenticated request. Each rule names the roles it applies to (all roles when absent)
 * and what a failure means: `deny`, or `step_up` (a fresh second factor for `access.context`).
 */
const OnFail = Type.Union([Type.Literal('deny'), Type.Literal('step_up')]);
const Roles = Type.Array(Type.String({ pattern: '^[a-z_]{1,50}$' }), { maxItems: 20 });

export const ContextPolicySchema = Type.Object(
  {
    networks: Type.Optional(
      Type.Object(
        {
          allow: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 100 }),
          roles: Type.Optional(Roles),
          onFail: OnFail,
        },
        { additionalProperties: false },
      ),
    ),
    device: Type.Optional(
      Type.Object(
        { requireTrusted: Type.Literal(true), roles: Type.Optional(Roles), onFail: OnFail },
        { additionalProperties: false },
      ),
    ),
    hours: Type.Optional(
      Type.Array(
        Type.Object(
          {
            roles: Roles,
            timeZone: Type.String({ maxLength: 64 }),
            days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), {
              minItems: 1,
              maxItems: 7,
            }),
            start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }),
            end: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }),
            onFail: OnFail,
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ContextPolicy = Static<typeof ContextPolicySchema>;

/** Parses `a.b.c.d/len` or `v6::/len` strictly (a bare address is a /32 or /128). */
export function parseCidr(text: string): {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
} {
  const [address = '', len, extra] = text.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) {
    throw new AppError('validation_failed', `not a CIDR block: ${text}`, { detail: 'networks' });
  }
  const max = version === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (len !== undefined && !/^\d{1,3}$/.test(len)) {
    throw new AppError('validation_failed', `not a CIDR block: ${text}`, { detail: 'networks' });
  }
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new AppError('validation_failed', `bad prefix length: ${text}`, { detail: 'networks' });
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Validates a policy document; throws `validation_failed` naming the problem. */
export function checkContextPolicy(input: unknown): ContextPolicy {
  if (!Value.Check(ContextPolicySchema, input)) {
    const first = Value.Errors(ContextPolicySchema, input).First();
    throw new AppError('validation_failed', 'invalid context policy', {
      detail: first === undefined ? 'policy' : first.path || 'policy',
    });
  }
  for (const c of input.networks?.allow ?? []) parseCidr(c);
  for (const h of input.hours ?? []) {
    if (!isTimeZone(h.timeZone)) {
      throw new AppError('validation_failed', `unknown time zone ${h.timeZone}`, {
        detail: 'hours',
      });
    }
  }
  return input;
}

/** Request facts the rules look at. */
export interface RequestContext {
  readonly ip: string;
  readonly trustedDevice: boolean;
  readonly roles: readonly string[];
  readonly now: Date;
}

export interface ContextDecision {
  readonly decision: 'allow' | 'step_up' | 'deny';
  /** Stable reason codes (`network`, `device`, `hours:<role>`), no request values. */
  readonly reasons: readonly string[];
}

/** Strips the IPv4-mapped IPv6 form a dual-stack socket reports (`::ffff:10.0.0.1`). */
export function normaliseIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m?.[1] ?? ip;
}

function applies(ruleRoles: readonly string[] | undefined, roles: readonly string[]): boolean {
  return ruleRoles === undefined || roles.some((r) => ruleRoles.includes(r));
}

/** True when `ip` lies inside one of the CIDR blocks (matched as address ranges, not strings). */
export function inNetworks(ip: string, blocks: readonly string[]): boolean {
  const addr = normaliseIp(ip);
  const version = isIP(addr);
  if (version === 0) return false;
  const list = new BlockList();
  for (const b of blocks) {
    const c = parseCidr(b);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return list.check(addr, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Evaluates the policy; `deny` outranks `step_up`. A role-scoped hours rule constrains only the
 * users holding that role; a user holding several constrained roles must satisfy one of them.
 */
export function evaluateContext(policy: ContextPolicy, ctx: RequestContext): ContextDecision {
  const failures: { reason: string; onFail: 'deny' | 'step_up' }[] = [];
  const n = policy.networks;
  if (n !== undefined && applies(n.roles, ctx.roles) && !inNetworks(ctx.ip, n.allow)) {
    failures.push({ reason: 'network', onFail: n.onFail });
  }
  const d = policy.device;
  if (d !== undefined && applies(d.roles, ctx.roles) && !ctx.trustedDevice) {
    failures.push({ reason: 'device', onFail: d.onFail });
  }
  const hourRules = (policy.hours ?? []).filter((h) => applies(h.roles, ctx.roles));
  if (hourRules.length > 0 && !hourRules.some((h) => withinHours(ctx.now, h))) {
    const strict = hourRules.some((h) => h.onFail === 'deny');
    failures.push({ reason: 'hours', onFail: strict ? 'deny' : 'step_up' });
  }
  if (failures.length === 0) return { decision: 'allow', reasons: [] };
  const reasons = failures.map((f) => f.reason);
  return {
    decision: failures.some((f) => f.onFail === 'deny') ? 'deny' : 'step_up',
    reasons,
  };
}
