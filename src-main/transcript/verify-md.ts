// VERIFY.md: how a compliance team checks a bundle with keyceremony, and with openssl and Python alone.
import type { Manifest } from './manifest.js';

export function verifyMarkdown(m: Omit<Manifest, 'files'>): string {
  const ceremony = m.ceremony === null ? `ceremonies ${m.ceremonyIds.join(', ')}` : `ceremony \`${m.ceremony}\``;
  return `# Verifying this transcript bundle

This folder holds entries ${m.entries.first} to ${m.entries.last} (${m.entries.count} entries) of a keyceremony
transcript: ${ceremony}. The last entry's hash (the head) is

    ${m.head}

and the first entry's \`prev\` is

    ${m.prev}

${m.entries.first === 0 ? 'The first entry is the genesis entry: it names the token and the audit key.' : `The entries before seq ${m.entries.first} are in earlier bundles; the bundle holding seq ${m.entries.first - 1} must end with the hash above.`}
The format is specified in docs/transcript-format.md of the keyceremony sources.

## Files

- \`transcript.jsonl\`: one entry per line, each in RFC 8785 (JCS) canonical JSON, each line ending in "\\n".
- \`transcript.jsonl.sig\`: DER ECDSA signature with SHA-384 over the exact bytes of transcript.jsonl, made by
  the audit key inside the token.
- \`audit-public-key.pem\`: that audit key's public key (P-384, SubjectPublicKeyInfo).
- \`manifest.json\`: what this bundle holds and the SHA-256 of every other file.

## 1. With keyceremony

    keyceremony verify THIS-FOLDER [EARLIER-OR-LATER-BUNDLES...] --expect-audit-key audit-key-you-trust.pem

It checks every hash, prev link, seq and time, the signature, the audit key against the genesis entry and
against \`--expect-audit-key\`, the manifest digests, and that the bundles given together form one chain.
Exit status 0 means every check holds.

## 2. With openssl alone

The signature (prints "Verified OK"):

    openssl dgst -sha384 -verify audit-public-key.pem -signature transcript.jsonl.sig transcript.jsonl

The audit key must be the one you trust: compare its fingerprint with the one recorded at the key ceremony,

    openssl pkey -pubin -in audit-public-key.pem -outform DER | sha256sum

which must print ${m.auditKey.spkiSha256}. If this bundle holds seq 0, the genesis entry's
\`data.auditKey.spki\` is the base64 of the same DER bytes.

The manifest digests: \`sha256sum transcript.jsonl transcript.jsonl.sig audit-public-key.pem VERIFY.md\` must
print the values under "files" in manifest.json.

## 3. Recompute the chain

Each entry's \`hash\` is the SHA-256 (lowercase hex) of the JCS canonical JSON of the entry without its
\`hash\` member; \`prev\` is the previous entry's \`hash\` (64 zeros for seq 0); seq goes up by one; times
never go backwards. Entry data holds only strings, integers, booleans, null, arrays and objects, so
Python's \`json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)\` produces the JCS
bytes. With Python 3 and nothing else:

\`\`\`sh
python3 - transcript.jsonl <<'PY'
import hashlib, json, sys
prev, seq, time = "${m.prev}", None, ""
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    e = json.loads(line)
    canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canon(e) + "\\n" == line, f"line {n}: not canonical"
    h = e.pop("hash")
    assert hashlib.sha256(canon(e).encode()).hexdigest() == h, f"seq {e['seq']}: hash"
    assert e["prev"] == prev, f"seq {e['seq']}: prev"
    assert seq is None or e["seq"] == seq + 1, f"seq {e['seq']}: seq"
    assert e["time"] >= time, f"seq {e['seq']}: time"
    prev, seq, time = h, e["seq"], e["time"]
print("chain OK, head", prev)
PY
\`\`\`

It must print the head above.
`;
}
