import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';

/**
 * Business associate agreements (45 CFR 164.308(b), 164.314(a)): recording one for a vendor
 * (POST /compliance/baas, with its signed document: an agreement without one is not in force),
 * and renewing one (PUT /compliance/baas/:id: a new version of the same agreement with a later
 * expiry date, which is what the server's expiry check and alerts follow, optionally with the
 * signed renewal attached through POST /compliance/baas/:id/document).
 */

export interface Baa {
  readonly id: string;
  readonly vendorId: string;
  readonly parties: readonly string[];
  readonly effectiveDate: string;
  readonly expiryDate: string | null;
  readonly permittedUses: string;
  readonly breachNoticeDays: number;
  readonly subcontractorFlowDown: boolean;
  readonly auditRights: boolean;
  readonly returnDestruction: string;
  readonly status: string;
  readonly version: number;
  readonly documentSha256: string | null;
}

/** The server's limit on a signed document (src/compliance/baa.service.ts). */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** A chosen file as the JSON document body; a message when it cannot be sent. */
export async function documentBody(
  file: File,
): Promise<{ contentBase64: string; mediaType: string } | string> {
  if (file.size < 1 || file.size > MAX_DOCUMENT_BYTES)
    return 'The document must be 1 byte to 8 MB.';
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const type = file.type.toLowerCase();
  return {
    contentBase64: btoa(binary),
    mediaType: /^[a-z]+\/[a-z0-9.+-]{1,100}$/.test(type) ? type : 'application/octet-stream',
  };
}

export function DocumentInput(props: {
  readonly label: string;
  readonly onChange: (f: File | undefined) => void;
}): ReactNode {
  return (
    <label>
      {props.label}
      <input
        type="file"
        accept="application/pdf,image/png,image/jpeg"
        onChange={(e) => {
          props.onChange(e.target.files?.[0]);
        }}
      />
    </label>
  );
}

export function NewBaa(props: {
  readonly vendors: readonly { id: string; name: string }[];
  readonly onDone: (message: string) => void;
}): ReactNode {
  const [vendorId, setVendorId] = useState('');
  const [ourParty, setOurParty] = useState('');
  // The server counts days in UTC (baa.service.ts standingOf).
  const [effective, setEffective] = useState(() => new Date().toISOString().slice(0, 10));
  const [expiry, setExpiry] = useState('');
  const [uses, setUses] = useState('');
  const [noticeDays, setNoticeDays] = useState('30');
  const [flowDown, setFlowDown] = useState(true);
  const [auditRights, setAuditRights] = useState(true);
  const [returnDestruction, setReturnDestruction] = useState(
    'Return or destroy all PHI at termination',
  );
  const [file, setFile] = useState<File | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const vendor = props.vendors.find((v) => v.id === vendorId);
    const wrong =
      vendor === undefined
        ? 'Choose the vendor.'
        : expiry !== '' && expiry < effective
          ? 'The agreement cannot expire before it takes effect.'
          : undefined;
    setProblem(wrong);
    if (vendor === undefined || wrong !== undefined) return;
    void action.run(async () => {
      const document = file === undefined ? undefined : await documentBody(file);
      if (typeof document === 'string') {
        setProblem(document);
        return;
      }
      await api.post<Baa>(E.baaCreate[1], {
        vendorId,
        parties: [ourParty.trim(), vendor.name],
        effectiveDate: effective,
        expiryDate: expiry === '' ? null : expiry,
        permittedUses: uses.trim(),
        breachNoticeDays: Number(noticeDays),
        subcontractorFlowDown: flowDown,
        auditRights,
        returnDestruction: returnDestruction.trim(),
        ...(document === undefined ? {} : { document }),
      });
      setUses('');
      setFile(undefined);
      props.onDone(
        `BAA with ${vendor.name} recorded${expiry === '' ? '' : `, expiring ${expiry}`}${
          document === undefined ? ' (no signed document yet: not in force)' : ''
        }.`,
      );
    });
  };
  return (
    <details className="panel">
      <summary>Record a BAA</summary>
      <form onSubmit={submit} aria-label="New BAA">
        <label>
          Vendor
          <select
            required
            value={vendorId}
            onChange={(e) => {
              setVendorId(e.target.value);
            }}
          >
            <option value="">Choose…</option>
            {props.vendors.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Our organisation (party to the agreement)
          <input
            required
            maxLength={200}
            value={ourParty}
            onChange={(e) => {
              setOurParty(e.target.value);
            }}
          />
        </label>
        <label>
          Effective from
          <input
            type="date"
            required
            value={effective}
            onChange={(e) => {
              setEffective(e.target.value);
            }}
          />
        </label>
        <label>
          Expires on (empty: no expiry)
          <input
            type="date"
            min={effective}
            value={expiry}
            onChange={(e) => {
              setExpiry(e.target.value);
            }}
          />
        </label>
        <label>
          Permitted uses and disclosures
          <textarea
            required
            maxLength={4000}
            value={uses}
            onChange={(e) => {
              setUses(e.target.value);
            }}
          />
        </label>
        <label>
          Breach notice to us within (days, 164.410(b): at most 60)
          <input
            type="number"
            required
            min={1}
            max={60}
            value={noticeDays}
            onChange={(e) => {
              setNoticeDays(e.target.value);
            }}
          />
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={flowDown}
            onChange={(e) => {
              setFlowDown(e.target.checked);
            }}
          />
          Subcontractors bound by the same terms
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={auditRights}
            onChange={(e) => {
              setAuditRights(e.target.checked);
            }}
          />
          Audit rights
        </label>
        <label>
          Return or destruction of PHI at termination
          <input
            required
            maxLength={2000}
            value={returnDestruction}
            onChange={(e) => {
              setReturnDestruction(e.target.value);
            }}
          />
        </label>
        <DocumentInput label="Signed agreement (PDF or image)" onChange={setFile} />
        <button type="submit" disabled={action.busy}>
          Record BAA
        </button>
        {problem === undefined ? null : (
          <p className="note error" role="alert">
            {problem}
          </p>
        )}
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Recording the BAA" />
        )}
      </form>
    </details>
  );
}
