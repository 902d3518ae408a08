import type { ReactNode } from 'react';

/**
 * The second-factor part of a sign-in form: the authenticator (TOTP) code, or a recovery code
 * when the box is ticked. Its state lives in the form that owns it.
 */
export function SecondFactorFields(props: {
  readonly code: string;
  readonly onCode: (code: string) => void;
  readonly useRecovery: boolean;
  readonly onUseRecovery: (useRecovery: boolean) => void;
  readonly required?: boolean;
}): ReactNode {
  return (
    <>
      <label>
        {props.useRecovery ? 'Recovery code' : 'Authenticator code'}
        <input
          type="text"
          name="code"
          inputMode={props.useRecovery ? 'text' : 'numeric'}
          autoComplete="one-time-code"
          required={props.required === true}
          value={props.code}
          onChange={(e) => {
            props.onCode(e.target.value);
          }}
        />
      </label>
      <label className="inline">
        <input
          type="checkbox"
          checked={props.useRecovery}
          onChange={(e) => {
            props.onUseRecovery(e.target.checked);
          }}
        />
        Use a recovery code instead
      </label>
    </>
  );
}
