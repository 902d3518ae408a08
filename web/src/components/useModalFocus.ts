import { useEffect, useRef, type RefObject } from 'react';

/**
 * Keyboard behaviour of a modal dialog (WAI-ARIA APG "Dialog (Modal)"): focus starts on `initial`,
 * Tab and Shift+Tab stay inside `box`, Escape calls `onEscape`, and when the dialog goes the focus
 * returns to where it was (if that element is still on the page; otherwise the caller places it).
 */
export function useModalFocus(
  box: RefObject<HTMLElement | null>,
  initial: RefObject<HTMLElement | null>,
  onEscape: () => void,
  focusable = 'input, select, textarea, button:not([disabled])',
): void {
  const escape = useRef(onEscape);
  useEffect(() => {
    escape.current = onEscape;
  }, [onEscape]);
  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    initial.current?.focus();
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') {
        e.preventDefault();
        escape.current();
        return;
      }
      if (e.key !== 'Tab' || box.current === null) return;
      const inside = [...box.current.querySelectorAll<HTMLElement>(focusable)];
      const first = inside[0];
      const last = inside[inside.length - 1];
      if (first === undefined || last === undefined) return;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (before?.isConnected === true) before.focus();
    };
  }, [box, initial, focusable]);
}
