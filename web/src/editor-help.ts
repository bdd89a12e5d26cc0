// The keyboard shortcut help: the "?" button in the workbench bar toggles
// the #keys table; Escape or a click elsewhere closes it.
import { byId } from './dom';

/** Wires the #keys-help button to the #keys table. */
export function installKeysHelp(): void {
  const button = byId('keys-help');
  const keys = byId('keys');
  const set = (open: boolean) => {
    keys.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  };
  button.addEventListener('click', (e) => {
    e.stopPropagation();
    set(keys.hidden !== false);
  });
  document.addEventListener('click', (e) => {
    if (!keys.hidden && !keys.contains(e.target as Node)) set(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !keys.hidden) set(false);
  });
}
