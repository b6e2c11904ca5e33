// The test stand-in for Electron's open dialogs (e2e harness, integration tests): a main-process Dialogs
// implementation the test drives. The test says what the person at the laptop would pick in the next
// dialog of each kind; the page can only press the button that opens it, exactly as in the app, and never
// hands main a path itself. Every dialog shown is logged with its purpose, so a test can check which
// dialog a button really opened.
import type { Dialogs } from '../../src-main/services.js';

export interface DialogAnswers {
  /** The PKCS#11 library picked in the module dialog. */
  path: string | null;
  folders: string[] | null;
  folder: string | null;
  shareFile: string | null;
  paramsFile: string | null;
}

export type DialogShown = 'module-file' | 'bundle-folders' | 'share-file' | 'import-parameters-file' | Parameters<Dialogs['chooseFolder']>[0];

export class DialogStandIn implements Dialogs {
  /** What the next dialog of each kind answers (null: the person cancels). */
  readonly answers: DialogAnswers = { path: null, folders: null, folder: null, shareFile: null, paramsFile: null };
  /** Every dialog main opened, in order. */
  readonly shown: DialogShown[] = [];

  async chooseModuleFile(): Promise<string | null> {
    this.shown.push('module-file');
    return this.answers.path;
  }

  async chooseBundleFolders(): Promise<string[] | null> {
    this.shown.push('bundle-folders');
    return this.answers.folders;
  }

  async chooseFolder(purpose: Parameters<Dialogs['chooseFolder']>[0]): Promise<string | null> {
    this.shown.push(purpose);
    return this.answers.folder;
  }

  async chooseShareFile(): Promise<string | null> {
    this.shown.push('share-file');
    return this.answers.shareFile;
  }

  async chooseImportParametersFile(): Promise<string | null> {
    this.shown.push('import-parameters-file');
    return this.answers.paramsFile;
  }
}
