import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { CareTeamMember, DraftBody, Drug, PatientFull, Pharmacy, Rx } from '../api/types.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { navigate } from '../router.js';
import { useMe } from '../session.js';
import { patientName } from './Patients.js';
import type { ScreenProps } from './registry.js';

/** The catalog name, with strength and form only when the name does not carry them. */
function drugLabel(d: Drug): string {
  const name = d.name.toLowerCase();
  const extra = [d.strength, d.doseForm].filter(
    (x): x is string => x !== null && x !== '' && !name.includes(x.toLowerCase()),
  );
  return [d.name, ...extra].join(' · ');
}

/**
 * A new prescription for one patient: drug search (catalog), quantity and directions, pharmacy
 * (the patient's preferred one or a directory search), the practice address. An agent drafts for
 * a prescriber on the patient's care team; the prescriber reviews and signs later.
 */
export function NewPrescription(props: ScreenProps): ReactNode {
  const patientId = props.params.id ?? '';
  const me = useMe();
  const isPrescriber = me.permissions.includes('rx.sign');
  const patient = useLoad(
    (signal) => api.get<PatientFull>(fill(ENDPOINTS.patient[1], { id: patientId }), { signal }),
    [patientId],
  );
  const team = useLoad(
    (signal) =>
      api.get<{ members: CareTeamMember[] }>(
        fill(ENDPOINTS.patientCareTeam[1], { id: patientId }),
        { signal },
      ),
    [patientId],
  );

  const [prescriberId, setPrescriberId] = useState('');
  const [drugQuery, setDrugQuery] = useState('');
  const [drugs, setDrugs] = useState<Drug[] | undefined>(undefined);
  const [drug, setDrug] = useState<Drug | undefined>(undefined);
  const [quantity, setQuantity] = useState('');
  const [unit, setUnit] = useState('tablet');
  const [daysSupply, setDaysSupply] = useState('');
  const [sig, setSig] = useState('');
  const [refills, setRefills] = useState('0');
  const [substitution, setSubstitution] = useState(true);
  const [pharmacyQuery, setPharmacyQuery] = useState('');
  const [pharmacies, setPharmacies] = useState<Pharmacy[] | undefined>(undefined);
  const [ncpdpId, setNcpdpId] = useState<string | undefined>(undefined);
  const [practice, setPractice] = useState({
    name: '',
    line: '',
    city: '',
    state: '',
    postalCode: '',
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [searchError, setSearchError] = useState<unknown>(undefined);

  const pharmacy = ncpdpId ?? patient.data?.preferredPharmacy?.ncpdpId ?? '';
  const members = team.data?.members.filter((m) => m.userId !== me.userId) ?? [];
  const chosenPrescriber = isPrescriber ? '' : prescriberId || (members[0]?.userId ?? '');

  const findDrugs = async (): Promise<void> => {
    setSearchError(undefined);
    try {
      const q = new URLSearchParams({ prefix: drugQuery.trim(), limit: '20' });
      const r = await api.get<{ drugs: Drug[] }>(`${ENDPOINTS.drugs[1]}?${q.toString()}`);
      setDrugs(r.drugs);
    } catch (err) {
      setSearchError(err);
    }
  };
  const findPharmacies = async (): Promise<void> => {
    setSearchError(undefined);
    try {
      const q = new URLSearchParams({ name: pharmacyQuery.trim(), active: 'true', limit: '20' });
      const r = await api.get<{ items: Pharmacy[] }>(`${ENDPOINTS.pharmacies[1]}?${q.toString()}`);
      setPharmacies(r.items);
    } catch (err) {
      setSearchError(err);
    }
  };

  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    if (drug === undefined) {
      setError(new Error('Choose a drug first.'));
      return;
    }
    const body: DraftBody = {
      patientId,
      ...(chosenPrescriber === '' ? {} : { prescriberId: chosenPrescriber }),
      rxcui: drug.rxcui,
      quantity: { value: Number(quantity), unit: unit.trim() },
      daysSupply: Number(daysSupply),
      sig: sig.trim(),
      refills: Number(refills),
      substitutionAllowed: substitution,
      pharmacyNcpdpId: pharmacy,
      practice: {
        ...(practice.name.trim() === '' ? {} : { name: practice.name.trim() }),
        line: practice.line.trim(),
        city: practice.city.trim(),
        state: practice.state.trim().toUpperCase(),
        postalCode: practice.postalCode.trim(),
      },
    };
    setBusy(true);
    setError(undefined);
    try {
      const rx = await api.post<Rx>(ENDPOINTS.rxCreate[1], body);
      navigate(`/prescriptions/${rx.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (patient.data === undefined) {
    return patient.error === undefined ? (
      <Loading />
    ) : (
      <ErrorNote error={patient.error} action="Could not load the patient" />
    );
  }
  const practiceField = (key: keyof typeof practice, label: string, required = true): ReactNode => (
    <label>
      {label}
      <input
        required={required}
        value={practice[key]}
        onChange={(e) => {
          setPractice({ ...practice, [key]: e.target.value });
        }}
      />
    </label>
  );

  return (
    <section>
      <h1>New prescription</h1>
      <p>
        For <strong>{patientName(patient.data)}</strong>, born {patient.data.birthDate ?? '—'}
      </p>
      <form
        onSubmit={(e) => {
          void submit(e);
        }}
      >
        {isPrescriber ? null : (
          <label>
            Prescriber
            <select
              required
              value={chosenPrescriber}
              onChange={(e) => {
                setPrescriberId(e.target.value);
              }}
            >
              {members.length === 0 ? (
                <option value="">No prescriber on the care team</option>
              ) : null}
              {members.map((m) => (
                <option key={m.userId} value={m.userId}>
                  {m.displayName} ({m.relation.replace(/_/g, ' ')})
                </option>
              ))}
            </select>
          </label>
        )}
        <fieldset>
          <legend>Drug</legend>
          <div className="actions">
            <label>
              Drug name
              <input
                value={drugQuery}
                onChange={(e) => {
                  setDrugQuery(e.target.value);
                }}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault();
                    void findDrugs();
                  }
                }}
              />
            </label>
            <button
              type="button"
              className="secondary"
              disabled={drugQuery.trim() === ''}
              onClick={() => {
                void findDrugs();
              }}
            >
              Find drug
            </button>
          </div>
          {drugs === undefined ? null : drugs.length === 0 ? (
            <Empty>No drug in the catalog starts with that name.</Empty>
          ) : (
            <div role="radiogroup" aria-label="Drugs found">
              {drugs.map((d) => (
                <label key={d.id} className="inline">
                  <input
                    type="radio"
                    name="drug"
                    checked={drug?.id === d.id}
                    onChange={() => {
                      setDrug(d);
                    }}
                  />
                  {drugLabel(d)}
                  {d.deaSchedule === null ? null : (
                    <span className="badge cs">Schedule {d.deaSchedule}</span>
                  )}
                </label>
              ))}
            </div>
          )}
          {drug?.deaSchedule === null || drug === undefined ? null : (
            <p className="note warn">
              A controlled substance (Schedule {drug.deaSchedule}): the prescriber signs it on the
              EPCS screen with two-factor authentication.
            </p>
          )}
        </fieldset>
        <fieldset>
          <legend>Amount and directions</legend>
          <div className="actions">
            <label>
              Quantity
              <input
                type="number"
                min="0"
                step="any"
                required
                value={quantity}
                onChange={(e) => {
                  setQuantity(e.target.value);
                }}
              />
            </label>
            <label>
              Unit
              <input
                required
                value={unit}
                onChange={(e) => {
                  setUnit(e.target.value);
                }}
              />
            </label>
            <label>
              Days supply
              <input
                type="number"
                min="1"
                max="366"
                required
                value={daysSupply}
                onChange={(e) => {
                  setDaysSupply(e.target.value);
                }}
              />
            </label>
            <label>
              Refills
              <input
                type="number"
                min="0"
                max="99"
                required
                value={refills}
                onChange={(e) => {
                  setRefills(e.target.value);
                }}
              />
            </label>
          </div>
          <label>
            Directions (sig)
            <textarea
              required
              rows={2}
              value={sig}
              onChange={(e) => {
                setSig(e.target.value);
              }}
            />
          </label>
          <label className="inline">
            <input
              type="checkbox"
              checked={substitution}
              onChange={(e) => {
                setSubstitution(e.target.checked);
              }}
            />
            Substitution allowed
          </label>
        </fieldset>
        <fieldset>
          <legend>Pharmacy</legend>
          <p>
            Sending to NCPDP ID <strong>{pharmacy === '' ? 'none chosen' : pharmacy}</strong>
            {ncpdpId === undefined && patient.data.preferredPharmacy !== undefined
              ? ' (the patient’s preferred pharmacy)'
              : ''}
          </p>
          <div className="actions">
            <label>
              Pharmacy name
              <input
                value={pharmacyQuery}
                onChange={(e) => {
                  setPharmacyQuery(e.target.value);
                }}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault();
                    void findPharmacies();
                  }
                }}
              />
            </label>
            <button
              type="button"
              className="secondary"
              disabled={pharmacyQuery.trim() === ''}
              onClick={() => {
                void findPharmacies();
              }}
            >
              Find pharmacy
            </button>
          </div>
          {pharmacies === undefined ? null : pharmacies.length === 0 ? (
            <Empty>No active pharmacy in the directory matches.</Empty>
          ) : (
            <div role="radiogroup" aria-label="Pharmacies found">
              {pharmacies.map((ph) => (
                <label key={ph.id} className="inline">
                  <input
                    type="radio"
                    name="pharmacy"
                    checked={pharmacy === ph.ncpdpId}
                    onChange={() => {
                      setNcpdpId(ph.ncpdpId);
                    }}
                  />
                  {ph.name}, {ph.address.line}, {ph.address.city} {ph.address.state} ({ph.ncpdpId})
                </label>
              ))}
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>Practice address</legend>
          {practiceField('name', 'Practice name', false)}
          {practiceField('line', 'Street')}
          <div className="actions">
            {practiceField('city', 'City')}
            {practiceField('state', 'State (2 letters)')}
            {practiceField('postalCode', 'ZIP code')}
          </div>
        </fieldset>
        {searchError === undefined ? null : (
          <ErrorNote error={searchError} action="Search failed" />
        )}
        {error === undefined ? null : <ErrorNote error={error} action="Not saved" />}
        <div className="actions">
          <button type="submit" disabled={busy || drug === undefined || pharmacy === ''}>
            {busy ? 'Saving…' : 'Save draft'}
          </button>
        </div>
      </form>
    </section>
  );
}
