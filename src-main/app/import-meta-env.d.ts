// What Vite (electron-vite) defines on import.meta.env for the main-process bundle; see dev-mode.ts.
interface ImportMetaEnv {
  readonly DEV: boolean;
  readonly MODE: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
