import type { HubRole } from './config.js';

/**
 * What a hub offers beyond keeping and serving its own region's records (which every hub does: each region's hub
 * holds its people's data and answers approved federated work on it):
 * - `projects`: applicants file access requests and members work in approved projects (the research hub);
 * - `validation`: third parties submit models and the hubs' data validates them (the demonstration hub).
 * A service's routes and console pages exist on hubs whose role offers it, and nowhere else.
 */
export type HubService = 'projects' | 'validation';

export const HUB_ROLE_SERVICES: Readonly<Record<HubRole, readonly HubService[]>> = {
  data: [],
  research: ['projects'],
  demonstration: ['validation'],
};

/** Whether a hub of `role` offers `service`. */
export function hubOffers(role: HubRole, service: HubService): boolean {
  return HUB_ROLE_SERVICES[role].includes(service);
}
