// A per-screen accessibility check: every visible control has an accessible name, every form
// field has a label, and Tab reaches every enabled control in the page (a radio group is one Tab
// stop; arrow keys move inside it). On top, axe-core (Deque's engine, the one Lighthouse and
// @axe-core/playwright run) checks the page against its WCAG 2.0/2.1 A and AA rules: labels, ARIA
// roles and attributes, contrast, landmarks, duplicate ids, names of lists and live regions.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

export interface A11yReport {
  unnamed: string[];
  unreachable: string[];
  controls: number;
  /** axe violations as "rule-id (impact): target, target…"; empty when the page passes. */
  violations: string[];
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// Evaluated through DevTools (page.evaluate), so the page's CSP (script-src 'self') does not apply.
const AXE_RUN = `(async () => {
  const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
  return r.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', ') + ' — ' + v.help);
})()`;

async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
  return (await page.evaluate(AXE_RUN)) as string[];
}

// Plain JavaScript in a string: functions handed to page.evaluate must not carry helpers a
// transpiler injects (tsx adds __name), so the in-page part is not TypeScript.
const SCAN = `(() => {
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '[' + (el.textContent || '').trim().slice(0, 30) + ']';
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && (r.width > 0 || r.height > 0 || cs.position === 'absolute');
  };
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label');
    if (aria && aria.trim()) return aria.trim();
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(/\\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent || '').join(' ').trim();
    if (el instanceof HTMLInputElement) return el.getAttribute('title') || '';
    return (el.textContent || '').trim() || el.getAttribute('title') || '';
  };
  const controls = [...document.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')].filter(visible);
  const unnamed = controls.filter((c) => !nameOf(c)).map(describe);
  const focusable = controls.filter((c) => !c.disabled);
  const units = [];
  const names = [];
  for (const c of focusable) {
    const unit = c instanceof HTMLInputElement && c.type === 'radio' ? 'radio:' + c.name : 'c' + units.length;
    c.setAttribute('data-a11y-idx', unit);
    if (!units.includes(unit)) { units.push(unit); names.push(describe(c)); }
  }
  if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
  return { unnamed, units, names };
})()`;

const FOCUSED = `(document.activeElement && document.activeElement.getAttribute('data-a11y-idx')) || null`;

export async function checkAccessibility(page: Page): Promise<A11yReport> {
  const scan = (await page.evaluate(SCAN)) as { unnamed: string[]; units: string[]; names: string[] };
  const reached = new Set<string>();
  for (let i = 0; i < scan.units.length * 2 + 5 && reached.size < scan.units.length; i++) {
    await page.keyboard.press('Tab');
    const idx = (await page.evaluate(FOCUSED)) as string | null;
    if (idx !== null) reached.add(idx);
  }
  const unreachable = scan.names.filter((_, i) => !reached.has(scan.units[i]!));
  const violations = await axeViolations(page);
  return { unnamed: scan.unnamed, unreachable, controls: scan.units.length, violations };
}
