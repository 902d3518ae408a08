import { useRef, type ReactNode } from 'react';
import { ErrorNote } from './status.js';
import { useModalFocus } from './useModalFocus.js';

/**
 * A modal confirmation of a consequential action (WAI-ARIA APG "Alert and Message Dialogs"):
 * role=alertdialog, labelled by its title and described by its text; focus starts on the safe
 * choice (keep), Tab stays inside, Escape closes, and focus returns to where it was when the
 * dialog closes without acting. A failed confirmation shows the error inside the dialog. The caller
 * decides whether closing is allowed while the action runs (`onClose`).
 */
export function ConfirmDialog(props: {
  readonly id: string;
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly keepLabel: string;
  readonly busy: boolean;
  readonly error: unknown;
  readonly onConfirm: () => void;
  readonly onClose: () => void;
}): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const keep = useRef<HTMLButtonElement>(null);
  // Buttons only: the confirm button is aria-disabled while busy and stays focusable.
  useModalFocus(box, keep, props.onClose, 'button');

  return (
    <div className="dialog-backdrop">
      <div
        ref={box}
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={`${props.id}-title`}
        aria-describedby={`${props.id}-text`}
      >
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        <div id={`${props.id}-text`}>{props.children}</div>
        <div className="actions">
          {/* aria-disabled, not disabled: a disabled button would drop the focus to the page. */}
          <button
            type="button"
            className="danger"
            aria-disabled={props.busy}
            onClick={() => {
              if (!props.busy) props.onConfirm();
            }}
          >
            {props.busy ? 'Working…' : props.confirmLabel}
          </button>
          <button ref={keep} type="button" className="secondary" onClick={props.onClose}>
            {props.keepLabel}
          </button>
        </div>
        {props.error === undefined ? null : <ErrorNote error={props.error} action="Not done" />}
      </div>
    </div>
  );
}
