import { Type, type Static } from '@sinclair/typebox';

/**
 * The one schema for every setting. Each key is read from the environment (or the optional JSON
 * config file named by SCRIP_CONFIG_FILE; the environment wins), converted, then validated as a
 * whole. A bad value stops the start with a message naming the key. Secure defaults throughout.
 */
/** Per-schedule prescription limits an operator sets (JSON); see docs/prescribing.md. */
const scheduleLimits = (maxRefills: number | null) =>
  Type.Object(
    {
      ...(maxRefills === null
        ? {}
        : { maxRefills: Type.Optional(Type.Integer({ minimum: 0, maximum: maxRefills })) }),
      maxDaysSupply: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
      maxQuantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    },
    { additionalProperties: false },
  );
const RxLimitsSchema = Type.Object(
  {
    // Schedule II: no refills, ever (21 CFR 1306.12(a)); the key is refused, not just capped.
    CII: Type.Optional(scheduleLimits(null)),
    // Schedules III and IV: at most five refills (21 CFR 1306.22(a)).
    CIII: Type.Optional(scheduleLimits(5)),
    CIV: Type.Optional(scheduleLimits(5)),
    CV: Type.Optional(scheduleLimits(99)),
    none: Type.Optional(scheduleLimits(99)),
  },
  {
    additionalProperties: false,
    description:
      'Per-schedule limits (JSON), e.g. {"CII":{"maxDaysSupply":30},"CIV":{"maxRefills":2}}: maxRefills, maxDaysSupply, maxQuantity per CII, CIII, CIV, CV, none; unset fields keep the defaults (docs/prescribing.md).',
  },
);

export const ConfigSchema = Type.Object(
  {
    SCRIP_ENV: Type.Union(
      [Type.Literal('development'), Type.Literal('test'), Type.Literal('production')],
      { default: 'development', description: 'Deployment kind; production refuses demo data.' },
    ),
    SCRIP_DATA_DIR: Type.String({
      minLength: 1,
      default: './data',
      description: 'Private state: embedded database, TLS material, local keys (mode 0700).',
    }),
    DATABASE_URL: Type.Optional(
      Type.String({
        pattern: '^postgres(ql)?://',
        description:
          'External PostgreSQL 15+ (owner role: runs migrations). Unset: embedded PostgreSQL.',
      }),
    ),
    DATABASE_APP_URL: Type.Optional(
      Type.String({
        pattern: '^postgres(ql)?://',
        description:
          'Connection for the application role. Default: DATABASE_URL with SCRIP_DB_APP_USER.',
      }),
    ),
    SCRIP_DB_APP_USER: Type.String({
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      default: 'scrip_server',
      description: 'Login role the server uses; it owns no table and is subject to RLS.',
    }),
    SCRIP_DB_APP_PASSWORD: Type.Optional(
      Type.String({ minLength: 1, description: 'Password of SCRIP_DB_APP_USER (external DB).' }),
    ),
    SCRIP_DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
    SCRIP_DB_STATEMENT_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      default: 30_000,
    }),
    SCRIP_HOST: Type.String({
      minLength: 1,
      default: 'localhost',
      description: 'Address the HTTPS listener binds to (localhost binds 127.0.0.1 and ::1).',
    }),
    SCRIP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8443 }),
    SCRIP_PUBLIC_ORIGIN: Type.Optional(
      Type.String({ pattern: '^https://', description: 'External origin, e.g. for links.' }),
    ),
    SCRIP_TLS_CERT_FILE: Type.Optional(
      Type.String({ minLength: 1, description: "Operator's certificate chain (PEM)." }),
    ),
    SCRIP_TLS_KEY_FILE: Type.Optional(
      Type.String({ minLength: 1, description: "Operator's private key (PEM)." }),
    ),
    SCRIP_INSECURE_HTTP: Type.Boolean({
      default: false,
      description:
        'Serve plain HTTP for a TLS-terminating proxy in front. Never expose it directly.',
    }),
    SCRIP_TRUST_PROXY: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Proxy addresses/CIDRs whose X-Forwarded-For is trusted (comma list).',
      }),
    ),
    SCRIP_METRICS_PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 9464,
      description: 'Prometheus metrics on 127.0.0.1 only; 0 disables the listener.',
    }),
    SCRIP_BODY_LIMIT_BYTES: Type.Integer({
      minimum: 1024,
      maximum: 50 * 1024 * 1024,
      default: 1_048_576,
    }),
    SCRIP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
    SCRIP_KEY_PROVIDER: Type.Union([Type.Literal('local'), Type.Literal('pkcs11')], {
      default: 'local',
      description: 'Where the key-encryption key lives: local key files or a PKCS#11 HSM.',
    }),
    SCRIP_KEY_DIR: Type.Optional(
      Type.String({ minLength: 1, description: 'Local key directory (default <data dir>/keys).' }),
    ),
    SCRIP_KEK_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Operator-supplied KEK file (base64 of 32 bytes, 0600).',
      }),
    ),
    SCRIP_KEK_BASE64: Type.Optional(
      Type.String({ minLength: 1, description: 'Operator-supplied KEK (base64 of 32 bytes).' }),
    ),
    SCRIP_KEK_VERSION: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Version of the supplied KEK.',
    }),
    SCRIP_PKCS11_MODULE: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'PKCS#11 module path, e.g. /usr/lib/softhsm/libsofthsm2.so.',
      }),
    ),
    SCRIP_PKCS11_TOKEN_LABEL: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    SCRIP_PKCS11_PIN: Type.Optional(
      Type.String({ minLength: 1, description: 'User PIN (secret).' }),
    ),
    SCRIP_PKCS11_PIN_FILE: Type.Optional(
      Type.String({ minLength: 1, description: 'File holding the user PIN (0600).' }),
    ),
    SCRIP_KEY_MAX_AGE_DAYS: Type.Integer({
      minimum: 1,
      maximum: 3650,
      default: 365,
      description: 'Data keys older than this raise a rotation warning.',
    }),
    SCRIP_DEK_CACHE_TTL_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 300_000 }),
    SCRIP_KEY_REQUEST_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 168, default: 24 }),
    SCRIP_REQUIRE_FIPS: Type.Boolean({
      default: false,
      description: 'Refuse to start without a working OpenSSL FIPS provider.',
    }),
    SCRIP_AUDIT_ORIGIN: Type.String({
      pattern: '^[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)*$',
      default: 'localhost/scrip/audit',
      description: 'Checkpoint origin line (C2SP tlog-checkpoint): a stable name for this log.',
    }),
    SCRIP_AUDIT_CHECKPOINT_RECORDS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    SCRIP_AUDIT_CHECKPOINT_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
    SCRIP_SESSION_IDLE_MINUTES: Type.Integer({
      minimum: 1,
      maximum: 30,
      default: 15,
      description: 'Session idle timeout (NIST SP 800-63B AAL2: at most 30 minutes).',
    }),
    SCRIP_SESSION_ABSOLUTE_HOURS: Type.Integer({
      minimum: 1,
      maximum: 12,
      default: 12,
      description: 'Session absolute lifetime (AAL2: at most 12 hours).',
    }),
    SCRIP_CONTEXT_STEP_UP_MINUTES: Type.Integer({
      minimum: 1,
      maximum: 480,
      default: 60,
      description: 'How long a step-up satisfies context rules that demand one (access.context).',
    }),
    SCRIP_TRUSTED_DEVICE_DAYS: Type.Integer({
      minimum: 1,
      maximum: 365,
      default: 30,
      description: 'Lifetime of a trusted-device registration (device posture rules).',
    }),
    SCRIP_STALE_ACCOUNT_DAYS: Type.Integer({
      minimum: 7,
      maximum: 365,
      default: 90,
      description: 'Accounts unused this many days are disabled and reported (daily job).',
    }),
    SCRIP_INVITATION_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 168, default: 72 }),
    SCRIP_BOOTSTRAP_TTL_MINUTES: Type.Integer({ minimum: 5, maximum: 1440, default: 60 }),
    SCRIP_WEBAUTHN_RP_ID: Type.String({
      pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$',
      maxLength: 253,
      default: 'localhost',
      description: 'WebAuthn relying party id: the registrable domain passkeys are bound to.',
    }),
    SCRIP_WEBAUTHN_ORIGIN: Type.String({
      pattern:
        '^(https://[a-z0-9.-]+(:[0-9]{1,5})?|http://localhost(:[0-9]{1,5})?)(,(https://[a-z0-9.-]+(:[0-9]{1,5})?|http://localhost(:[0-9]{1,5})?))*$',
      maxLength: 1000,
      default: 'https://localhost:8443',
      description: 'Origins (comma-separated allow-list) WebAuthn ceremonies may come from.',
    }),
    SCRIP_WEBAUTHN_RP_NAME: Type.String({
      minLength: 1,
      maxLength: 100,
      default: 'Scrip',
      description: 'Relying party name shown by authenticators.',
    }),
    SCRIP_REGISTRY_PUBLIC_KEY_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Public key (PEM or JWK, EC P-256) that signs the NPI/DEA/licence registry file.',
      }),
    ),
    SCRIP_INTERACTIONS_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Operator-supplied drug-drug interaction table (CSV, docs/interactions.md) for the safety checks.',
      }),
    ),
    SCRIP_RX_LIMITS: Type.Optional(RxLimitsSchema),
    SCRIP_NETWORK_PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 0,
      description:
        'Inbound NCPDP SCRIPT listener (POST /ncpdp/script, mutual TLS; docs/network.md); 0 = off. Needs SCRIP_NETWORK_TLS_CERT_FILE, SCRIP_NETWORK_TLS_KEY_FILE and SCRIP_NETWORK_CA_FILE.',
    }),
    SCRIP_NETWORK_TLS_CERT_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Server certificate of the network listener (PEM).',
      }),
    ),
    SCRIP_NETWORK_TLS_KEY_FILE: Type.Optional(
      Type.String({ minLength: 1, description: 'Private key of the network listener (PEM).' }),
    ),
    SCRIP_NETWORK_CA_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'CA certificate(s) (PEM) of the pharmacy network: issue the client certificates the listener accepts and the server certificates the outbox worker connects to.',
      }),
    ),
    SCRIP_NETWORK_PEER_PINS: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9+/]{43}=(,[A-Za-z0-9+/]{43}=){0,15}$',
        description:
          'SPKI SHA-256 pins (comma list) of the peers allowed to connect to the listener (the switch, direct partners). Unset: any client certificate from SCRIP_NETWORK_CA_FILE.',
      }),
    ),
    SCRIP_NETWORK_LEASE_SECONDS: Type.Integer({
      minimum: 30,
      maximum: 3600,
      default: 120,
      description:
        'How long an outbox worker holds a claimed message; a crashed worker’s messages go again after it (at least twice the 15 s send timeout).',
    }),
    SCRIP_NETWORK_DEADLINE_HOURS: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 24,
      description:
        'How long the outboxes keep trying to send a message; past it a NewRx fails to the DEA 1311.170 print path.',
    }),
    SCRIP_NETWORK_BACKOFF_BASE_MS: Type.Integer({
      minimum: 100,
      maximum: 3_600_000,
      default: 5_000,
      description: 'First retry delay of the network outboxes (doubling, full jitter).',
    }),
    SCRIP_NETWORK_BACKOFF_MAX_MS: Type.Integer({
      minimum: 100,
      maximum: 86_400_000,
      default: 900_000,
      description: 'Longest retry delay of the network outboxes (at least the base).',
    }),
    SCRIP_NETWORK_WORKER_INTERVAL_MS: Type.Integer({
      minimum: 100,
      maximum: 600_000,
      default: 1_000,
      description: 'How often the network outbox workers look for due messages.',
    }),
    SCRIP_AUDIT_EXPORT_DIR: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Write-once export of sealed audit segments (files 0444).',
      }),
    ),
    SCRIP_AUDIT_WITNESS_DIR: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Second location holding a copy of every exported checkpoint.',
      }),
    ),
    SCRIP_AUDIT_RETENTION_YEARS: Type.Integer({
      minimum: 6,
      maximum: 100,
      default: 6,
      description:
        'Audit records are kept at least this long (45 CFR 164.316(b)(2)(i): six years).',
    }),
    SCRIP_ALERT_WEBHOOK_URL: Type.Optional(
      Type.String({
        pattern: '^https://',
        description: 'Alerts are POSTed here, signed with HMAC-SHA-256.',
      }),
    ),
    SCRIP_ALERT_WEBHOOK_SECRET: Type.Optional(
      Type.String({
        minLength: 32,
        description: 'HMAC key for alert webhooks (secret, 32+ characters).',
      }),
    ),
    // The network switch (`scrip switch`, docs/switch.md); its database is this process's own
    // DATABASE_URL (or embedded database in SCRIP_DATA_DIR).
    SCRIP_SWITCH_HOST: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description: 'Address the switch listener binds to.',
    }),
    SCRIP_SWITCH_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9443 }),
    SCRIP_SWITCH_ID: Type.String({
      pattern: '^[A-Za-z0-9._:-]{1,35}$',
      default: 'SCRIP-SWITCH',
      description: 'The switch mailbox id (Header From, qualifier M) in its Status/Error answers.',
    }),
    SCRIP_SWITCH_TLS_CERT_FILE: Type.Optional(
      Type.String({ minLength: 1, description: 'Switch server certificate chain (PEM).' }),
    ),
    SCRIP_SWITCH_TLS_KEY_FILE: Type.Optional(
      Type.String({ minLength: 1, description: 'Switch server private key (PEM).' }),
    ),
    SCRIP_SWITCH_CLIENT_CERT_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Client certificate the switch presents when forwarding (default: the server one).',
      }),
    ),
    SCRIP_SWITCH_CLIENT_KEY_FILE: Type.Optional(
      Type.String({ minLength: 1, description: 'Private key of SCRIP_SWITCH_CLIENT_CERT_FILE.' }),
    ),
    SCRIP_SWITCH_CLIENT_CA_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description: "CA (PEM) issuing participants' client certificates.",
      }),
    ),
    SCRIP_SWITCH_PEER_CA_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description: "CA (PEM) issuing participants' server certificates (default: the client CA).",
      }),
    ),
    SCRIP_SWITCH_DEADLINE_HOURS: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 24,
      description:
        'How long the switch keeps trying to deliver a message (and to relay its answer).',
    }),
    SCRIP_SWITCH_BACKOFF_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 2000 }),
    SCRIP_SWITCH_BACKOFF_MAX_MS: Type.Integer({
      minimum: 10,
      maximum: 86_400_000,
      default: 300_000,
    }),
    SCRIP_LOCAL_SWITCH: Type.Union([Type.Literal('on'), Type.Literal('off')], {
      default: 'off',
      description: '`scrip serve` also runs a local switch (same SCRIP_SWITCH_* settings).',
    }),
    SCRIP_LOCAL_NETWORK: Type.Union(
      [Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')],
      {
        default: 'auto',
        description:
          '`scrip serve` runs the one-machine network (docs/network.md "One machine"): certificates from the local CA in SCRIP_DATA_DIR/network, the network listener and a local switch on loopback. auto: on for the embedded database outside production. Refused in production.',
      },
    ),
    SCRIP_LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** Keys whose values are secrets: masked by `scrip config`, never logged. */
export const SECRET_KEYS: ReadonlySet<keyof Config> = new Set<keyof Config>([
  'SCRIP_DB_APP_PASSWORD',
  'SCRIP_KEK_BASE64',
  'SCRIP_PKCS11_PIN',
  'SCRIP_ALERT_WEBHOOK_SECRET',
]);

/** Keys that hold connection strings: their password part is masked. */
export const URL_KEYS: ReadonlySet<keyof Config> = new Set<keyof Config>([
  'DATABASE_URL',
  'DATABASE_APP_URL',
]);
