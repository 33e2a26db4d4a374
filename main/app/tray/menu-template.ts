// MenuModel -> Electron's MenuItemConstructorOptions shape (plain objects, so testable without
// Electron). Clicks run the item's command; errors go to `onError` (shown in the window/log).
import type { MenuCommand, MenuItem, MenuModel } from './menu-model.js';

export interface MenuTemplateItem {
  id?: string;
  label?: string;
  type?: 'normal' | 'separator' | 'submenu' | 'checkbox' | 'radio';
  enabled?: boolean;
  checked?: boolean;
  click?: () => void;
  submenu?: MenuTemplateItem[];
}

export function toMenuTemplate(model: MenuModel, run: (cmd: MenuCommand) => Promise<void>, onError: (e: unknown) => void): MenuTemplateItem[] {
  const click = (cmd: MenuCommand) => () => {
    run(cmd).catch(onError);
  };
  const conv = (it: MenuItem): MenuTemplateItem => {
    switch (it.kind) {
      case 'label':
        return { id: it.id, label: it.label, enabled: false };
      case 'separator':
        return { id: it.id, type: 'separator' };
      case 'action':
        return { id: it.id, label: it.label, enabled: it.enabled, click: click(it.command) };
      case 'checkbox':
      case 'radio':
        return { id: it.id, label: it.label, type: it.kind, checked: it.checked, enabled: it.enabled, click: click(it.command) };
      case 'submenu':
        return { id: it.id, label: it.label, enabled: it.enabled, type: 'submenu', submenu: it.items.map(conv) };
    }
  };
  return model.items.map(conv);
}
