import { randomBytes, randomUUID } from 'node:crypto';

/** Randomness as a port (node:crypto's CSPRNG in production). */
export interface Random {
  bytes(length: number): Buffer;
  uuid(): string;
}

export const cryptoRandom: Random = {
  bytes: (length) => randomBytes(length),
  uuid: () => randomUUID(),
};
