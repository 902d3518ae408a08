import type { ComponentType } from 'react';

/**
 * One screen of the app. Other consoles plug in by adding entries to SCREENS (screens/index.ts):
 * the shell builds the navigation and the routing from that list alone.
 */
export interface ScreenProps {
  /** The `:name` segments of the path (opaque ids only). */
  readonly params: Readonly<Record<string, string>>;
}

export interface ScreenDef {
  /** A route template: `/patients/:id`. Literal segments and `:id` parameters only. */
  readonly path: string;
  /** The page title (fixed text: never PHI). */
  readonly title: string;
  /** Roles that see the screen (any one suffices); absent: every signed-in user. */
  readonly roles?: readonly string[];
  /** Shown in the navigation under this label (screens reached by links have none). */
  readonly nav?: string;
  /** Navigation group: the console the screen belongs to. */
  readonly group?: 'clinical' | 'pharmacy' | 'compliance' | 'admin' | 'account';
  readonly component: ComponentType<ScreenProps>;
}
