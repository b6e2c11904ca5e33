// The quorum toolkit the ceremony engine uses: one import for the public API. See docs/quorum.md.
export { checkQuorumShape, custodianNameProblem, CUSTODIAN_NAME_PATTERN, MAX_CUSTODIANS } from './custodians.js';
export { LABELS } from './kdf.js';
export { isWiped, wipe, withWiped } from './wipe.js';
export {
  binomial,
  combineShares,
  generateCeremonySecret,
  MAX_SUBSET_PROOFS,
  proveSubsets,
  SECRET_BYTES,
  secretCheck,
  secretMatchesCheck,
  SHARE_BYTES,
  shareX,
  splitSecret,
  subsets,
  type CustodianShare,
  type SubsetProof,
} from './secret.js';
export { DEFAULT_PIN_LENGTH, derivePins, deriveYubiHsmAuthPassword, MIN_DERIVED_PIN_LENGTH, pinLength, type PinLimits, type TokenPins } from './pins.js';
export {
  ceremonyBinding,
  CODE_LENGTH,
  decodeShareCode,
  decodeSharePayload,
  encodeShareCode,
  encodeSharePayload,
  ShareCodeError,
  type DecodedShare,
  type ShareCodeFields,
} from './share-code.js';
export {
  checkShareFileCeremony,
  createShareFile,
  DEFAULT_SCRYPT,
  isPlainShareFile,
  MIN_PASSPHRASE_LENGTH,
  openShareFile,
  parseShareFile,
  passphraseProblem,
  serializeShareFile,
  SHARE_FILE_EXTENSION,
  writeShareFileBytes,
  type OpenedShare,
  type ShareFile,
  type ShareForFile,
  type WriteOptions,
} from './share-file.js';
export { renderShareSheetHtml, renderShareSheetText, type ShareSheetInput } from './share-sheet.js';
export {
  approvalMessage,
  approvalPublicKey,
  approvalPublicKeyPem,
  deriveApprovalKey,
  signApproval,
  verifyApproval,
  type Approval,
  type ApprovalFields,
  type ApprovalKey,
} from './approval.js';
export {
  checkEnrolment,
  checkQuorum,
  enrolCustodians,
  identifyShare,
  QuorumCollector,
  type AddResult,
  type EnrolledCustodian,
  type Enrolment,
  type QuorumCheck,
  type StepContext,
} from './quorum.js';
