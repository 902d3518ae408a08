/**
 * The compliance program over HTTP (issue #9 items 1, 2, 7): run the control checks and read the
 * report, the inventory and its data-flow map, and (compliance-vendor.routes.ts) vendors, BAAs
 * and integrations. Reading needs `compliance.read` (auditors have it); every change needs
 * `compliance.manage` and is a new audited version, never an overwrite.
 */
import { Type } from '@sinclair/typebox';
import {
  ASSET_KINDS,
  buildFlowMap,
  CONTROLS,
  CONTROL_IDS,
  PHI_CLASSIFICATIONS,
  REQUIREMENTS,
  reportHtml,
  toDot,
  toSvg,
  type AssetInput,
  type Compliance,
  type DataFlowInput,
} from '../../compliance/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  actorOf,
  AssetSchema,
  Attributes,
  DateTime,
  FlowSchema,
  IdParams,
  NullableString,
  NullableUuid,
  Reason,
  ReasonBody,
  tenantOf,
  toJson,
  Uuid,
} from './compliance.schemas.js';
import { complianceBaaRoutes } from './compliance-baa.routes.js';
import { complianceVendorRoutes } from './compliance-vendor.routes.js';

const ControlResultSchema = Type.Object({
  controlId: Type.String(),
  title: Type.String(),
  check: Type.String(),
  status: Type.String(),
  details: Type.String(),
  checkedAt: DateTime,
});

const RequirementResultSchema = Type.Object({
  id: Type.String(),
  framework: Type.String(),
  kind: Type.String(),
  designation: NullableString,
  standard: NullableString,
  title: Type.String(),
  controls: Type.Array(Type.String()),
  status: Type.String(),
});

const ReportSchema = Type.Object({
  format: Type.String(),
  runId: Type.String(),
  tenantId: Type.String(),
  generatedAt: DateTime,
  runBy: Type.String(),
  summary: Type.Object({ passed: Type.Integer(), failed: Type.Integer() }),
  controls: Type.Array(ControlResultSchema),
  requirements: Type.Array(RequirementResultSchema),
});

const AssetBody = Type.Object(
  {
    kind: Type.Union(ASSET_KINDS.map((k) => Type.Literal(k))),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.String({ maxLength: 2000, default: '' }),
    owner: Type.String({ minLength: 1, maxLength: 200 }),
    phiClassification: Type.Union(PHI_CLASSIFICATIONS.map((k) => Type.Literal(k))),
    vendorId: Type.Optional(NullableUuid),
    attributes: Type.Optional(Attributes),
    reason: Reason,
  },
  { additionalProperties: false },
);

const FlowBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    sourceAssetId: Uuid,
    destinationAssetId: Uuid,
    phiCategories: Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 20 }),
    transport: Type.String({ minLength: 1, maxLength: 200 }),
    encryption: Type.String({ minLength: 1, maxLength: 200 }),
    vendorId: Type.Optional(NullableUuid),
    description: Type.String({ maxLength: 2000, default: '' }),
    reason: Reason,
  },
  { additionalProperties: false },
);

const MapSchema = Type.Object({
  nodes: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      kind: Type.String(),
      phiClassification: Type.String(),
      owner: Type.String(),
      vendor: NullableString,
    }),
  ),
  edges: Type.Array(
    Type.Object({
      id: Type.String(),
      from: Type.String(),
      to: Type.String(),
      name: Type.String(),
      phiCategories: Type.Array(Type.String()),
      transport: Type.String(),
      encryption: Type.String(),
      vendor: NullableString,
    }),
  ),
});

function controlAndInventoryRoutes(c: Compliance): RouteDef[] {
  const map = async (tenant: Parameters<Compliance['inventory']['listAssets']>[0]) =>
    buildFlowMap(
      await c.inventory.listAssets(tenant),
      await c.inventory.listFlows(tenant),
      await c.vendors.list(tenant, true),
    );
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/controls',
      permission: 'compliance.read',
      summary:
        'The control catalog: HIPAA and DEA requirements mapped to controls with live checks',
      tags: ['compliance'],
      schema: {
        response: {
          200: Type.Object({
            controls: Type.Array(
              Type.Object({ id: Type.String(), title: Type.String(), check: Type.String() }),
            ),
            requirements: Type.Array(
              Type.Object({
                id: Type.String(),
                framework: Type.String(),
                kind: Type.String(),
                designation: Type.Optional(Type.String()),
                standard: Type.Optional(Type.String()),
                title: Type.String(),
                controls: Type.Array(Type.String()),
              }),
            ),
          }),
        },
      },
      handler: async () => ({
        controls: CONTROL_IDS.map((id) => CONTROLS[id]),
        requirements: REQUIREMENTS,
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/controls/run',
      permission: 'compliance.read',
      summary: 'Run every live control check now and record the run',
      tags: ['compliance'],
      schema: { response: { 200: ReportSchema } },
      handler: async (request) => toJson(await c.controls.run(tenantOf(request), actorOf(request))),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/controls/report',
      permission: 'compliance.read',
      summary: 'The latest control report (JSON)',
      tags: ['compliance'],
      schema: { response: { 200: ReportSchema } },
      handler: async (request) => toJson(await c.controls.latest(tenantOf(request))),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/controls/report.html',
      permission: 'compliance.read',
      summary: 'The latest control report as an HTML page',
      tags: ['compliance'],
      schema: { response: { 200: Type.String() } },
      handler: async (request, reply) => {
        const report = await c.controls.latest(tenantOf(request));
        void reply.type('text/html; charset=utf-8');
        return reportHtml(report);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/inventory',
      permission: 'compliance.read',
      summary: 'Assets and data flows of the system inventory',
      tags: ['compliance'],
      schema: {
        querystring: Type.Object(
          { includeRetired: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ assets: Type.Array(AssetSchema), flows: Type.Array(FlowSchema) }),
        },
      },
      handler: async (request) => {
        const t = tenantOf(request);
        const all = (request.query as { includeRetired?: boolean }).includeRetired === true;
        return toJson({
          assets: await c.inventory.listAssets(t, all),
          flows: await c.inventory.listFlows(t, all),
        });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/inventory/sync',
      permission: 'compliance.manage',
      summary: "Bring Scrip's own components into the inventory from its configuration",
      tags: ['compliance'],
      schema: {
        response: {
          200: Type.Object({
            created: Type.Array(Type.String()),
            changed: Type.Array(Type.String()),
            retired: Type.Array(Type.String()),
          }),
        },
      },
      handler: async (request) => c.syncPlatformInventory(tenantOf(request), actorOf(request)),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/assets',
      permission: 'compliance.manage',
      summary: 'Add an asset (service, database, device, endpoint, ...) to the inventory',
      tags: ['compliance'],
      schema: { body: AssetBody, response: { 201: AssetSchema } },
      handler: async (request, reply) => {
        const asset = await c.inventory.createAsset(
          tenantOf(request),
          request.body as AssetInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(asset);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/assets/:id',
      permission: 'compliance.manage',
      summary: 'Change an asset (a new version; the old one is kept)',
      tags: ['compliance'],
      schema: { params: IdParams, body: AssetBody, response: { 200: AssetSchema } },
      handler: async (request) => {
        const body = request.body as AssetInput & { reason?: string };
        return toJson(
          await c.inventory.updateAsset(
            tenantOf(request),
            (request.params as { id: string }).id,
            body,
            actorOf(request),
            body.reason,
          ),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/assets/:id/retire',
      permission: 'compliance.manage',
      summary: 'Retire an asset (kept on record)',
      tags: ['compliance'],
      schema: { params: IdParams, body: ReasonBody, response: { 200: AssetSchema } },
      handler: async (request) =>
        toJson(
          await c.inventory.retireAsset(
            tenantOf(request),
            (request.params as { id: string }).id,
            actorOf(request),
            (request.body as { reason?: string } | undefined)?.reason,
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/assets/:id/history',
      permission: 'compliance.read',
      summary: 'Every version of an asset',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ versions: Type.Array(AssetSchema) }) },
      },
      handler: async (request) =>
        toJson({
          versions: await c.inventory.assetHistory(
            tenantOf(request),
            (request.params as { id: string }).id,
          ),
        }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/data-flows',
      permission: 'compliance.manage',
      summary: 'Add a data flow between two assets',
      tags: ['compliance'],
      schema: { body: FlowBody, response: { 201: FlowSchema } },
      handler: async (request, reply) => {
        const flow = await c.inventory.createFlow(
          tenantOf(request),
          request.body as DataFlowInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(flow);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/data-flows/:id',
      permission: 'compliance.manage',
      summary: 'Change a data flow (a new version)',
      tags: ['compliance'],
      schema: { params: IdParams, body: FlowBody, response: { 200: FlowSchema } },
      handler: async (request) => {
        const body = request.body as DataFlowInput & { reason?: string };
        return toJson(
          await c.inventory.updateFlow(
            tenantOf(request),
            (request.params as { id: string }).id,
            body,
            actorOf(request),
            body.reason,
          ),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/data-flows/:id/retire',
      permission: 'compliance.manage',
      summary: 'Retire a data flow (kept on record)',
      tags: ['compliance'],
      schema: { params: IdParams, body: ReasonBody, response: { 200: FlowSchema } },
      handler: async (request) =>
        toJson(
          await c.inventory.retireFlow(
            tenantOf(request),
            (request.params as { id: string }).id,
            actorOf(request),
            (request.body as { reason?: string } | undefined)?.reason,
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/data-flows/:id/history',
      permission: 'compliance.read',
      summary: 'Every version of a data flow',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ versions: Type.Array(FlowSchema) }) },
      },
      handler: async (request) =>
        toJson({
          versions: await c.inventory.flowHistory(
            tenantOf(request),
            (request.params as { id: string }).id,
          ),
        }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/data-flow-map',
      permission: 'compliance.read',
      summary: 'The data-flow map as JSON (nodes and edges)',
      tags: ['compliance'],
      schema: { response: { 200: MapSchema } },
      handler: async (request) => map(tenantOf(request)),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/data-flow-map.dot',
      permission: 'compliance.read',
      summary: 'The data-flow map as Graphviz DOT text',
      tags: ['compliance'],
      schema: { response: { 200: Type.String() } },
      handler: async (request, reply) => {
        void reply.type('text/vnd.graphviz; charset=utf-8');
        return toDot(await map(tenantOf(request)));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/data-flow-map.svg',
      permission: 'compliance.read',
      summary: 'The data-flow map drawn as SVG',
      tags: ['compliance'],
      schema: { response: { 200: Type.String() } },
      handler: async (request, reply) => {
        void reply.type('image/svg+xml; charset=utf-8');
        return toSvg(await map(tenantOf(request)));
      },
    }),
  ];
}

/** Every compliance route of part B. */
export function complianceEvidenceRoutes(c: Compliance): RouteDef[] {
  return [...controlAndInventoryRoutes(c), ...complianceVendorRoutes(c), ...complianceBaaRoutes(c)];
}
