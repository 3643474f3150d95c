#!/usr/bin/env node
// A linkage hub client in another language: Node, @grpc/grpc-js with the
// repo's .proto files (no generated code), and panva/jose to verify the seal.
//
//   node fetch_printout.mjs --hub 127.0.0.1:50051 --ca ca.pem --cert agency.pem \
//        --key agency.key --card officer.card.json --pin-file officer.pin \
//        --subject 1101700230708 [--doc-type dopa.person] [--purpose "..."] [--mode fetch|refused]
//   node fetch_printout.mjs --mode verify --ca ca.pem --jws-file printout.jws
//
// Every option may come from the environment instead: LINKAGE_HUB, LINKAGE_CA,
// LINKAGE_CERT, LINKAGE_KEY, LINKAGE_CARD, LINKAGE_PIN_FILE, LINKAGE_SUBJECT, LINKAGE_DOC_TYPE,
// LINKAGE_PURPOSE, LINKAGE_MODE, LINKAGE_PROTO_DIR, LINKAGE_JWS_FILE.
//
// The officer signs in first with their officer card (the linkage card file: a P-256 key in
// encrypted PKCS#8 PEM under the PIN, and its kid): BeginOfficerSignIn, the card signs the
// statement (ECDSA P-256 / SHA-256, DER), FinishOfficerSignIn; the fetch carries the session.
// (This reader does not keep the card's wrong-PIN count: the sandbox's own tools do.)
//
// --mode fetch (default): sign in, FetchDocument, then verify the printout against the
//   CA certificate alone; prints one JSON line
//   {"printout_id", "log_index", "subject_id", "officer_session", "verified": true}
//   or exits 1 with the reason on stderr.
// --mode refused: FetchDocument expecting the hub to refuse (e.g. a malformed
//   ID); prints one JSON line {"code", "code_name", "details", "reason",
//   "domain", "metadata"} decoded from the status and its google.rpc.ErrorInfo
//   detail (grpc-status-details-bin); exits 1 if the hub answered instead.
// --mode verify: no network; verify the compact JWS in --jws-file against the
//   CA certificate the same way; prints {"printout_id", "subject_id",
//   "verified": true} or exits 1.

import { X509Certificate, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, exportJWK, importX509 } from "jose";
import protobuf from "protobufjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const TYP = "linkage-printout+jws";
const TLS_EKUS = new Set(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]); // serverAuth, clientAuth
const DEADLINE_MS = 10_000;

class Refusal extends Error {}

function options() {
  const spec = {
    hub: "LINKAGE_HUB", ca: "LINKAGE_CA", cert: "LINKAGE_CERT", key: "LINKAGE_KEY",
    card: "LINKAGE_CARD", "pin-file": "LINKAGE_PIN_FILE", subject: "LINKAGE_SUBJECT", "doc-type": "LINKAGE_DOC_TYPE",
    purpose: "LINKAGE_PURPOSE", mode: "LINKAGE_MODE", "proto-dir": "LINKAGE_PROTO_DIR", "jws-file": "LINKAGE_JWS_FILE",
  };
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(spec).map((name) => [name, { type: "string" }])),
    strict: true,
  });
  const opts = Object.fromEntries(Object.entries(spec).map(([name, env]) => [name, values[name] ?? process.env[env]]));
  opts["doc-type"] ??= "dopa.person";
  opts.purpose ??= "interop test: Node client";
  opts.mode ??= "fetch";
  opts["proto-dir"] ??= resolve(HERE, "..", "..", "proto");
  if (!["fetch", "refused", "verify"].includes(opts.mode)) {
    throw new Refusal(`--mode must be fetch, refused or verify, not ${opts.mode}`);
  }
  const needed = opts.mode === "verify" ? ["ca", "jws-file"]
    : ["hub", "ca", "cert", "key", "card", "pin-file", "subject"];
  const missing = needed.filter((name) => !opts[name]);
  if (missing.length) throw new Refusal(`missing option(s): ${missing.map((m) => `--${m}`).join(", ")}`);
  return opts;
}

function hubClient(opts) {
  const definition = protoLoader.loadSync("linkage/v1/hub.proto", {
    includeDirs: [opts["proto-dir"]],
    keepCase: true, // field names as in the .proto (snake_case)
    longs: String, // uint64 log_index arrives as a decimal string
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const { LinkageHub } = grpc.loadPackageDefinition(definition).linkage.v1;
  const credentials = grpc.credentials.createSsl(
    readFileSync(opts.ca), readFileSync(opts.key), readFileSync(opts.cert));
  return new LinkageHub(opts.hub, credentials);
}

function call(client, method, request) {
  return new Promise((ok, fail) => {
    client[method](request, { deadline: Date.now() + DEADLINE_MS }, (err, answer) => (err ? fail(err) : ok(answer)));
  });
}

// The officer's sign-in with their card: the hub's statement, signed by the card's key, for a session.
async function signIn(client, opts) {
  const card = JSON.parse(readFileSync(opts.card, "utf8"));
  const pin = readFileSync(opts["pin-file"], "utf8").split("\n")[0].trim();
  const key = createPrivateKey({ key: card.key, format: "pem", passphrase: pin });
  const begun = await call(client, "BeginOfficerSignIn", { officer_id: card.officer_id });
  const signature = sign("sha256", begun.statement, { key, dsaEncoding: "der" });
  const done = await call(client, "FinishOfficerSignIn", { statement: begun.statement, kid: card.kid, signature });
  return { officer_id: done.officer_id, session: done.session, session_id: done.session_id };
}

function fetchDocument(client, opts, officer) {
  return call(client, "FetchDocument", {
    doc_type: opts["doc-type"], subject_id: opts.subject, purpose: opts.purpose,
    officer_id: officer.officer_id, officer_session: officer.session, case_ref: "INTEROP-NODE-0001",
  });
}

// google.rpc.Status and google.rpc.ErrorInfo, as in googleapis/google/rpc/{status,error_details}.proto.
const RPC = protobuf.parse(`
  syntax = "proto3";
  package google.rpc;
  message Any { string type_url = 1; bytes value = 2; }
  message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
  message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
`, { keepCase: true }).root;

function errorInfo(err) {
  const raw = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (!raw) return null;
  const status = RPC.lookupType("google.rpc.Status").decode(raw);
  const detail = status.details.find((d) => d.type_url === "type.googleapis.com/google.rpc.ErrorInfo");
  if (!detail) return null;
  return RPC.lookupType("google.rpc.ErrorInfo").toObject(RPC.lookupType("google.rpc.ErrorInfo").decode(detail.value));
}

function certFromX5c(text, i) {
  const der = Buffer.from(text, "base64");
  // x5c is standard base64 (RFC 7515 s4.1.6), not base64url: it must round-trip exactly.
  if (der.toString("base64") !== text) throw new Refusal(`x5c[${i}] is not standard base64`);
  return { der, cert: new X509Certificate(der) };
}

function pem(der) {
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g).join("\n")}\n-----END CERTIFICATE-----\n`;
}

// Verify a printout with nothing but the CA certificate file.
async function verifyPrintout(jws, caPath) {
  const header = decodeProtectedHeader(jws);
  if (header.alg !== "ES256") throw new Refusal(`alg must be ES256, got ${header.alg}`);
  if (header.typ !== TYP) throw new Refusal(`typ must be ${TYP}, got ${header.typ}`);
  if (typeof header.kid !== "string") throw new Refusal("kid missing");
  if (!Array.isArray(header.x5c) || header.x5c.length < 2) throw new Refusal("x5c must hold [seal, ..., CA]");
  const chain = header.x5c.map(certFromX5c);

  // The chain ends with exactly our CA certificate (byte for byte)...
  const ca = new X509Certificate(readFileSync(caPath));
  if (!chain.at(-1).der.equals(ca.raw)) {
    throw new Refusal(`x5c ends with ${chain.at(-1).cert.fingerprint256}, the CA file is ${ca.fingerprint256}`);
  }
  // ...and each certificate is issued and signed by the next one up.
  for (let i = 0; i < chain.length - 1; i++) {
    const [child, parent] = [chain[i].cert, chain[i + 1].cert];
    if (i > 0 && !child.ca) throw new Refusal(`x5c[${i}] is not a CA certificate`);
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new Refusal(`x5c[${i}] (${child.subject}) is not signed by x5c[${i + 1}] (${parent.subject})`);
    }
  }
  const seal = chain[0].cert;
  const ekus = seal.keyUsage ?? []; // Node names the extended key usage OIDs "keyUsage"
  if (ekus.some((oid) => TLS_EKUS.has(oid))) throw new Refusal("x5c[0] is a TLS certificate, not a seal");

  // The signature, by the seal certificate's key, ES256 only.
  const key = await importX509(pem(chain[0].der), "ES256");
  const { payload: bytes, protectedHeader } = await compactVerify(jws, key, { algorithms: ["ES256"] });
  if (protectedHeader.typ !== TYP) throw new Refusal(`typ must be ${TYP}`);
  const kid = await calculateJwkThumbprint(await exportJWK(key), "sha256");
  if (protectedHeader.kid !== kid) throw new Refusal(`kid ${protectedHeader.kid} is not the seal key's thumbprint ${kid}`);

  const printout = JSON.parse(new TextDecoder().decode(bytes));
  const issuedAt = new Date(printout.issued_at);
  if (Number.isNaN(issuedAt.getTime())) throw new Refusal(`issued_at ${printout.issued_at} is not a time`);
  if (issuedAt < new Date(seal.validFrom) || issuedAt > new Date(seal.validTo)) {
    throw new Refusal(`seal certificate valid ${seal.validFrom} to ${seal.validTo}, printout issued ${printout.issued_at}`);
  }
  return printout;
}

async function main() {
  const opts = options();
  if (opts.mode === "verify") {
    const printout = await verifyPrintout(readFileSync(opts["jws-file"], "utf8").trim(), opts.ca);
    console.log(JSON.stringify({ printout_id: printout.printout_id, subject_id: printout.subject_id, verified: true }));
    return;
  }
  const client = hubClient(opts);
  try {
    let officer;
    try {
      officer = await signIn(client, opts);
    } catch (err) {
      if (err.code === undefined) throw err;
      throw new Refusal(`the officer's sign-in failed: ${grpc.status[err.code]} (${err.code}) ${err.details}`);
    }
    if (opts.mode === "refused") {
      try {
        const answer = await fetchDocument(client, opts, officer);
        throw new Refusal(`expected a refusal, the hub answered with printout ${answer.printout_id}`);
      } catch (err) {
        if (err instanceof Refusal || err.code === undefined) throw err;
        const info = errorInfo(err);
        console.log(JSON.stringify({
          code: err.code, code_name: grpc.status[err.code], details: err.details,
          reason: info?.reason ?? null, domain: info?.domain ?? null, metadata: info?.metadata ?? null,
        }));
        return;
      }
    }
    let answer;
    try {
      answer = await fetchDocument(client, opts, officer);
    } catch (err) {
      if (err.code === undefined) throw err;
      const info = errorInfo(err);
      throw new Refusal(`FetchDocument failed: ${grpc.status[err.code]} (${err.code}) ${err.details}`
        + (info ? ` [reason ${info.reason}]` : ""));
    }
    const printout = await verifyPrintout(answer.jws, opts.ca);
    if (printout.printout_id !== answer.printout_id) {
      throw new Refusal(`printout_id ${printout.printout_id} in the seal, ${answer.printout_id} in the answer`);
    }
    if (printout.subject_id !== opts.subject) throw new Refusal(`printout is about ${printout.subject_id}`);
    if (printout.officer_session !== officer.session_id) {
      throw new Refusal(`the printout names session ${printout.officer_session}, not ${officer.session_id}`);
    }
    const logIndex = BigInt(answer.log_index);
    if (logIndex > BigInt(Number.MAX_SAFE_INTEGER)) throw new Refusal(`log_index ${logIndex} too large for JSON`);
    console.log(JSON.stringify({
      printout_id: printout.printout_id, log_index: Number(logIndex), subject_id: printout.subject_id,
      officer_session: printout.officer_session, verified: true,
    }));
  } finally {
    client.close();
  }
}

main().catch((err) => {
  console.error(`fetch_printout: ${err instanceof Refusal ? err.message : err.stack ?? err}`);
  process.exitCode = 1;
});
