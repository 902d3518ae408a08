/**
 * Checks an audit inclusion proof in the browser (RFC 9162 §2.1.3.2) against the root hash of
 * the checkpoint the server sent with it. This shows whether the record is in the log the
 * checkpoint commits to; the checkpoint's signature is checked offline with the log's public key
 * (`scrip audit verify-proof`), which is why the proof is offered as a download.
 */
export interface InclusionBundle {
  readonly type: string;
  readonly origin: string;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash?: string;
  readonly leaf?: string;
  readonly proof: readonly string[];
  readonly checkpoint: string;
}

export type ProofCheck =
  | { readonly ok: true; readonly treeSize: number; readonly root: string }
  | { readonly ok: false; readonly why: string };

function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

export async function checkInclusion(b: InclusionBundle): Promise<ProofCheck> {
  try {
    const lines = b.checkpoint.split('\n');
    const size = Number(lines[1]);
    const root = fromBase64(lines[2] ?? '');
    if (lines[0] !== b.origin || size !== b.treeSize || root.length !== 32) {
      return { ok: false, why: 'the checkpoint does not match the proof' };
    }
    let leafHash: Uint8Array | undefined;
    if (b.leaf !== undefined) leafHash = await sha256(new Uint8Array([0]), fromBase64(b.leaf));
    if (b.leafHash !== undefined) {
      const stated = fromBase64(b.leafHash);
      if (leafHash !== undefined && !equal(leafHash, stated)) {
        return { ok: false, why: 'the record does not match its leaf hash' };
      }
      leafHash = stated;
    }
    if (leafHash === undefined) return { ok: false, why: 'the proof has no leaf' };
    if (b.leafIndex >= b.treeSize) return { ok: false, why: 'the record is beyond the tree' };
    let fn = b.leafIndex;
    let sn = b.treeSize - 1;
    let r = leafHash;
    const one = new Uint8Array([1]);
    for (const p of b.proof.map(fromBase64)) {
      if (sn === 0) return { ok: false, why: 'the proof is too long' };
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(one, p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await sha256(one, r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || !equal(r, root)) {
      return { ok: false, why: 'the proof does not lead to the checkpoint root' };
    }
    return { ok: true, treeSize: size, root: lines[2] ?? '' };
  } catch {
    return { ok: false, why: 'the proof is malformed' };
  }
}
