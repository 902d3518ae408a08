import { useState, type ReactNode } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import { PHI_TYPES } from './catalogs.js';

/**
 * The parts of the breach assessment the individual notice needs (45 CFR 164.404(c)): the kinds
 * of PHI involved and the notice content, and the draft letter the server assembles from them
 * (GET …/breach/letter: placeholders for each recipient, never stored or logged).
 */

export interface NoticeContent {
  readonly whatHappened: string;
  readonly stepsIndividualsShouldTake: string;
  readonly whatWeAreDoing: string;
  readonly contact: {
    readonly tollFreeNumber: string;
    readonly email?: string;
    readonly website?: string;
    readonly postalAddress?: string;
  };
}

export const NO_NOTICE: NoticeContent = {
  whatHappened: '',
  stepsIndividualsShouldTake: '',
  whatWeAreDoing: '',
  contact: { tollFreeNumber: '' },
};

/** The content as sent: null when nothing was written. */
export function noticeBody(n: NoticeContent): NoticeContent | null {
  const c = n.contact;
  const texts = [n.whatHappened, n.stepsIndividualsShouldTake, n.whatWeAreDoing];
  const contacts = [c.tollFreeNumber, c.email ?? '', c.website ?? '', c.postalAddress ?? ''];
  return [...texts, ...contacts].every((t) => t.trim() === '') ? null : n;
}

export function PhiTypeFields(props: {
  readonly value: readonly string[];
  readonly onChange: (v: readonly string[]) => void;
}): ReactNode {
  return (
    <fieldset>
      <legend>Kinds of PHI involved</legend>
      {PHI_TYPES.map(([key, label]) => (
        <label key={key} className="inline">
          <input
            type="checkbox"
            checked={props.value.includes(key)}
            onChange={(e) => {
              props.onChange(
                e.target.checked ? [...props.value, key] : props.value.filter((x) => x !== key),
              );
            }}
          />
          {label}
        </label>
      ))}
    </fieldset>
  );
}

export function NoticeFields(props: {
  readonly value: NoticeContent;
  readonly onChange: (v: NoticeContent) => void;
}): ReactNode {
  const n = props.value;
  const text = (
    label: string,
    value: string,
    max: number,
    set: (v: string) => NoticeContent,
    area = false,
  ): ReactNode => (
    <label>
      {label}
      {area ? (
        <textarea
          maxLength={max}
          value={value}
          onChange={(e) => {
            props.onChange(set(e.target.value));
          }}
        />
      ) : (
        <input
          maxLength={max}
          value={value}
          onChange={(e) => {
            props.onChange(set(e.target.value));
          }}
        />
      )}
    </label>
  );
  const contact = (change: Partial<NoticeContent['contact']>): NoticeContent => ({
    ...n,
    contact: { ...n.contact, ...change },
  });
  return (
    <fieldset>
      <legend>Individual notice content (164.404(c); no patient details)</legend>
      {text('What happened', n.whatHappened, 4000, (v) => ({ ...n, whatHappened: v }), true)}
      {text(
        'Steps individuals should take',
        n.stepsIndividualsShouldTake,
        4000,
        (v) => ({ ...n, stepsIndividualsShouldTake: v }),
        true,
      )}
      {text(
        'What we are doing',
        n.whatWeAreDoing,
        4000,
        (v) => ({ ...n, whatWeAreDoing: v }),
        true,
      )}
      {text('Toll-free number', n.contact.tollFreeNumber, 40, (v) =>
        contact({ tollFreeNumber: v }),
      )}
      {text('Contact e-mail', n.contact.email ?? '', 300, (v) => contact({ email: v }))}
      {text('Contact website', n.contact.website ?? '', 300, (v) => contact({ website: v }))}
      {text('Contact postal address', n.contact.postalAddress ?? '', 300, (v) =>
        contact({ postalAddress: v }),
      )}
    </fieldset>
  );
}

interface Letter {
  readonly subject: string;
  readonly body: string;
  readonly placeholders: readonly string[];
}

/** The draft individual notice, fetched on request (the server refuses when it cannot be made). */
export function NoticeLetter(props: { readonly incidentId: string }): ReactNode {
  const [letter, setLetter] = useState<Letter | undefined>(undefined);
  const action = useAction();
  const show = (): void => {
    void action.run(async () => {
      setLetter(await api.get<Letter>(fill(E.incidentLetter[1], { id: props.incidentId })));
    });
  };
  return (
    <div>
      {letter === undefined ? (
        <button type="button" className="secondary" disabled={action.busy} onClick={show}>
          Show the draft notice letter
        </button>
      ) : (
        <section aria-label="Draft notice letter" className="panel">
          <h3>{letter.subject}</h3>
          <pre className="letter">{letter.body}</pre>
          <p>Filled in per recipient: {letter.placeholders.join(', ')}</p>
        </section>
      )}
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Drafting the letter" />
      )}
    </div>
  );
}
