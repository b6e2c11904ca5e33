// The engine-independent core of the KMS import (issue 5): parameters in, key material generated, checked
// and wrapped inside the token, the bundle out. The ceremony engine composes these in this order:
//   readImportParameters -> checkTokenCanWrap + checkTokenCanGenerate -> generateKmsKey ->
//   computeCheckValue -> wrapForKms -> exportImportBundle
export * from './types.js';
export { parseWrappingAlgorithm, parseKeySpec, checkAlgorithmForKeySpec, isAsymmetric, KMS_RULE_ERROR } from './rules.js';
export { readImportParameters, readRawImportParameters, finishImportParameters, type ImportParametersInput, type ImportParameterOptions, KMS_PARAMS_ERROR } from './params/index.js';
export { checkTokenCanGenerate, generateKmsKey, keyRecord, type GeneratedKmsKey, type KeyCheckWaivers, KEYGEN_ERROR, KEY_CHECK_ERROR } from './keygen.js';
export { aesCheckValueMethod, computeCheckValue, checkValueFromMac, checkValueFromSpki, ZERO_BLOCK, type AesCheckValueMethod, type CheckValue, type CheckValueMethod } from './kcv.js';
export { checkTokenCanWrap, wrapForKms, ENCRYPTED_KEY_MATERIAL_MAX, WRAP_ERROR, type WrapResult } from './wrap.js';
export { exportImportBundle, importCommand, importInstructions, EXPORT_ERROR, MANIFEST_FORMAT, type ImportBundleInput, type ExportedBundle, type ExportedFile } from './export.js';
export { tokenPublicKeySpki } from './spki.js';
export { KEY_SPECS } from './keyspecs.js';
export { findKmsKey, KEY_MISMATCH_ERROR } from './find.js';
