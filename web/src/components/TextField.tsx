import type { InputHTMLAttributes, ReactNode } from 'react';

/**
 * A labelled input whose value lives in the caller's state: the label wraps the input (so it is
 * the input's accessible name), and `onValue` gets the new text. Other input attributes
 * (required, pattern, maxLength, inputMode, type …) pass through.
 */
export function TextField(
  props: {
    readonly label: ReactNode;
    readonly value: string;
    readonly onValue: (value: string) => void;
  } & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'>,
): ReactNode {
  const { label, value, onValue, type = 'text', ...rest } = props;
  return (
    <label>
      {label}
      <input
        {...rest}
        type={type}
        value={value}
        onChange={(e) => {
          onValue(e.target.value);
        }}
      />
    </label>
  );
}

/**
 * `{ [key]: map(trimmed) }` when the field was filled in, `{}` when it was left empty: for
 * spreading optional fields into a request body.
 */
export function ifFilled<K extends string>(key: K, value: string): { [P in K]?: string };
export function ifFilled<K extends string, T>(
  key: K,
  value: string,
  map: (trimmed: string) => T,
): { [P in K]?: T };
export function ifFilled<K extends string>(
  key: K,
  value: string,
  map: (trimmed: string) => unknown = (v) => v,
): Partial<Record<K, unknown>> {
  const v = value.trim();
  return v === '' ? {} : ({ [key]: map(v) } as Partial<Record<K, unknown>>);
}
