// VERIFY.md: how a compliance team checks a bundle with keyceremony, and with openssl and Python alone,
// including the script each ceremony ran.
import type { CeremonyJudgement } from './ceremony-kind.js';
import type { Manifest } from './manifest.js';

function scriptSection(ceremonies: readonly CeremonyJudgement[]): string {
  const lines = ceremonies.map((c) => {
    if (!c.judged || !c.script) return `- \`${c.ceremonyId}\`: started in an earlier bundle; its script is recorded there.`;
    const shipped = c.script.shippedIn.length > 0 ? `shipped with keyceremony ${c.script.shippedIn.join(', ')}` : 'NOT a script any keyceremony release shipped';
    return `- \`${c.ceremonyId}\`: script \`${c.script.name}\`, SHA-256 \`${c.script.sha256}\` (${shipped}); ${c.rehearsal ? 'a REHEARSAL' : 'recorded as a production ceremony'}; air gap: ${c.airGap}. Recorded in entry seq ${c.startSeq}.`;
  });
  return lines.join('\n');
}

/** The script file of this bundle's first judged ceremony, for the example command. */
const scriptFile = (ceremonies: readonly CeremonyJudgement[]) => `${ceremonies.find((c) => c.script)?.script?.name ?? 'init-token'}.yaml`;

export function verifyMarkdown(m: Omit<Manifest, 'files'>, ceremonies: readonly CeremonyJudgement[] = []): string {
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
- \`manifest.json\`: what this bundle holds and the SHA-256 of every other file (VERIFY.md included).
- \`manifest.json.sig\`: DER ECDSA-SHA384 signature of manifest.json by the audit key. Since manifest.json
  holds the digest of every other file, this signature covers the whole bundle.

## 1. With keyceremony

    keyceremony verify THIS-FOLDER [EARLIER-OR-LATER-BUNDLES...] --expect-audit-key audit-key-you-trust.pem

It checks every hash, prev link, seq and time, both signatures, the audit key against the genesis entry and
against \`--expect-audit-key\`, the manifest digests, that the bundles given together form one chain, the
custodian approvals, and what kind of ceremony each one was: the script it ran (one shipped with a
keyceremony release, or one you allow with \`--allow-script SHA256\`), rehearsal or production, and the air
gap recorded at its air-gap step. Exit status 0: integrity and policy hold (a production ceremony);
1: integrity is broken; 3: integrity holds but it is not an acceptable production ceremony (the report
says why; \`--allow-rehearsal\` accepts rehearsals).

## 2. With openssl alone

The signature over manifest.json (prints "Verified OK"):

    openssl dgst -sha384 -verify audit-public-key.pem -signature manifest.json.sig manifest.json

The digests of the other files; each must equal the \`sha256\` under "files" in manifest.json:

    openssl dgst -sha256 transcript.jsonl transcript.jsonl.sig audit-public-key.pem VERIFY.md

The signature over transcript.jsonl itself (prints "Verified OK"):

    openssl dgst -sha384 -verify audit-public-key.pem -signature transcript.jsonl.sig transcript.jsonl

The audit key must be the one you trust: compare its fingerprint with the one recorded at the key ceremony,

    openssl pkey -pubin -in audit-public-key.pem -outform DER | openssl dgst -sha256

which must print ${m.auditKey.spkiSha256}. If this bundle holds seq 0, the genesis entry's
\`data.auditKey.spki\` is the base64 of the same DER bytes.

## 3. The script each ceremony ran

Each ceremony's first entry in the chain (kind \`pre-genesis\` for init-token, \`pre-chain\` for a ceremony
on an enrolled token) records the SHA-256 of the exact script file in \`data.script.sha256\`, and its
first record, the \`ceremony-start\` (\`data.records[0].data\`), repeats it with \`rehearsal\` (true for a
rehearsal) and \`appVersion\`. The air-gap step's result is the entry (or record) with
\`data.action\` = \`check-airgap\`; \`data.offline\` says what it found.

${scriptSection(ceremonies) || '- (no ceremony starts in this bundle)'}

To check a script hash independently, take the script from the released keyceremony source of that
version (the git tag, or the \`ceremonies/\` folder of the release) and hash it:

    openssl dgst -sha256 ceremonies/${scriptFile(ceremonies)}

(or \`sha256sum ceremonies/${scriptFile(ceremonies)}\`); it must print the SHA-256 above. The hashes of every script
each release shipped are also listed in src-main/transcript/shipped-scripts.ts of the sources. To print
what the transcript records, with Python 3 alone:

\`\`\`sh
python3 - transcript.jsonl <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    records = e["data"]["records"] if e["kind"] in ("pre-genesis", "pre-chain") else []
    if records:
        start = records[0]["data"]
        print(e["seq"], e["ceremonyId"], e["data"]["script"]["name"], e["data"]["script"]["sha256"], "rehearsal" if start.get("rehearsal") else "production", start.get("appVersion"))
    for r in [e] + records:
        if r["kind"] == "result" and r["data"].get("action") == "check-airgap":
            print(e["seq"], e["ceremonyId"], "air gap offline:", r["data"].get("offline"))
PY
\`\`\`

## 4. Recompute the chain

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
