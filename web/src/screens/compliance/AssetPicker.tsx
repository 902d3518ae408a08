import type { ReactNode } from 'react';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { useLoad } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';

interface Asset {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
}

/**
 * Picks assets of the tenant's inventory (active ones, from the inventory API) by their ids: a risk
 * is linked to inventory records so that a change to one of them opens its reassessment.
 */
export function AssetPicker(props: {
  readonly value: readonly string[];
  readonly onChange: (ids: string[]) => void;
}): ReactNode {
  const inventory = useLoad<{ assets: readonly Asset[] }>(E.inventory[1]);
  const assets = inventory.data?.assets ?? [];
  return (
    <>
      <label>
        Assets (select one or more)
        <select
          multiple
          size={Math.min(6, Math.max(2, assets.length))}
          value={[...props.value]}
          onChange={(e) => {
            props.onChange(Array.from(e.target.selectedOptions, (o) => o.value));
          }}
        >
          {assets.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.kind.replace(/_/g, ' ')})
            </option>
          ))}
        </select>
      </label>
      {inventory.error === undefined ? null : (
        <ErrorNote error={inventory.error} action="Loading the inventory" />
      )}
      {inventory.data !== undefined && assets.length === 0 ? (
        <p className="muted">
          The inventory has no assets yet: sync it or add assets through the inventory API
          (docs/compliance.md).
        </p>
      ) : null}
    </>
  );
}
