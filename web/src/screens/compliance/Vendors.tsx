import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, Success, can, useAction, useLoad } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';
import { NewBaa, type Baa } from './BaaForm.js';
import { RenewBaa } from './BaaRenewForm.js';

interface Vendor {
  readonly id: string;
  readonly name: string;
  readonly services: string;
  readonly riskRating: string;
  readonly phiAccess: boolean;
  readonly status: string;
}
const DAY = 86_400_000;

/** Where an agreement stands, as the server's BAA gate sees it (baa.service.ts standingOf). */
function expiry(b: Baa): { text: string; tone: 'ok' | 'warn' | 'error' | 'neutral' } {
  if (b.status !== 'active') return { text: b.status, tone: 'error' };
  const today = new Date().toISOString().slice(0, 10);
  if (b.documentSha256 === null)
    return { text: 'unsigned: no document, not in force', tone: 'error' };
  if (b.effectiveDate > today) return { text: `in force from ${b.effectiveDate}`, tone: 'warn' };
  if (b.expiryDate === null) return { text: 'in force, no expiry', tone: 'ok' };
  const days = Math.ceil((Date.parse(`${b.expiryDate}T23:59:59Z`) - Date.now()) / DAY);
  if (days < 0) return { text: `expired ${b.expiryDate}`, tone: 'error' };
  return {
    text: `in force, expires ${b.expiryDate} (${String(days)} days)`,
    tone: days <= 60 ? 'warn' : 'ok',
  };
}

/** Vendors and their business associate agreements, with standing and expiry; record and renew. */
export function Vendors(): ReactNode {
  const me = useMe();
  const vendors = useLoad<{ vendors: readonly Vendor[] }>(E.vendors[1]);
  const baas = useLoad<{ baas: readonly Baa[] }>(E.baas[1]);
  const manage = can(me, 'compliance.manage');
  const [renewing, setRenewing] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const finished = (message: string): void => {
    setDone(message);
    setRenewing(undefined);
    baas.reload();
  };
  return (
    <section>
      <h1>Vendors and BAAs</h1>
      {manage ? <NewVendor onDone={vendors.reload} /> : null}
      {manage && vendors.data !== undefined ? (
        <NewBaa vendors={vendors.data.vendors} onDone={finished} />
      ) : null}
      {done === undefined ? null : <Success>{done}</Success>}
      <LoadState loaded={vendors} what="vendors">
        {(v) => (
          <LoadState loaded={baas} what="BAAs">
            {(b) =>
              v.vendors.length === 0 ? (
                <Empty>No vendors recorded.</Empty>
              ) : (
                <table>
                  <caption>Vendors</caption>
                  <thead>
                    <tr>
                      <th scope="col">Vendor</th>
                      <th scope="col">Services</th>
                      <th scope="col">Risk</th>
                      <th scope="col">PHI access</th>
                      <th scope="col">BAA</th>
                    </tr>
                  </thead>
                  <tbody>
                    {v.vendors.map((x) => {
                      const agreements = b.baas.filter((a) => a.vendorId === x.id);
                      return (
                        <tr key={x.id}>
                          <td>
                            {x.name}
                            {x.status === 'active' ? null : ` (${x.status})`}
                          </td>
                          <td>{x.services || '—'}</td>
                          <td>{x.riskRating}</td>
                          <td>{x.phiAccess ? 'yes' : 'no'}</td>
                          <td>
                            {agreements.length === 0 ? (
                              <Badge tone={x.phiAccess ? 'error' : 'neutral'}>no BAA</Badge>
                            ) : (
                              agreements.map((a) => {
                                const e = expiry(a);
                                return (
                                  <div key={a.id}>
                                    <Badge tone={e.tone}>{e.text}</Badge> from {a.effectiveDate},
                                    breach notice {a.breachNoticeDays} days
                                    {manage && a.status === 'active' ? (
                                      <>
                                        {' '}
                                        <button
                                          type="button"
                                          className="secondary"
                                          aria-expanded={renewing === a.id}
                                          onClick={() => {
                                            setDone(undefined);
                                            setRenewing(renewing === a.id ? undefined : a.id);
                                          }}
                                        >
                                          Renew BAA with {x.name}
                                        </button>
                                      </>
                                    ) : null}
                                    {renewing === a.id ? (
                                      <RenewBaa
                                        baa={a}
                                        vendorName={x.name}
                                        onDone={finished}
                                        onCancel={() => {
                                          setRenewing(undefined);
                                        }}
                                      />
                                    ) : null}
                                  </div>
                                );
                              })
                            )}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )
            }
          </LoadState>
        )}
      </LoadState>
    </section>
  );
}

function NewVendor(props: { readonly onDone: () => void }): ReactNode {
  const [name, setName] = useState('');
  const [services, setServices] = useState('');
  const [riskRating, setRisk] = useState('medium');
  const [phiAccess, setPhi] = useState(true);
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(E.vendorCreate[1], {
        name: name.trim(),
        services: services.trim(),
        contact: '',
        riskRating,
        phiAccess,
      });
      setName('');
      setServices('');
      props.onDone();
    });
  };
  return (
    <details className="panel">
      <summary>Add a vendor</summary>
      <form onSubmit={submit}>
        <label>
          Vendor name
          <input
            required
            maxLength={200}
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
        <label>
          Services
          <input
            maxLength={2000}
            value={services}
            onChange={(e) => {
              setServices(e.target.value);
            }}
          />
        </label>
        <label>
          Risk rating
          <select
            value={riskRating}
            onChange={(e) => {
              setRisk(e.target.value);
            }}
          >
            <option value="low">low</option>
            <option value="medium">medium</option>
            <option value="high">high</option>
            <option value="critical">critical</option>
          </select>
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={phiAccess}
            onChange={(e) => {
              setPhi(e.target.checked);
            }}
          />
          Has access to PHI
        </label>
        <button type="submit" disabled={action.busy}>
          Add vendor
        </button>
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Adding the vendor" />
        )}
      </form>
    </details>
  );
}
