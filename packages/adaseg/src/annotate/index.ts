export { HttpError, fromStoreError, type HttpErrorCode } from './errors.js';
export { UserStore, UserError, ROLES, hashToken, type Role, type User } from './users.js';
export { datasetImages, insideRoot, type ImageProvider, type PoolImageRef } from './images.js';
export { createAnnotateApp, startAnnotateServer, type AnnotateServerOptions, type RunningServer } from './server.js';
