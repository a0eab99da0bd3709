import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { slotRetryAfterMs } from './memory-traffic-store.ts';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetSettlement,
  BudgetState,
  TrafficStore,
  WindowCorrection,
  WindowState,
} from './traffic-store.ts';

export interface RedisTrafficStoreOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Prefix of every key; instances that share limits use the same one. */
  prefix?: string;
  /** A command that gets no answer within this fails (a hung server), so a request never waits on Redis for long. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * How long a window's or a slot set's key outlives its last write beyond what it can still count: room for the
 * instances' clocks to differ from Redis's, which expires keys (the counting itself follows the callers' `now`).
 */
const keyTtlMarginMs = 1000;

/**
 * Layout (every name after the prefix):
 * - `w:<key>`: a window, a hash of bucket number (`floor(now / (windowMs / 60))`) → units admitted in that bucket.
 * - `s:<key>`: a slot set, a sorted set of ticket scored by when its lease lapses.
 * - `b:<key>`: a budget, a hash of `spent`, `reserved` (the sum of the reservations) and `t:<ticket>` → amount.
 * - `bl:<key>`: the budget's reservation leases, a sorted set of ticket scored by lapse; it lives as long as `b:`.
 *
 * Amounts, costs and deltas are counted as whole numbers (HINCRBY is exact; see `whole`). Times are the callers' `now`, never Redis's clock:
 * tests drive a clock of their own, and the instances' clocks are assumed synchronized (NTP); Redis's clock only
 * expires keys, which is garbage collection.
 */
/**
 * Numbers computed in a script reach Redis as text of Lua's choosing: a negated zero becomes `-0`, which HINCRBY
 * refuses as not an integer. Such values are passed as plain whole-number text instead.
 */
const luaInteger = `
local function int(value) return string.format('%d', value) end
`;

const luaHelpers = `${luaInteger}
local function purgeReservations(hash, leases, now)
  local lapsed = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  if #lapsed == 0 then return end
  local fields = {}
  for index = 1, #lapsed do fields[index] = 't:' .. lapsed[index] end
  local amounts = redis.call('HMGET', hash, unpack(fields))
  local released = 0
  for index = 1, #amounts do
    if amounts[index] then released = released + tonumber(amounts[index]) end
  end
  redis.call('HDEL', hash, unpack(fields))
  if released ~= 0 then redis.call('HINCRBY', hash, 'reserved', int(-released)) end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
end

local function extendTtl(key, ttl)
  local current = redis.call('PTTL', key)
  if current ~= -1 and current < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS: windows, slot sets, then per budget its hash and its leases.
 * ARGV: ticket, now, lease expiry, lease ms, window count, slot count, budget count, then per window limit, amount,
 * windowMs; per slot limit; per budget limit, amount.
 * Returns {0, unseeded indexes…} | {1, kind (1 window, 2 slot, 3 budget), index, retry ms or -1} |
 * {2, per window remaining and reset ms…, per budget spent and reserved…}.
 */
const admitScript = `${luaHelpers}
local ticket = ARGV[1]
local now = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[4])
local windowCount = tonumber(ARGV[5])
local slotCount = tonumber(ARGV[6])
local budgetCount = tonumber(ARGV[7])
local slotBase = 7 + windowCount * 3
local budgetBase = slotBase + slotCount
local budgetKeyBase = windowCount + slotCount

local unseeded = {0}
for index = 1, budgetCount do
  if redis.call('HEXISTS', KEYS[budgetKeyBase + index * 2 - 1], 'spent') == 0 then
    unseeded[#unseeded + 1] = index - 1
  end
end
if #unseeded > 1 then return unseeded end

local totals = {}
local newest = {}
local currents = {}
for index = 1, windowCount do
  local key = KEYS[index]
  local limit = tonumber(ARGV[7 + index * 3 - 2])
  local amount = tonumber(ARGV[7 + index * 3 - 1])
  local bucketMs = tonumber(ARGV[7 + index * 3]) / 60
  if amount > limit then return {1, 1, index - 1, -1} end
  local current = math.floor(now / bucketMs)
  local fields = redis.call('HGETALL', key)
  local total = 0
  local latest = nil
  local stale = {}
  local live = {}
  for position = 1, #fields, 2 do
    local bucket = tonumber(fields[position])
    if bucket <= current - 60 then
      stale[#stale + 1] = fields[position]
    else
      local count = tonumber(fields[position + 1])
      total = total + count
      live[#live + 1] = {bucket, count}
      if count > 0 and (latest == nil or bucket > latest) then latest = bucket end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if total + amount > limit then
    table.sort(live, function(left, right) return left[1] < right[1] end)
    local excess = total + amount - limit
    local freed = 0
    for position = 1, #live do
      freed = freed + live[position][2]
      if freed >= excess then
        local wait = math.ceil((live[position][1] + 60) * bucketMs - now)
        if wait < 0 then wait = 0 end
        return {1, 1, index - 1, wait}
      end
    end
    return {1, 1, index - 1, -1}
  end
  totals[index] = total
  newest[index] = latest or -1
  currents[index] = current
end

for index = 1, slotCount do
  local key = KEYS[windowCount + index]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
  if redis.call('ZCARD', key) >= tonumber(ARGV[slotBase + index]) then return {1, 2, index - 1, ${slotRetryAfterMs}} end
end

local spents = {}
local reserveds = {}
local previous = {}
local field = 't:' .. ticket
for index = 1, budgetCount do
  local hash = KEYS[budgetKeyBase + index * 2 - 1]
  purgeReservations(hash, KEYS[budgetKeyBase + index * 2], ARGV[2])
  local limit = tonumber(ARGV[budgetBase + index * 2 - 1])
  local amount = tonumber(ARGV[budgetBase + index * 2])
  local state = redis.call('HMGET', hash, 'spent', 'reserved', field)
  local spent = tonumber(state[1])
  previous[index] = tonumber(state[3] or '0')
  local reserved = tonumber(state[2] or '0') - previous[index]
  if not (spent < limit and spent + reserved + amount <= limit) then return {1, 3, index - 1, -1} end
  spents[index] = spent
  reserveds[index] = reserved + amount
end

local reply = {2}
for index = 1, windowCount do
  local key = KEYS[index]
  local limit = tonumber(ARGV[7 + index * 3 - 2])
  local amount = tonumber(ARGV[7 + index * 3 - 1])
  local windowMs = tonumber(ARGV[7 + index * 3])
  local bucketMs = windowMs / 60
  local latest = newest[index]
  if amount > 0 then
    redis.call('HINCRBY', key, tostring(currents[index]), ARGV[7 + index * 3 - 1])
    redis.call('PEXPIRE', key, math.ceil(windowMs) + ${keyTtlMarginMs})
    if currents[index] > latest then latest = currents[index] end
  end
  local remaining = limit - totals[index] - amount
  if remaining < 0 then remaining = 0 end
  local reset = 0
  if latest >= 0 then
    reset = math.ceil((latest + 60) * bucketMs - now)
    if reset < 0 then reset = 0 end
  end
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset
end

for index = 1, slotCount do
  local key = KEYS[windowCount + index]
  redis.call('ZADD', key, ARGV[3], ticket)
  extendTtl(key, leaseMs + ${keyTtlMarginMs})
end

for index = 1, budgetCount do
  local hash = KEYS[budgetKeyBase + index * 2 - 1]
  local leases = KEYS[budgetKeyBase + index * 2]
  local amount = ARGV[budgetBase + index * 2]
  redis.call('HSET', hash, field, amount)
  redis.call('HINCRBY', hash, 'reserved', int(tonumber(amount) - previous[index]))
  redis.call('ZADD', leases, ARGV[3], ticket)
  local ttl = redis.call('PTTL', hash)
  if ttl > 0 then redis.call('PEXPIRE', leases, ttl) end
  reply[#reply + 1] = spents[index]
  reply[#reply + 1] = reserveds[index]
end
return reply
`;

/** KEYS: hash, leases. ARGV: spent, ttl ms. Set-if-absent; the lifetime only ever grows. */
const seedScript = `${luaHelpers}
local ttl = tonumber(ARGV[2])
if redis.call('HSETNX', KEYS[1], 'spent', ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  extendTtl(KEYS[1], ttl)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local current = redis.call('PTTL', KEYS[1])
  if current > 0 then redis.call('PEXPIRE', KEYS[2], current) end
end
return 1
`;

/**
 * KEYS: slot sets, then per budget its hash and its leases. ARGV: ticket, slot count, costs…
 * Returns per budget the spend after settling, or false where the budget is gone (it is not recreated).
 */
const settleScript = `${luaInteger}
local ticket = ARGV[1]
local slotCount = tonumber(ARGV[2])
local budgetCount = (#KEYS - slotCount) / 2
local field = 't:' .. ticket
for index = 1, slotCount do redis.call('ZREM', KEYS[index], ticket) end
local reply = {}
for index = 1, budgetCount do
  local hash = KEYS[slotCount + index * 2 - 1]
  if redis.call('HEXISTS', hash, 'spent') == 1 then
    local amount = redis.call('HGET', hash, field)
    if amount then
      redis.call('HDEL', hash, field)
      redis.call('HINCRBY', hash, 'reserved', int(-tonumber(amount)))
      redis.call('ZREM', KEYS[slotCount + index * 2], ticket)
    end
    reply[index] = redis.call('HINCRBY', hash, 'spent', ARGV[2 + index])
  else
    reply[index] = false
  end
end
return reply
`;

/** KEYS: windows. ARGV: now, then per correction windowMs, admittedAt, delta. */
const correctScript = `${luaInteger}
local now = tonumber(ARGV[1])
for index = 1, #KEYS do
  local key = KEYS[index]
  if redis.call('EXISTS', key) == 1 then
    local bucketMs = tonumber(ARGV[index * 3 - 1]) / 60
    local current = math.floor(now / bucketMs)
    local bucket = math.floor(tonumber(ARGV[index * 3]) / bucketMs)
    if bucket > current then bucket = current end
    if bucket > current - 60 then
      local field = tostring(bucket)
      local corrected = tonumber(redis.call('HGET', key, field) or '0') + tonumber(ARGV[index * 3 + 1])
      if corrected > 0 then redis.call('HSET', key, field, int(corrected)) else redis.call('HDEL', key, field) end
    end
  end
end
return 1
`;

/**
 * KEYS: slot sets, then budget leases. ARGV: ticket, now, new expiry, lease ms, slot count.
 * Only leases that have not lapsed are extended: a lapsed one may already have been counted free.
 */
const renewScript = `${luaHelpers}
local ticket = ARGV[1]
local now = tonumber(ARGV[2])
local expiresAt = tonumber(ARGV[3])
local slotCount = tonumber(ARGV[5])
for index = 1, #KEYS do
  local current = redis.call('ZSCORE', KEYS[index], ticket)
  if current and tonumber(current) > now and expiresAt > tonumber(current) then
    redis.call('ZADD', KEYS[index], 'XX', ARGV[3], ticket)
    if index <= slotCount then extendTtl(KEYS[index], tonumber(ARGV[4]) + ${keyTtlMarginMs}) end
  end
end
return 1
`;

/** KEYS: hash, leases. ARGV: now. Returns {spent, reserved} or false. */
const readBudgetScript = `${luaHelpers}
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then return false end
purgeReservations(KEYS[1], KEYS[2], ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'spent', 'reserved')
return {tonumber(state[1]), tonumber(state[2] or '0')}
`;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const scripts = {
  admit: script(admitScript),
  seed: script(seedScript),
  settle: script(settleScript),
  correct: script(correctScript),
  renew: script(renewScript),
  readBudget: script(readBudgetScript),
};

/**
 * Units and micro-USD are whole numbers; a fraction is rounded up here (rather than failing in HINCRBY, which would
 * look like an outage to the fallback store).
 */
function whole(value: number): number {
  return Math.ceil(value);
}

const refusalKinds = ['window', 'slot', 'budget'] as const;

/**
 * Traffic state in Redis, shared by every instance. Each operation is one Lua script, so an admission checks every
 * window, slot and budget and takes them all in one atomic round trip. Redis trouble is never waited out: commands
 * fail at once while disconnected (no offline queue, no retries) and time out when Redis hangs; the client keeps
 * reconnecting on its own. Callers (the fallback store) answer failed calls locally.
 */
export class RedisTrafficStore implements TrafficStore {
  readonly #client: Redis;
  readonly #prefix: string;
  #closed = false;

  constructor(options: RedisTrafficStoreOptions) {
    this.#prefix = options.prefix ?? 'aihub:traffic:';
    this.#client = new Redis(options.url, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    // Connection errors surface as rejected commands, which the caller handles; the event only must not crash.
    this.#client.on('error', () => {});
  }

  /** Whether the connection is up (for readiness reports and tests). */
  get connected(): boolean {
    return this.#client.status === 'ready';
  }

  /** Resolves once connected, or rejects after `timeoutMs` (start-up and tests; requests never wait for it). */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#client.off('ready', onReady);
        reject(new Error(`Redis was not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#client.once('ready', onReady);
    });
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { windows, slots, budgets } = request;
    const keys: string[] = [];
    const args: (string | number)[] = [
      request.ticket,
      request.now,
      request.now + request.leaseMs,
      request.leaseMs,
      windows.length,
      slots.length,
      budgets.length,
    ];
    for (const check of windows) {
      keys.push(this.#windowKey(check.key));
      args.push(check.limit, whole(check.amount), check.windowMs);
    }
    for (const check of slots) {
      keys.push(this.#slotKey(check.key));
      args.push(check.limit);
    }
    for (const check of budgets) {
      keys.push(this.#budgetKey(check.key), this.#leasesKey(check.key));
      args.push(check.limit, whole(check.amount));
    }
    const reply = (await this.#run(scripts.admit, keys, args)) as number[];
    const outcome = reply[0];
    if (outcome === 0) return { outcome: 'unseeded', budgetIndexes: reply.slice(1) };
    if (outcome === 1) {
      const retryAfterMs = reply[3]!;
      return {
        outcome: 'refused',
        kind: refusalKinds[reply[1]! - 1]!,
        index: reply[2]!,
        retryAfterMs: retryAfterMs < 0 ? undefined : retryAfterMs,
      };
    }
    const windowStates: WindowState[] = new Array<WindowState>(windows.length);
    for (let index = 0; index < windows.length; index += 1) {
      windowStates[index] = { remaining: reply[1 + index * 2]!, resetMs: reply[2 + index * 2]! };
    }
    const budgetBase = 1 + windows.length * 2;
    const budgetStates: BudgetState[] = new Array<BudgetState>(budgets.length);
    for (let index = 0; index < budgets.length; index += 1) {
      budgetStates[index] = { spent: reply[budgetBase + index * 2]!, reserved: reply[budgetBase + index * 2 + 1]! };
    }
    return { outcome: 'admitted', windows: windowStates, budgets: budgetStates };
  }

  async seedBudget(key: string, spent: number, ttlMs: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    await this.#run(scripts.seed, [this.#budgetKey(key), this.#leasesKey(key)], [whole(spent), ttl]);
  }

  async settle(
    ticket: string,
    slotKeys: readonly string[],
    budgets: readonly BudgetSettlement[],
  ): Promise<readonly (number | undefined)[]> {
    const keys = slotKeys.map((key) => this.#slotKey(key));
    const args: (string | number)[] = [ticket, slotKeys.length];
    for (const settlement of budgets) {
      keys.push(this.#budgetKey(settlement.key), this.#leasesKey(settlement.key));
      args.push(whole(settlement.cost));
    }
    const reply = (await this.#run(scripts.settle, keys, args)) as (number | null)[];
    const spent: (number | undefined)[] = new Array<number | undefined>(budgets.length);
    for (let index = 0; index < budgets.length; index += 1) spent[index] = reply[index] ?? undefined;
    return spent;
  }

  async correct(corrections: readonly WindowCorrection[], now: number): Promise<void> {
    if (corrections.length === 0) return;
    const keys: string[] = [];
    const args: number[] = [now];
    for (const correction of corrections) {
      keys.push(this.#windowKey(correction.key));
      args.push(correction.windowMs, correction.admittedAt, Math.round(correction.delta));
    }
    await this.#run(scripts.correct, keys, args);
  }

  async renew(
    ticket: string,
    slotKeys: readonly string[],
    budgetKeys: readonly string[],
    now: number,
    leaseMs: number,
  ): Promise<void> {
    if (slotKeys.length === 0 && budgetKeys.length === 0) return;
    const keys = slotKeys.map((key) => this.#slotKey(key));
    for (const key of budgetKeys) keys.push(this.#leasesKey(key));
    await this.#run(scripts.renew, keys, [ticket, now, now + leaseMs, leaseMs, slotKeys.length]);
  }

  async readBudget(key: string, now: number): Promise<BudgetState | undefined> {
    const reply = (await this.#run(scripts.readBudget, [this.#budgetKey(key), this.#leasesKey(key)], [now])) as
      [number, number] | null;
    return reply === null ? undefined : { spent: reply[0], reserved: reply[1] };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.disconnect();
  }

  /** EVALSHA, loading the script with EVAL only when Redis does not know it yet (first use, or after a restart). */
  async #run(target: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(target.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.#client.eval(target.source, keys.length, ...keys, ...args);
    }
  }

  #windowKey(key: string): string {
    return `${this.#prefix}w:${key}`;
  }

  #slotKey(key: string): string {
    return `${this.#prefix}s:${key}`;
  }

  #budgetKey(key: string): string {
    return `${this.#prefix}b:${key}`;
  }

  #leasesKey(key: string): string {
    return `${this.#prefix}bl:${key}`;
  }
}
