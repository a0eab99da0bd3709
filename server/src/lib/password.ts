import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt from node:crypto (argon2id would need a native addon). The KDF runs on libuv's
 * thread pool, so hashing never blocks the event loop. Hashes are self-describing PHC-style strings,
 * `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (unpadded base64), so the cost can be raised later and old hashes still
 * verify; `needsRehash` tells the caller when to upgrade one after a successful sign-in.
 */
export interface PasswordHashParameters {
  /** log2 of the CPU/memory cost N. 15 (N = 32768, 32 MiB per hash) is the production default. */
  readonly logCost: number;
  readonly blockSize: number;
  readonly parallelism: number;
}

export const defaultPasswordHashParameters: PasswordHashParameters = { logCost: 15, blockSize: 8, parallelism: 1 };

const saltBytes = 16;
const keyBytes = 32;
const encodedPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export async function hashPassword(
  password: string,
  parameters: PasswordHashParameters = defaultPasswordHashParameters,
): Promise<string> {
  const salt = randomBytes(saltBytes);
  const derived = await deriveKey(password, salt, keyBytes, parameters);
  const { logCost, blockSize, parallelism } = parameters;
  return `$scrypt$ln=${logCost},r=${blockSize},p=${parallelism}$${unpadded(salt)}$${unpadded(derived)}`;
}

/** Constant-time check of `password` against an encoded hash; a malformed hash never verifies. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseEncodedHash(encoded);
  if (!parsed) return false;
  const derived = await deriveKey(password, parsed.salt, parsed.hash.length, parsed.parameters);
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash);
}

/** Whether a stored hash was made with other parameters than the current ones (and should be replaced). */
export function needsRehash(encoded: string, parameters: PasswordHashParameters = defaultPasswordHashParameters) {
  const parsed = parseEncodedHash(encoded);
  return (
    !parsed ||
    parsed.parameters.logCost !== parameters.logCost ||
    parsed.parameters.blockSize !== parameters.blockSize ||
    parsed.parameters.parallelism !== parameters.parallelism
  );
}

function parseEncodedHash(
  encoded: string,
): { parameters: PasswordHashParameters; salt: Buffer; hash: Buffer } | undefined {
  const match = encodedPattern.exec(encoded);
  if (!match) return undefined;
  const [, logCost, blockSize, parallelism, salt, hash] = match;
  const parameters = { logCost: Number(logCost), blockSize: Number(blockSize), parallelism: Number(parallelism) };
  // Bounds keep a tampered row from asking for gigabytes of memory.
  if (parameters.logCost < 1 || parameters.logCost > 22 || parameters.blockSize < 1 || parameters.parallelism < 1) {
    return undefined;
  }
  return { parameters, salt: Buffer.from(salt ?? '', 'base64'), hash: Buffer.from(hash ?? '', 'base64') };
}

function deriveKey(
  password: string,
  salt: Buffer,
  length: number,
  { logCost, blockSize, parallelism }: PasswordHashParameters,
): Promise<Buffer> {
  const cost = 2 ** logCost;
  // scrypt needs 128·N·r·p bytes; Node refuses anything above maxmem (32 MiB by default), so leave headroom.
  const options: ScryptOptions = {
    N: cost,
    r: blockSize,
    p: parallelism,
    maxmem: 256 * cost * blockSize * parallelism,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, options, (error, derived) => {
      if (error) reject(error);
      else resolve(derived);
    });
  });
}

function unpadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
