/**
 * The data-flow map (issue #9 item 1; 45 CFR 164.308(a)(1)(ii)(A) risk analysis input): the
 * inventory's active assets as nodes and its active data flows as edges, as JSON, as Graphviz DOT
 * text, and as an SVG drawn here with a simple layered layout (no graphviz binary). Every label
 * is escaped for its format (DOT quoted strings; XML text and attributes), so a name such as
 * `<script>` or `"]; x -> y` stays a name.
 */
import type { Asset, DataFlow } from './inventory.model.js';
import type { Vendor } from './vendor.service.js';

export interface MapNode {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly phiClassification: string;
  readonly owner: string;
  readonly vendor: string | null;
}

export interface MapEdge {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly name: string;
  readonly phiCategories: readonly string[];
  readonly transport: string;
  readonly encryption: string;
  readonly vendor: string | null;
}

export interface FlowMap {
  readonly nodes: readonly MapNode[];
  readonly edges: readonly MapEdge[];
}

/** The map of active assets and the active flows between them, in a stable order. */
export function buildFlowMap(
  assets: readonly Asset[],
  flows: readonly DataFlow[],
  vendors: readonly Vendor[],
): FlowMap {
  const vendorName = new Map(vendors.map((v) => [v.id, v.name]));
  const name = (id: string | null): string | null =>
    id === null ? null : (vendorName.get(id) ?? id);
  const nodes = assets
    .filter((a) => a.status === 'active')
    .map((a) => ({
      id: a.id,
      name: a.name,
      kind: a.kind,
      phiClassification: a.phiClassification,
      owner: a.owner,
      vendor: name(a.vendorId),
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const present = new Set(nodes.map((n) => n.id));
  const edges = flows
    .filter(
      (f) =>
        f.status === 'active' && present.has(f.sourceAssetId) && present.has(f.destinationAssetId),
    )
    .map((f) => ({
      id: f.id,
      from: f.sourceAssetId,
      to: f.destinationAssetId,
      name: f.name,
      phiCategories: [...f.phiCategories],
      transport: f.transport,
      encryption: f.encryption,
      vendor: name(f.vendorId),
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { nodes, edges };
}

/** Characters XML 1.0 does not allow (controls, noncharacters) and unpaired surrogates. */
const XML_INVALID =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text safe in XML character data and in quoted attribute values (XML 1.0). */
export function escapeXml(value: string): string {
  return value
    .replace(XML_INVALID, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A DOT double-quoted string (Graphviz `ID`): backslashes and quotes escaped, controls dropped. */
export function dotString(value: string): string {
  const clean = value
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n');
  return `"${clean}"`;
}

function edgeLabel(e: MapEdge): string {
  const phi = e.phiCategories.length === 0 ? 'no PHI' : `PHI: ${e.phiCategories.join(', ')}`;
  return `${e.name}\n${phi}\n${e.transport}; ${e.encryption}`;
}

/** Graphviz DOT text of the map (render it with `dot -Tsvg` if you have Graphviz). */
export function toDot(map: FlowMap): string {
  const lines = [
    'digraph scrip_data_flows {',
    '  rankdir=LR;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const fill: Readonly<Record<string, string>> = {
    ephi: '#fde2e1',
    limited: '#fff4d6',
    none: '#e8f0fe',
  };
  for (const n of map.nodes) {
    const label = `${n.name}\n${n.kind} · ${n.phiClassification} · ${n.owner}`;
    lines.push(
      `  ${dotString(n.id)} [label=${dotString(label)}, fillcolor=${dotString(fill[n.phiClassification] ?? '#ffffff')}];`,
    );
  }
  for (const e of map.edges) {
    const color = e.phiCategories.length > 0 ? '#b3261e' : '#5f6368';
    lines.push(
      `  ${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(edgeLabel(e))}, color=${dotString(color)}];`,
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

interface Placed {
  readonly node: MapNode;
  readonly x: number;
  readonly y: number;
}

const NODE_W = 240;
const NODE_H = 58;
const GAP_X = 250;
const GAP_Y = 46;
const MARGIN = 40;

/**
 * Layers by longest path over the graph with back edges removed (a depth-first search in name
 * order decides which edges of a cycle point back), then orders each layer by the mean position
 * of its predecessors. Deterministic for a given map.
 */
function layout(map: FlowMap): {
  placed: Map<string, Placed>;
  back: Set<string>;
  width: number;
  height: number;
} {
  const ids = map.nodes.map((n) => n.id);
  const out = new Map<string, MapEdge[]>(ids.map((id) => [id, []]));
  for (const e of map.edges) out.get(e.from)?.push(e);
  const back = new Set<string>();
  const state = new Map<string, 1 | 2>();
  const visit = (id: string): void => {
    state.set(id, 1);
    for (const e of out.get(id) ?? []) {
      const s = state.get(e.to);
      if (s === 1) back.add(e.id);
      else if (s === undefined) visit(e.to);
    }
    state.set(id, 2);
  };
  for (const id of ids) if (!state.has(id)) visit(id);

  const forward = map.edges.filter((e) => !back.has(e.id) && e.from !== e.to);
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const e of forward) indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] ?? '';
    for (const e of forward) {
      if (e.from !== id) continue;
      layer.set(e.to, Math.max(layer.get(e.to) ?? 0, (layer.get(id) ?? 0) + 1));
      const left = (indegree.get(e.to) ?? 1) - 1;
      indegree.set(e.to, left);
      if (left === 0) queue.push(e.to);
    }
  }
  const layers: MapNode[][] = [];
  for (const n of map.nodes) {
    const l = layer.get(n.id) ?? 0;
    (layers[l] ??= []).push(n);
  }
  const row = new Map<string, number>();
  const placed = new Map<string, Placed>();
  let maxRows = 0;
  layers.forEach((nodes, l) => {
    const score = (n: MapNode): number => {
      const preds = forward.filter((e) => e.to === n.id).map((e) => row.get(e.from) ?? 0);
      return preds.length === 0
        ? Number.MAX_SAFE_INTEGER
        : preds.reduce((a, b) => a + b, 0) / preds.length;
    };
    const ordered = [...nodes].sort((a, b) => score(a) - score(b) || a.name.localeCompare(b.name));
    ordered.forEach((n, i) => {
      row.set(n.id, i);
      placed.set(n.id, {
        node: n,
        x: MARGIN + l * (NODE_W + GAP_X),
        y: MARGIN + i * (NODE_H + GAP_Y),
      });
    });
    maxRows = Math.max(maxRows, ordered.length);
  });
  const columns = Math.max(layers.length, 1);
  return {
    placed,
    back,
    width: MARGIN * 2 + columns * NODE_W + (columns - 1) * GAP_X,
    height: MARGIN * 2 + Math.max(maxRows, 1) * NODE_H + Math.max(maxRows - 1, 0) * GAP_Y + 60,
  };
}

function clip(value: string, max: number): string {
  const chars = Array.from(new Intl.Segmenter().segment(value), (s) => s.segment);
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}

const FILL: Readonly<Record<string, string>> = {
  ephi: '#fde2e1',
  limited: '#fff4d6',
  none: '#e8f0fe',
};

/** A standalone SVG drawing of the map; every text and attribute value is XML-escaped. */
export function toSvg(map: FlowMap, title = 'Scrip data-flow map'): string {
  const { placed, back, width, height } = layout(map);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#5f6368"/></marker>',
    '<marker id="arrow-phi" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#b3261e"/></marker></defs>',
    '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
    '<g font-family="Helvetica, Arial, sans-serif">',
  ];
  for (const e of map.edges) {
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (a === undefined || b === undefined) continue;
    const phi = e.phiCategories.length > 0;
    const stroke = phi ? '#b3261e' : '#5f6368';
    let d: string;
    let lx: number;
    let ly: number;
    if (!back.has(e.id) && b.x > a.x) {
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      d = `M ${String(x1)} ${String(y1)} C ${String(mx)} ${String(y1)}, ${String(mx)} ${String(y2)}, ${String(x2)} ${String(y2)}`;
      lx = mx;
      ly = (y1 + y2) / 2 - 6;
    } else {
      // A back edge (or one within a layer) loops below the two boxes.
      const x1 = a.x + NODE_W / 2;
      const x2 = b.x + NODE_W / 2;
      const y1 = a.y + NODE_H;
      const y2 = b.y + NODE_H;
      const dip = Math.max(y1, y2) + 40;
      d = `M ${String(x1)} ${String(y1)} C ${String(x1)} ${String(dip)}, ${String(x2)} ${String(dip)}, ${String(x2)} ${String(y2)}`;
      lx = (x1 + x2) / 2;
      ly = dip - 4;
    }
    // Two short lines between the boxes; the full label is the edge's tooltip (<title>).
    const line1 = clip(e.name, 40);
    const line2 = clip(phi ? `PHI: ${e.phiCategories.join(', ')}` : 'no PHI', 40);
    parts.push(
      `<g class="edge" data-id="${escapeXml(e.id)}"><title>${escapeXml(edgeLabel(e))}</title>` +
        `<path d="${d}" fill="none" stroke="${stroke}" stroke-width="1.5" marker-end="url(#${phi ? 'arrow-phi' : 'arrow'})"/>` +
        `<text x="${String(lx)}" y="${String(ly - 6)}" font-size="10" text-anchor="middle" fill="${stroke}">${escapeXml(line1)}</text>` +
        `<text x="${String(lx)}" y="${String(ly + 6)}" font-size="10" text-anchor="middle" fill="${stroke}">${escapeXml(line2)}</text></g>`,
    );
  }
  for (const { node: n, x, y } of placed.values()) {
    parts.push(
      `<g class="node" data-id="${escapeXml(n.id)}"><title>${escapeXml(`${n.name} (${n.kind}, ${n.phiClassification}, owner ${n.owner})`)}</title>` +
        `<rect x="${String(x)}" y="${String(y)}" width="${String(NODE_W)}" height="${String(NODE_H)}" rx="8" ry="8" fill="${FILL[n.phiClassification] ?? '#ffffff'}" stroke="#3c4043"/>` +
        `<text x="${String(x + 12)}" y="${String(y + 24)}" font-size="13" font-weight="bold">${escapeXml(clip(n.name, 30))}</text>` +
        `<text x="${String(x + 12)}" y="${String(y + 44)}" font-size="11" fill="#3c4043">${escapeXml(clip(`${n.kind} · ${n.phiClassification} · ${n.owner}`, 38))}</text></g>`,
    );
  }
  const ly = height - 24;
  parts.push(
    `<g font-size="11"><rect x="${String(MARGIN)}" y="${String(ly - 10)}" width="12" height="12" fill="${FILL.ephi ?? ''}" stroke="#3c4043"/><text x="${String(MARGIN + 18)}" y="${String(ly)}">ePHI</text>` +
      `<rect x="${String(MARGIN + 70)}" y="${String(ly - 10)}" width="12" height="12" fill="${FILL.limited ?? ''}" stroke="#3c4043"/><text x="${String(MARGIN + 88)}" y="${String(ly)}">limited</text>` +
      `<rect x="${String(MARGIN + 150)}" y="${String(ly - 10)}" width="12" height="12" fill="${FILL.none ?? ''}" stroke="#3c4043"/><text x="${String(MARGIN + 168)}" y="${String(ly)}">no PHI</text>` +
      `<text x="${String(MARGIN + 230)}" y="${String(ly)}" fill="#b3261e">red arrows carry PHI</text></g>`,
  );
  parts.push('</g></svg>');
  return `${parts.join('\n')}\n`;
}
