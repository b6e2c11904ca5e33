// The printable share sheet: the one paper copy of a custodian's share. It carries the share code and what
// the custodian needs to use it, nothing else secret (no passphrase, no PIN, no other custodian's share).
import { GROUP_LENGTH } from './share-code.js';

export interface ShareSheetInput {
  custodian: string;
  ceremonyId: string;
  /** The grouped share code from encodeShareCode(). */
  shareCode: string;
  index: number;
  threshold: number;
  custodianCount: number;
  tokenLabel?: string;
  /** ISO date of the ceremony, printed as given. */
  date?: string;
}

const GROUPS_PER_LINE = 3;

/** The code in lines of three groups, each line numbered with its first group, for reading aloud and typing. */
export function shareCodeLines(shareCode: string): string[] {
  const groups = shareCode.split('-');
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += GROUPS_PER_LINE) {
    const first = String(i + 1).padStart(2, ' ');
    lines.push(`${first}  ${groups.slice(i, i + GROUPS_PER_LINE).join('  -  ')}`);
  }
  return lines;
}

export function shareSheetInstructions(s: ShareSheetInput): string[] {
  return [
    `This is share ${s.index} of ${s.custodianCount}. Any ${s.threshold} of the ${s.custodianCount} custodians together unlock the token; fewer learn nothing.`,
    'Keep this sheet sealed, somewhere only you can reach. Do not photograph, scan, copy or type it into any other computer.',
    `At a quorum step, type the code into the ceremony app exactly as printed: ${GROUP_LENGTH}-character groups, case and dashes do not matter. The last character of each group is a check: the app says which group is mistyped.`,
    'Your share file on your USB stick holds the same share under your passphrase; either one works.',
    'If this sheet is lost, or someone else may have seen it, tell the ceremony administrator at once: the token must be re-initialized with new shares.',
  ];
}

function headerLines(s: ShareSheetInput): [string, string][] {
  const rows: [string, string][] = [
    ['Custodian', s.custodian],
    ['Ceremony', s.ceremonyId],
  ];
  if (s.tokenLabel !== undefined) rows.push(['Token', s.tokenLabel]);
  if (s.date !== undefined) rows.push(['Date', s.date]);
  rows.push(['Share', `${s.index} of ${s.custodianCount}, threshold ${s.threshold}`]);
  return rows;
}

export function renderShareSheetText(s: ShareSheetInput): string {
  const out = ['KEY CEREMONY SHARE SHEET: SECRET', ''];
  for (const [k, v] of headerLines(s)) out.push(`${`${k}:`.padEnd(11)}${v}`);
  out.push('', 'Share code:', '', ...shareCodeLines(s.shareCode).map((l) => `    ${l}`), '', 'Instructions:');
  shareSheetInstructions(s).forEach((line, i) => out.push(`${i + 1}. ${line}`));
  return `${out.join('\n')}\n`;
}

const escapeHtml = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained HTML page (no scripts, no external resources) for printing. */
export function renderShareSheetHtml(s: ShareSheetInput): string {
  const rows = headerLines(s)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const code = shareCodeLines(s.shareCode)
    .map((l) => `<div>${escapeHtml(l)}</div>`)
    .join('');
  const steps = shareSheetInstructions(s)
    .map((l) => `<li>${escapeHtml(l)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Share sheet: ${escapeHtml(s.custodian)}</title>
<style>body{font-family:sans-serif;margin:2cm}h1{font-size:18pt}th{text-align:left;padding-right:1em}
.code{font-family:monospace;font-size:20pt;letter-spacing:.1em;margin:1em 0;white-space:pre}</style>
</head><body>
<h1>Key ceremony share sheet: SECRET</h1>
<table>${rows}</table>
<div class="code">${code}</div>
<ol>${steps}</ol>
</body></html>
`;
}
