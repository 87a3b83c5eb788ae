/**
 * Federation transport (docs/federation.md): each hub's Ed25519 identity and peers file, signed hub-to-hub
 * requests and responses (compact JWS over method, path, body hash, time and nonce), a registry of operations
 * other modules answer, and a coordinator that fans one request out to several hubs with a timeout.
 */
export type { FailureNote, FanOutResult } from './coordinator.js';
export { askPeer, checkedAnswer, describeFailures, fanOut, PeerStepFailed } from './coordinator.js';
export type { Federation } from './federation.js';
export { federationModule, openFederation } from './federation.js';
export type { CallOptions, PeerFailure } from './federation-client.js';
export { FederationClient, PeerCallError } from './federation-client.js';
export type { Ed25519Jwk, HubIdentity } from './hub-identity.js';
export { jwkThumbprint, loadIdentity, writeIdentityKey } from './hub-identity.js';
export { federationMigrations, NonceStore } from './nonce-store.js';
export type { OperationAllow, OperationDeclaration, OperationHandler, PeerRequest } from './operation-registry.js';
export { OperationRegistry } from './operation-registry.js';
export type { Peer } from './peer-directory.js';
export { PeerDirectory, parsePeer } from './peer-directory.js';
export { PeerFigures, peerFigureProblem, screenPeerAnswers } from './peer-figures.js';
export type { IncomingRequest, ReplyTo } from './request-receiver.js';
export { RequestReceiver } from './request-receiver.js';
export type { RequestClaims, ResponseClaims } from './signed-message.js';
export {
  bodyHash,
  claimedSender,
  SIGNATURE_HEADER,
  signRequest,
  signResponse,
  verifyRequest,
  verifyResponse,
} from './signed-message.js';
