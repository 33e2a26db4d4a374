export * from './schemas/prefs.js';
export * from './schemas/status.js';
export * from './schemas/notify.js';
export * from './errors/errors.js';
export * from './contract/api.js';
