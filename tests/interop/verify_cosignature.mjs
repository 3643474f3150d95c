// Checks the known-answer cosignature of tests/witness/vectors/cosignature-v1.json with Node's own crypto:
// an Ed25519 implementation and a reading of C2SP tlog-cosignature apart from linkage/cosignature.py.
// Usage: node verify_cosignature.mjs VECTORS.json   (prints JSON: what it found; exit 1 on a mismatch)
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

const v = JSON.parse(readFileSync(process.argv[2], "utf8"));
const [name, idHex, keyB64] = (() => {
  const first = v.witness_vkey.indexOf("+");
  const second = v.witness_vkey.indexOf("+", first + 1);
  return [v.witness_vkey.slice(0, first), v.witness_vkey.slice(first + 1, second), v.witness_vkey.slice(second + 1)];
})();
const key = Buffer.from(keyB64, "base64");
const keyId = createHash("sha256").update(Buffer.concat([Buffer.from(name + "\n"), key])).digest().subarray(0, 4);
const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: key.subarray(1).toString("base64url") },
                                    format: "jwk" });
const text = v.note.slice(0, v.note.indexOf("\n\n") + 1);
const line = v.cases.find((c) => c.want === "valid").line;
const blob = Buffer.from(line.trimEnd().split(" ").pop(), "base64");
const timestamp = blob.readBigUInt64BE(4);
const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`);
const result = {
  type: key[0],
  key_id_matches: keyId.toString("hex") === idHex && blob.subarray(0, 4).equals(keyId),
  timestamp: Number(timestamp),
  message_matches: message.toString() === v.signed_message,
  verifies: verify(null, message, publicKey, blob.subarray(12)),
};
console.log(JSON.stringify(result));
process.exit(result.type === 4 && result.key_id_matches && result.message_matches && result.verifies ? 0 : 1);
