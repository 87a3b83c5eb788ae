import { ResourceValidator } from '../fhir/index.js';

/** True for a concrete R4 resource type name. */
export function isKnownType(type: string): boolean {
  return /^[A-Z][A-Za-z]+$/.test(type) && ResourceValidator.r4().isResourceType(type);
}
