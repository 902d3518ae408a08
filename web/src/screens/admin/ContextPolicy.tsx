import { useEffect, useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { LoadState, useAction, useLoad } from '../../components/console.js';
import { useStepUp } from '../../components/StepUp.js';
import { ErrorNote } from '../../components/status.js';

interface PolicyAnswer {
  readonly version: number;
  readonly policy: Record<string, unknown> | null;
}

const EXAMPLE = {
  networks: { allow: ['10.0.0.0/8'], roles: ['prescriber'], onFail: 'deny' },
  hours: [
    {
      roles: ['prescriber_agent'],
      timeZone: 'America/New_York',
      days: [1, 2, 3, 4, 5],
      start: '07:00',
      end: '19:00',
      onFail: 'deny',
    },
  ],
};

/** The context policy in force (networks, device posture, hours per role); publish a new version. */
export function ContextPolicy(): ReactNode {
  const loaded = useLoad<PolicyAnswer>(E.contextPolicy[1]);
  const [text, setText] = useState('');
  const [parseError, setParseError] = useState<string | undefined>(undefined);
  const [published, setPublished] = useState<number | undefined>(undefined);
  const stepUp = useStepUp();
  const action = useAction();
  useEffect(() => {
    if (loaded.data !== undefined) setText(JSON.stringify(loaded.data.policy ?? EXAMPLE, null, 2));
  }, [loaded.data]);
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    setPublished(undefined);
    let body: unknown;
    try {
      body = JSON.parse(text);
      setParseError(undefined);
    } catch {
      setParseError('The policy is not valid JSON.');
      return;
    }
    void action.run(async () => {
      const r = await stepUp.run(() =>
        api.put<{ version: number }>(E.contextPolicyPublish[1], body),
      );
      setPublished(r.version);
      loaded.reload();
    });
  };
  return (
    <section>
      <h1>Context policy</h1>
      <LoadState loaded={loaded} what="the context policy">
        {(p) => (
          <>
            <p role="status">
              {p.policy === null
                ? 'No context policy is in force (version 0): every network, device and hour is allowed.'
                : `Version ${String(p.version)} is in force.`}
            </p>
            <form onSubmit={submit}>
              <label>
                Policy (JSON: networks, device, hours; each with roles and onFail)
                <textarea
                  className="code"
                  rows={16}
                  spellCheck={false}
                  value={text}
                  aria-describedby={parseError === undefined ? undefined : 'policy-parse-error'}
                  onChange={(e) => {
                    setText(e.target.value);
                  }}
                />
              </label>
              {parseError === undefined ? null : (
                <p id="policy-parse-error" className="note error" role="alert">
                  {parseError}
                </p>
              )}
              <button type="submit" disabled={action.busy}>
                Publish new version
              </button>
            </form>
          </>
        )}
      </LoadState>
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Publishing the policy" />
      )}
      {published === undefined ? null : (
        <p className="note ok" role="status">
          Version {published} published.
        </p>
      )}
      {stepUp.dialog}
    </section>
  );
}
