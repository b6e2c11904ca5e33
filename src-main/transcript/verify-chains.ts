// Bundles of several tokens given together: a key's life spans chains (the token it was generated in, the
// token it was restored into), and an auditor hands the verifier all of them at once. Each chain is one
// audit key; the bundles are grouped by the audit key their manifest names and each group is verified as
// one chain, with everything verifyLoaded checks. The grouping only partitions: a manifest that names
// another key than the one that signed it still fails its own group's checks.
import { loadBundle, MAX_BUNDLES, verifyBundles, verifyLoaded, type LoadedBundle, type VerifyOptions, type VerifyReport } from './verify.js';
import { FILES, parseManifest } from './manifest.js';

export interface ChainReport {
  /** SHA-256 of the audit key's SubjectPublicKeyInfo, as the bundles' manifests name it. */
  auditKeySpkiSha256: string;
  report: VerifyReport;
}

/** One report per chain; a single chain (or bundles whose manifests cannot say) is verified as one, as before. */
export async function verifyChains(paths: string[], options: VerifyOptions = {}): Promise<ChainReport[] | VerifyReport> {
  // An expected audit key means "every bundle is signed by this key": no grouping, a bundle of another chain fails.
  if (paths.length > MAX_BUNDLES || options.expectAuditKeyPem !== undefined) return verifyBundles(paths, options);
  const loaded: LoadedBundle[] = [];
  for (const path of paths) loaded.push(await loadBundle(path, options.caps));
  const groups = new Map<string, LoadedBundle[]>();
  for (const b of loaded) {
    const text = b.files.get(FILES.manifest);
    const parsed = text ? parseManifest(Buffer.from(text).toString('utf8')) : undefined;
    if (!parsed?.ok) return verifyLoaded(loaded, options);
    const key = parsed.value.auditKey.spkiSha256;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  if (groups.size <= 1) return verifyLoaded(loaded, options);
  const out: ChainReport[] = [];
  for (const [auditKeySpkiSha256, bundles] of groups) out.push({ auditKeySpkiSha256, report: await verifyLoaded(bundles, options) });
  return out;
}
