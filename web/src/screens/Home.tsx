import type { ReactNode } from 'react';
import { Link } from '../router.js';
import { hasRole, useMe } from '../session.js';
import { SCREENS } from './index.js';
import { FailedTransmissions } from './TransmissionFailed.js';

/**
 * The landing page: who is signed in, a prescriber's failed transmissions still to print, and the
 * screens their roles reach.
 */
export function Home(): ReactNode {
  const me = useMe();
  const reachable = SCREENS.filter(
    (s) => s.nav !== undefined && s.path !== '/' && hasRole(me, s.roles),
  );
  return (
    <section>
      <h1>Welcome, {me.displayName}</h1>
      <p>
        Signed in as <strong>{me.email}</strong> ({me.roles.join(', ') || 'no role'}).
      </p>
      {me.permissions.includes('rx.sign') ? <FailedTransmissions /> : null}
      {reachable.length === 0 ? (
        <p className="note empty">Your roles give you no screens here yet. Ask an administrator.</p>
      ) : (
        <ul className="tiles">
          {reachable.map((s) => (
            <li key={s.path}>
              <Link to={s.path}>{s.nav}</Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
