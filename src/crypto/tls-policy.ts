/**
 * The TLS policy of Scrip's HTTPS listener (45 CFR 164.312(e)(1), (e)(2)): TLS 1.3 and 1.2 only;
 * 1.2 restricted to ECDHE key exchange with AEAD ciphers (no CBC, so no LUCKY13/BEAST class
 * findings). The HTTP layer applies it; the compliance controls read it.
 */
export const TLS_MIN_VERSION = 'TLSv1.2';
export const TLS_MAX_VERSION = 'TLSv1.3';

export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');
