import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Secrets sealed with AES-256-GCM under the platform's key: a fresh 12-byte nonce per value, the
 * deployment id and secret name bound as associated data (a sealed value moved to another row
 * does not open), stored as nonce || ciphertext || tag.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** From 32 bytes given as base64 or hex. */
  static fromText(text: string): SecretBox {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
    if (key.length !== 32)
      throw new Error("The secrets key must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)");
    return new SecretBox(key);
  }

  /**
   * The key in `file`, made at the first start when none is given (one machine). Its loss makes
   * every stored secret unreadable: back it up with the database.
   */
  static async fromFile(file: string, create: boolean): Promise<SecretBox> {
    try {
      return SecretBox.fromText(await readFile(file, "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !create) throw err;
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" }).catch(
        (e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        },
      );
      await chmod(file, 0o600);
      return SecretBox.fromText(await readFile(file, "utf8"));
    }
  }

  seal(plain: string, deploymentId: string, name: string): Buffer {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    cipher.setAAD(Buffer.from(`${deploymentId}/${name}`));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  open(sealed: Buffer, deploymentId: string, name: string): string {
    const decipher = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${deploymentId}/${name}`));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString("utf8");
  }

  /** A value derived from the key for `label` (e.g. a deployment's database password), hex. */
  derive(label: string): string {
    return createHmac("sha256", this.key).update(label).digest("hex");
  }
}

/** What reads show of a secret: never the value; its last two characters when it is long enough to spare them. */
export const maskSecret = (value: string): string => (value.length > 8 ? `****${value.slice(-2)}` : "****");
