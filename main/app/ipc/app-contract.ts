// The app shell's call table lives in common/contract/app.ts (the renderer validates with the same
// schemas); re-exported here for main's IPC code.
export * from '../../../common/contract/app.js';
