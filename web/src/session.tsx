import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api } from './api/client.js';
import { ENDPOINTS } from './api/endpoints.js';

/** GET /api/v1/auth/session (src/http/routes/auth.routes.ts). */
export interface Me {
  readonly userId: string;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly email: string;
  readonly displayName: string;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly restricted: boolean;
  readonly mfaEnrolled: boolean;
  /** The server's idle timeout (SCRIP_SESSION_IDLE_MINUTES). */
  readonly idleTimeoutSeconds: number;
}

export interface SessionState {
  /** undefined while loading; null when signed out. */
  readonly me: Me | null | undefined;
  readonly error: ApiError | undefined;
  readonly refresh: () => Promise<void>;
  readonly signOut: (everywhere?: boolean) => Promise<void>;
  /** The server ended the session (idle timeout, sign-out elsewhere): forget it. */
  readonly lost: () => void;
}

const Ctx = createContext<SessionState | undefined>(undefined);

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (s === undefined) throw new Error('useSession outside SessionProvider');
  return s;
}

export function useMe(): Me {
  const { me } = useSession();
  if (me === undefined || me === null) throw new Error('not signed in');
  return me;
}

export function SessionProvider(props: { readonly children: ReactNode }): ReactNode {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  const refresh = useCallback(async (): Promise<void> => {
    try {
      setMe(await api.get<Me>(ENDPOINTS.session[1]));
      setError(undefined);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setMe(null);
        setError(undefined);
      } else {
        setMe(null);
        setError(err instanceof ApiError ? err : new ApiError(0, {}, ''));
      }
    }
  }, []);

  const signOut = useCallback(async (everywhere = false): Promise<void> => {
    try {
      await api.post(everywhere ? ENDPOINTS.logoutAll[1] : ENDPOINTS.logout[1]);
    } catch {
      // Signed out already, or the server is away: the app forgets the session either way.
    }
    setMe(null);
  }, []);

  const lost = useCallback((): void => {
    setMe(null);
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  return <Ctx value={{ me, error, refresh, signOut, lost }}>{props.children}</Ctx>;
}

export function hasRole(me: Me, roles: readonly string[] | undefined): boolean {
  return roles === undefined || roles.some((r) => me.roles.includes(r));
}
