/**
 * JSON shapes of WebAuthn ceremonies (W3C WebAuthn L3 §5.1 `toJSON()`, and the options JSON of
 * §5.4/§5.5): binary fields are base64url. Request bodies drop unknown fields; response schemas
 * list every field the browser needs and nothing else.
 */
import { Type } from '@sinclair/typebox';

const B64u = (maxLength: number): ReturnType<typeof Type.String> =>
  Type.String({ pattern: '^[A-Za-z0-9_-]*$', minLength: 1, maxLength });

const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 });
const ClientExtensions = Type.Object({}, { additionalProperties: false });

export const RegistrationResponse = Type.Object(
  {
    id: B64u(1400),
    rawId: B64u(1400),
    type: Type.Literal('public-key'),
    authenticatorAttachment: Type.Optional(
      Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]),
    ),
    clientExtensionResults: ClientExtensions,
    response: Type.Object(
      {
        clientDataJSON: B64u(4096),
        attestationObject: B64u(32768),
        transports: Type.Optional(Transports),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const AuthenticationResponse = Type.Object(
  {
    id: B64u(1400),
    rawId: B64u(1400),
    type: Type.Literal('public-key'),
    authenticatorAttachment: Type.Optional(
      Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]),
    ),
    clientExtensionResults: ClientExtensions,
    response: Type.Object(
      {
        clientDataJSON: B64u(4096),
        authenticatorData: B64u(4096),
        signature: B64u(1024),
        userHandle: Type.Optional(B64u(88)),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const Descriptor = Type.Object({
  id: Type.String(),
  type: Type.Literal('public-key'),
  transports: Type.Optional(Type.Array(Type.String())),
});

export const CreationOptions = Type.Object({
  rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
  challenge: Type.String(),
  pubKeyCredParams: Type.Array(Type.Object({ type: Type.String(), alg: Type.Integer() })),
  timeout: Type.Optional(Type.Integer()),
  excludeCredentials: Type.Optional(Type.Array(Descriptor)),
  authenticatorSelection: Type.Optional(
    Type.Object({
      authenticatorAttachment: Type.Optional(Type.String()),
      residentKey: Type.Optional(Type.String()),
      requireResidentKey: Type.Optional(Type.Boolean()),
      userVerification: Type.Optional(Type.String()),
    }),
  ),
  attestation: Type.Optional(Type.String()),
  hints: Type.Optional(Type.Array(Type.String())),
  extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) })),
});

export const RequestOptions = Type.Object({
  challenge: Type.String(),
  timeout: Type.Optional(Type.Integer()),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Descriptor)),
  userVerification: Type.Optional(Type.String()),
  hints: Type.Optional(Type.Array(Type.String())),
});

export const Passkey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  credentialId: Type.String(),
  aaguid: Type.String(),
  transports: Type.Array(Type.String()),
  backupEligible: Type.Boolean(),
  backedUp: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
