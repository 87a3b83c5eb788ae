import type { HubRole } from './config.js';

/**
 * What a hub offers beyond keeping and serving its own region's records (which every hub does: each region's hub
 * holds its people's data and answers approved federated work on it):
 * - `applications`: applicants file access requests here, the project's origin (research and demonstration hubs;
 *   a demonstration hub only for the purposes `HUB_ROLE_PURPOSES` lists);
 * - `projects`: members work in approved projects, with workspaces and the output airlock (the research hub);
 * - `validation`: third parties submit models and the hubs' data validates them (the demonstration hub).
 * A service's routes and console pages exist on hubs whose role offers it, and nowhere else.
 */
export type HubService = 'applications' | 'projects' | 'validation';

export const HUB_ROLE_SERVICES: Readonly<Record<HubRole, readonly HubService[]>> = {
  data: [],
  research: ['applications', 'projects'],
  demonstration: ['applications', 'validation'],
};

/**
 * The purposes a project filed at a hub of the role may have, where the role limits them: a demonstration hub is the
 * origin of validation projects only, so that a validation across hubs runs in a project the peers received from it.
 */
export const HUB_ROLE_PURPOSES: Readonly<Partial<Record<HubRole, readonly string[]>>> = {
  demonstration: ['ai-validation'],
};

/** Whether a hub of `role` offers `service`. */
export function hubOffers(role: HubRole, service: HubService): boolean {
  return HUB_ROLE_SERVICES[role].includes(service);
}
