// Readers for the installer files, shared by the installer tests: the systemd unit (INI with
// systemd's word splitting for ExecStart), a macOS property list (plutil is macOS-only, so the XML
// is parsed here), electron-builder.yml, and where electron-builder puts the helper per platform.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../../e2e/renderer/paths.js';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(s: string): unknown };

export const root = repoRoot();
export const installerDir = join(root, 'assets', 'installer');

export type UnitFile = Record<string, Record<string, string[]>>;

/** systemd unit file: sections → key → every value (keys may repeat). Comments and blank lines dropped. */
export function parseUnit(text: string): UnitFile {
  const out: UnitFile = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] ??= {};
      continue;
    }
    const i = line.indexOf('=');
    if (i < 0 || !section) throw new Error(`unit: cannot parse line ${JSON.stringify(raw)}`);
    const k = line.slice(0, i).trim();
    (out[section]![k] ??= []).push(line.slice(i + 1).trim());
  }
  return out;
}

/** systemd's ExecStart splitting: whitespace-separated words, "double" and 'single' quotes. */
export function splitExecStart(value: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m; (m = re.exec(value)); ) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  // Leading special prefixes (-, @, +, !, :) are not part of the path.
  if (words[0]) words[0] = words[0].replace(/^[-@+!:]+/, '');
  return words;
}

export type PlistValue = string | number | boolean | PlistValue[] | { [k: string]: PlistValue };

/** A property list in Apple's XML format (dict, array, string, integer, real, true, false). */
export function parsePlist(xml: string): PlistValue {
  const body = xml
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  type Token = { text: string } | { close: boolean; name: string; empty: boolean };
  const tokens: Token[] = [...body.matchAll(/<(\/?)([a-z]+)(?:\s[^>]*?)?(\/?)>|([^<]+)/g)].map((m): Token => (m[4] !== undefined ? { text: m[4] } : { close: m[1] === '/', name: m[2]!, empty: m[3] === '/' }));
  let i = 0;
  const next = (): (typeof tokens)[number] => {
    // Whitespace between elements is not content.
    while (i < tokens.length && 'text' in tokens[i]! && !(tokens[i] as { text: string }).text.trim()) i++;
    const t = tokens[i++];
    if (!t) throw new Error('plist: unexpected end');
    return t;
  };
  const expectClose = (name: string): void => {
    const t = next();
    if ('text' in t || !t.close || t.name !== name) throw new Error(`plist: expected </${name}>`);
  };
  const textUntil = (name: string): string => {
    const t = tokens[i];
    let s = '';
    if (t && 'text' in t) {
      s = t.text;
      i++;
    }
    expectClose(name);
    return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  const value = (): PlistValue => {
    const t = next();
    if ('text' in t || t.close) throw new Error('plist: expected a value element');
    switch (t.name) {
      case 'true':
      case 'false':
        if (!t.empty) expectClose(t.name);
        return t.name === 'true';
      case 'string':
        return t.empty ? '' : textUntil('string');
      case 'integer':
      case 'real': {
        const n = Number(textUntil(t.name).trim());
        if (!Number.isFinite(n) || (t.name === 'integer' && !Number.isInteger(n))) throw new Error(`plist: bad ${t.name}`);
        return n;
      }
      case 'array': {
        const a: PlistValue[] = [];
        if (t.empty) return a;
        for (;;) {
          const save = i;
          const p = next();
          if (!('text' in p) && p.close && p.name === 'array') return a;
          i = save;
          a.push(value());
        }
      }
      case 'dict': {
        const d: Record<string, PlistValue> = {};
        if (t.empty) return d;
        for (;;) {
          const k = next();
          if (!('text' in k) && k.close && k.name === 'dict') return d;
          if ('text' in k || k.name !== 'key') throw new Error('plist: dict entries start with <key>');
          const key = textUntil('key');
          if (key in d) throw new Error(`plist: duplicate key ${key}`);
          d[key] = value();
        }
      }
      default:
        throw new Error(`plist: unsupported element <${t.name}>`);
    }
  };
  const open = next();
  if ('text' in open || open.name !== 'plist') throw new Error('plist: root element must be <plist>');
  const v = value();
  expectClose('plist');
  if (i < tokens.length && tokens.slice(i).some((t) => !('text' in t) || t.text.trim())) throw new Error('plist: content after </plist>');
  return v;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function builderConfig(): Record<string, any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Record<string, any>;
}

export interface ExtraResource {
  from: string;
  to: string;
  filter?: string[];
}

/** extraResources for one platform section: top level plus the platform's own (electron-builder merges them). */
export function extraResources(platform: 'linux' | 'mac' | 'win'): ExtraResource[] {
  const cfg = builderConfig();
  return [...((cfg.extraResources as ExtraResource[] | undefined) ?? []), ...((cfg[platform]?.extraResources as ExtraResource[] | undefined) ?? [])];
}

/** Where a file of dist/helper or assets lands inside resources/, per electron-builder's from/to mapping. */
export function resourcePathOf(platform: 'linux' | 'mac' | 'win', repoRelative: string): string | undefined {
  for (const r of extraResources(platform)) {
    if (repoRelative === r.from) return r.to;
    if (repoRelative.startsWith(r.from + '/')) return join(r.to, repoRelative.slice(r.from.length + 1));
  }
  return undefined;
}

/** electron-builder's FpmTarget writeConfigFile: ${letters} macros are expanded, an unknown one is an error. */
export function expandFpmTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([a-zA-Z]+)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`Macro ${name} is not defined`);
    return vars[name]!;
  });
}

/** The values electron-builder passes for this app (productName Meshtray, package name meshtray). */
export const FPM_VARS = { executable: 'meshtray', sanitizedProductName: 'Meshtray', productFilename: 'Meshtray' };
