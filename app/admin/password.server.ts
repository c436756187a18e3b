import { hash, verify } from "@node-rs/argon2";

/**
 * argon2id password hashes (OWASP's recommended parameters: 19 MiB, 2 iterations, 1 lane).
 * @node-rs/argon2 ships prebuilt binaries inside its npm package, so it installs offline.
 */
// The library's default algorithm is argon2id.
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
