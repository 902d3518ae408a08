import { describe, expect, it } from 'vitest';
import { sessionDevice } from './own-sessions.repository.js';

describe('sessionDevice: what a cookie session keeps of its device', () => {
  it('keeps a user agent and an IP address as given', () => {
    expect(sessionDevice({ userAgent: 'Firefox/133.0', ip: '192.0.2.7' })).toEqual({
      userAgent: 'Firefox/133.0',
      ip: '192.0.2.7',
    });
    expect(sessionDevice({ ip: '::ffff:192.0.2.7' }).ip).toBe('::ffff:192.0.2.7');
  });

  it('cuts the user agent to 256 printable characters, and drops an empty one', () => {
    const ua = sessionDevice({ userAgent: `A\u0007\n${'b'.repeat(300)}` }).userAgent;
    expect(ua).toBe(`A${'b'.repeat(255)}`);
    expect(sessionDevice({ userAgent: '\u0001\u0002' }).userAgent).toBeNull();
    expect(sessionDevice({}).userAgent).toBeNull();
    expect(sessionDevice(undefined)).toEqual({ userAgent: null, ip: null });
  });

  it('keeps only an address that is an IP address of at most 45 characters', () => {
    expect(sessionDevice({ ip: 'localhost' }).ip).toBeNull();
    expect(sessionDevice({ ip: '' }).ip).toBeNull();
    expect(sessionDevice({ ip: `fe80::1%${'x'.repeat(60)}` }).ip).toBeNull();
  });
});
