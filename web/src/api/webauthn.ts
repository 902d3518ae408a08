/**
 * WebAuthn ceremonies through the browser's JSON helpers (WebAuthn L3 §5.1.9:
 * parseCreationOptionsFromJSON / parseRequestOptionsFromJSON / toJSON): the server's options go
 * in as JSON and the credential comes back as JSON, no hand-written base64url code.
 */
interface JsonPublicKeyCredentialStatics {
  parseCreationOptionsFromJSON(o: unknown): PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON(o: unknown): PublicKeyCredentialRequestOptions;
}

interface JsonCredential {
  toJSON(): unknown;
}

function statics(): JsonPublicKeyCredentialStatics | undefined {
  if (typeof window.PublicKeyCredential === 'undefined') return undefined;
  const pkc = window.PublicKeyCredential as unknown as Partial<JsonPublicKeyCredentialStatics>;
  return typeof pkc.parseRequestOptionsFromJSON === 'function' &&
    typeof pkc.parseCreationOptionsFromJSON === 'function'
    ? (pkc as JsonPublicKeyCredentialStatics)
    : undefined;
}

export function passkeysSupported(): boolean {
  return statics() !== undefined;
}

function need(): JsonPublicKeyCredentialStatics {
  const s = statics();
  if (s === undefined) throw new Error('This browser does not support passkeys.');
  return s;
}

export async function passkeyAssertion(options: unknown): Promise<unknown> {
  const cred = await navigator.credentials.get({
    publicKey: need().parseRequestOptionsFromJSON(options),
  });
  if (cred === null) throw new Error('No passkey was chosen.');
  return (cred as unknown as JsonCredential).toJSON();
}

export async function passkeyCreation(options: unknown): Promise<unknown> {
  const cred = await navigator.credentials.create({
    publicKey: need().parseCreationOptionsFromJSON(options),
  });
  if (cred === null) throw new Error('No passkey was created.');
  return (cred as unknown as JsonCredential).toJSON();
}
