export { AppError, isAppError, type ErrorCode, type AppErrorOptions } from './errors.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { cryptoRandom, type Random } from './random.js';
export { asTenantId, isUuid, type Brand, type TenantId, type RequestId } from './ids.js';
