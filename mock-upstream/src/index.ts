export { startMockUpstream, type MockUpstreamHandle } from './server.ts';
export {
  failureModes,
  type FailMix,
  type FailureMode,
  type MockBehaviourOptions,
  type MockUpstreamOptions,
} from './options.ts';
export type { MockUpstreamStats, RequestOutcome } from './request-stats.ts';
export { mockHeaderNames } from './mock-headers.ts';
export type { RecordedRequest } from './request-log.ts';
export { countChatPromptTokens, countEmbeddingInputTokens } from './token-counting.ts';
export { mockCompletionText, mockCompletionWord } from './chat.ts';
export { mockEmbeddingVector } from './embeddings.ts';
