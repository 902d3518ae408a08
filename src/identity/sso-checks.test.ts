import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { idpProvedMfa } from './sso-checks.js';
import { validateSsoConfig, type SsoConfigInput } from './sso-config.service.js';

const base: SsoConfigInput = {
  issuer: 'https://idp.example',
  clientId: 'scrip',
  clientSecret: 's3cret',
  redirectUri: 'https://scrip.example/api/v1/auth/sso/callback',
  allowAutoCreate: false,
  defaultRole: 'staff',
  trustIdpMfa: true,
  trustedAmr: ['mfa', 'hwk'],
  trustedAcr: ['phr'],
  enabled: true,
};

function refusal(input: Partial<SsoConfigInput>, creating = true): string | undefined {
  try {
    validateSsoConfig({ ...base, ...input }, creating);
    return undefined;
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation_failed') return err.detail;
    throw err;
  }
}

describe('SSO configuration rules', () => {
  it('accepts a well-formed configuration', () => {
    expect(refusal({})).toBeUndefined();
    expect(refusal({ clientSecret: undefined }, false)).toBeUndefined();
  });

  it('requires https for issuer and redirect URI, the callback path, a secret on creation', () => {
    expect(refusal({ issuer: 'http://idp.example' })).toBe('issuer: must be an https:// URL');
    expect(refusal({ issuer: 'http://127.0.0.1:8080' })).toBe('issuer: must be an https:// URL');
    expect(refusal({ issuer: 'https://u:p@idp.example' })).toBe(
      'issuer: must carry no credentials',
    );
    expect(refusal({ redirectUri: 'http://scrip.example/api/v1/auth/sso/callback' })).toBe(
      'redirectUri: must be an https:// URL',
    );
    expect(refusal({ redirectUri: 'https://scrip.example/elsewhere' })).toMatch(/^redirectUri/);
    expect(refusal({ clientSecret: undefined })).toBe('clientSecret: required');
  });

  it('never auto-creates administrators; MFA trust needs named amr or acr values', () => {
    expect(refusal({ defaultRole: 'tenant_admin' })).toMatch(/^defaultRole/);
    expect(refusal({ defaultRole: 'nobody' })).toMatch(/^defaultRole/);
    expect(refusal({ trustedAmr: [], trustedAcr: [] })).toMatch(/^trustedAmr/);
    expect(refusal({ trustedAmr: ['bad value'] })).toBe('trustedAmr');
  });
});

describe('IdP MFA trust (RFC 8176 amr, acr)', () => {
  const p = { trustIdpMfa: true, trustedAmr: ['mfa', 'hwk'], trustedAcr: ['phr'] };
  it('counts only trusted values, and nothing when the tenant does not trust the IdP', () => {
    expect(idpProvedMfa(p, { amr: ['pwd', 'hwk'] })).toBe(true);
    expect(idpProvedMfa(p, { acr: 'phr' })).toBe(true);
    expect(idpProvedMfa(p, { amr: ['pwd'], acr: 'urn:basic' })).toBe(false);
    expect(idpProvedMfa(p, { amr: 'mfa' })).toBe(false);
    expect(idpProvedMfa(p, {})).toBe(false);
    expect(idpProvedMfa({ ...p, trustIdpMfa: false }, { amr: ['mfa'] })).toBe(false);
  });
});
