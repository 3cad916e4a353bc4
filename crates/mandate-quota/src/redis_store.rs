//! The Redis-backed store: one Lua script checks and charges all buckets of a request
//! atomically on the server, with the server's clock (`TIME`) as the only time source.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use crate::window::GRANULES;
use crate::{
    BucketStatus, Charge, ChargeOutcome, ChargeResult, QuotaStore, Settlement, StoreError,
};

/// Options of a [`RedisStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Connect, read and write timeout of each Redis operation, in ms (default 200).
    pub timeout_ms: u64,
    /// Prefix of every key the store writes (default `"mandate:"`).
    pub key_prefix: String,
    /// How long a reservation can be settled or refunded, in ms (default one hour); Redis
    /// forgets it after twice this time.
    pub reservation_ttl_ms: u64,
    /// Connections kept open (default 4).
    pub pool_size: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout_ms: 200,
            key_prefix: "mandate:".to_owned(),
            reservation_ttl_ms: 3_600_000,
            pool_size: 4,
        }
    }
}

/// Lua numbers are doubles: integers are exact up to 2^53, so limits, costs and windows are
/// clamped to this (a smaller limit never admits more).
const MAX_EXACT: u64 = (1 << 53) - 1;

/// The check-and-charge script (also used for dry runs and status).
///
/// KEYS: the bucket keys, then the reservation key when a reservation id is given.
/// ARGV: granules per window, mode (`charge`, `dry` or `status`), reservation id or empty,
/// reservation TTL in ms, n, then limit, window, cost and settles (`1` or `0`) of each charge.
/// Returns `{admitted, now, used1, ok1, retry1, reset1, ...}` or `{-1}` for a duplicate
/// reservation id.
pub const CHARGE_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local granules = tonumber(ARGV[1])
local mode = ARGV[2]
local reservation = ARGV[3]
local ttl = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
if mode == 'charge' and reservation ~= '' and redis.call('EXISTS', KEYS[n + 1]) == 1 then
  return {-1}
end
local results = {1, now}
local admitted = 1
local plans = {}
local pending = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 + 4 * i])
  local window = tonumber(ARGV[3 + 4 * i])
  local cost = tonumber(ARGV[4 + 4 * i])
  local settles = ARGV[5 + 4 * i] == '1'
  if window < 1 then window = 1 end
  local g = math.ceil(window / granules)
  if g < 1 then g = 1 end
  local raw = redis.call('HGETALL', KEYS[i])
  local ks = {}
  local counts = {}
  local head = -1
  for j = 1, #raw, 2 do
    local k = tonumber(raw[j])
    counts[k] = tonumber(raw[j + 1])
    ks[#ks + 1] = k
    if k > head then head = k end
  end
  local t = now
  if head >= 0 and head * g > t then t = head * g end
  local lo = math.floor(math.max(t - (window - 1), 0) / g)
  table.sort(ks)
  local used = 0
  local live = {}
  for _, k in ipairs(ks) do
    if k >= lo then
      used = used + counts[k]
      live[#live + 1] = k
    elseif mode == 'charge' then
      redis.call('HDEL', KEYS[i], string.format('%d', k))
    end
  end
  used = used + (pending[KEYS[i]] or 0)
  local ok = 0
  local retry = -1
  if cost == 0 or used + cost <= limit then
    ok = 1
    retry = 0
  elseif cost <= limit then
    local left = used
    for _, k in ipairs(live) do
      left = left - counts[k]
      if left + cost <= limit then
        retry = (k + 1) * g + window - 1 - now
        if retry < 0 then retry = 0 end
        break
      end
    end
  end
  if ok == 0 then admitted = 0 end
  pending[KEYS[i]] = (pending[KEYS[i]] or 0) + cost
  local reset = -1
  for j = #live, 1, -1 do
    if counts[live[j]] > 0 then
      reset = (live[j] + 1) * g + window - 1
      break
    end
  end
  results[#results + 1] = used
  results[#results + 1] = ok
  results[#results + 1] = retry
  results[#results + 1] = reset
  plans[i] = {g, t, window, cost, settles}
end
results[1] = admitted
if mode == 'charge' and admitted == 1 then
  local rk = KEYS[n + 1]
  local m = 0
  for i = 1, n do
    local g, t, window, cost, settles = plans[i][1], plans[i][2], plans[i][3], plans[i][4], plans[i][5]
    local k = math.floor(t / g)
    if cost > 0 then
      redis.call('HINCRBY', KEYS[i], string.format('%d', k), string.format('%d', cost))
      local keep = (k + 1) * g + window - now
      if redis.call('PTTL', KEYS[i]) < keep then
        redis.call('PEXPIRE', KEYS[i], string.format('%d', keep))
      end
    end
    if reservation ~= '' and settles then
      m = m + 1
      redis.call('HSET', rk, 'k' .. m, KEYS[i], 'w' .. m, string.format('%d', window),
        'g' .. m, string.format('%d', k), 'a' .. m, string.format('%d', cost))
    end
  end
  if reservation ~= '' then
    redis.call('HSET', rk, 't', string.format('%d', now), 'n', string.format('%d', m), 's', 'open')
    redis.call('PEXPIRE', rk, string.format('%d', math.max(2 * ttl, 1)))
  end
end
return results
";

/// The settle/refund script.
///
/// KEYS: the reservation key. ARGV: granules per window, `settle` or `refund`, the actual
/// units, the reservation TTL in ms. Returns `{0, reserved, actual}`, or `{-1}` (unknown),
/// `{-2}` (expired) or `{-3}` (already settled).
pub const FINISH_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then return {-1} end
local f = {}
for j = 1, #raw, 2 do f[raw[j]] = raw[j + 1] end
if f['s'] == 'settled' then return {-3} end
if now >= tonumber(f['t']) + tonumber(ARGV[4]) then return {-2} end
local granules = tonumber(ARGV[1])
local target = 0
if ARGV[2] == 'settle' then target = tonumber(ARGV[3]) end
local n = tonumber(f['n'])
local reserved = 0
for i = 1, n do
  local key = f['k' .. i]
  local window = tonumber(f['w' .. i])
  local k = tonumber(f['g' .. i])
  local amount = tonumber(f['a' .. i])
  reserved = reserved + amount
  local g = math.ceil(window / granules)
  if g < 1 then g = 1 end
  local lo = math.floor(math.max(now - (window - 1), 0) / g)
  local delta = target - amount
  if delta > 0 then
    local into = k
    if k < lo then into = math.floor(now / g) end
    redis.call('HINCRBY', key, string.format('%d', into), string.format('%d', delta))
    local keep = (math.max(into, math.floor(now / g)) + 1) * g + window - now
    if redis.call('PTTL', key) < keep then
      redis.call('PEXPIRE', key, string.format('%d', keep))
    end
  elseif delta < 0 and k >= lo then
    local field = string.format('%d', k)
    local value = redis.call('HGET', key, field)
    local current = 0
    if value then current = tonumber(value) end
    local left = current + delta
    if left <= 0 then
      redis.call('HDEL', key, field)
    else
      redis.call('HSET', key, field, string.format('%d', left))
    end
  end
end
redis.call('HSET', KEYS[1], 's', 'settled')
return {0, reserved, target * n}
";

/// A [`QuotaStore`] in Redis, shared by every node that uses the same Redis and key prefix.
pub struct RedisStore {
    client: redis::Client,
    options: RedisOptions,
    pool: Box<[Mutex<Option<redis::Connection>>]>,
    next: AtomicUsize,
    charge_script: redis::Script,
    finish_script: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisStore")
            .field(
                "server",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn map_error(error: &redis::RedisError) -> StoreError {
    if error.is_timeout() {
        StoreError::Timeout(error.to_string())
    } else if error.is_connection_refusal()
        || error.is_io_error()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
    {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Protocol(error.to_string())
    }
}

fn clamp(value: u64) -> u64 {
    value.min(MAX_EXACT)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl RedisStore {
    /// Connects to Redis at `url` (`redis://host:port/db`) and checks it answers `PING`.
    pub fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|error| StoreError::Protocol(format!("invalid Redis url: {error}")))?;
        let size = options.pool_size.max(1);
        let store = Self {
            client,
            options,
            pool: (0..size).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            charge_script: redis::Script::new(CHARGE_SCRIPT),
            finish_script: redis::Script::new(FINISH_SCRIPT),
        };
        store.with_connection(|connection| redis::cmd("PING").query::<String>(connection))?;
        Ok(store)
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.options.timeout_ms.max(1))
    }

    fn slot(&self) -> Option<MutexGuard<'_, Option<redis::Connection>>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let size = self.pool.len();
        for offset in 0..size {
            if let Some(slot) = self.pool.get((start + offset) % size) {
                match slot.try_lock() {
                    Ok(guard) => return Some(guard),
                    Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
                    Err(TryLockError::WouldBlock) => {}
                }
            }
        }
        // Every connection is busy: wait for one. The pool is never empty.
        let index = start % size.max(1);
        self.pool
            .get(index)
            .map(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `operation` on a pooled connection, connecting lazily; a connection that failed
    /// is dropped so the next call reconnects.
    fn with_connection<T>(
        &self,
        operation: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let Some(mut slot) = self.slot() else {
            return Err(StoreError::Unavailable("empty connection pool".to_owned()));
        };
        if slot.is_none() {
            let connection = self
                .client
                .get_connection_with_timeout(self.timeout())
                .map_err(|error| map_error(&error))?;
            connection
                .set_read_timeout(Some(self.timeout()))
                .map_err(|error| map_error(&error))?;
            connection
                .set_write_timeout(Some(self.timeout()))
                .map_err(|error| map_error(&error))?;
            *slot = Some(connection);
        }
        let Some(connection) = slot.as_mut() else {
            return Err(StoreError::Unavailable("no connection".to_owned()));
        };
        operation(connection).map_err(|error| {
            if error.is_timeout()
                || error.is_io_error()
                || error.is_connection_dropped()
                || error.is_unrecoverable_error()
            {
                *slot = None;
            }
            map_error(&error)
        })
    }

    fn bucket_key(&self, quota: &str, bucket: &str) -> String {
        format!(
            "{}b:{}:{quota}:{bucket}",
            self.options.key_prefix,
            quota.len()
        )
    }

    fn reservation_key(&self, id: &str) -> String {
        format!("{}r:{id}", self.options.key_prefix)
    }

    fn run_charge(
        &self,
        charges: &[Charge],
        mode: &str,
        reservation: Option<&str>,
    ) -> Result<(bool, u64, Vec<[i64; 4]>), StoreError> {
        let mut invocation = self.charge_script.prepare_invoke();
        for charge in charges {
            invocation.key(self.bucket_key(&charge.quota, &charge.bucket));
        }
        if let Some(id) = reservation {
            invocation.key(self.reservation_key(id));
        }
        invocation
            .arg(GRANULES)
            .arg(mode)
            .arg(reservation.unwrap_or(""))
            .arg(clamp(self.options.reservation_ttl_ms))
            .arg(charges.len());
        for charge in charges {
            let cost = if mode == "status" {
                0
            } else {
                clamp(charge.cost)
            };
            invocation
                .arg(clamp(charge.limit))
                .arg(clamp(charge.window_ms))
                .arg(cost)
                .arg(u8::from(charge.settles));
        }
        let reply: Vec<i64> = self.with_connection(|connection| invocation.invoke(connection))?;
        let mut values = reply.into_iter();
        let admitted = match values.next() {
            Some(-1) => {
                return Err(StoreError::DuplicateReservation(
                    reservation.unwrap_or("").to_owned(),
                ));
            }
            Some(flag) => flag == 1,
            None => {
                return Err(StoreError::Protocol(
                    "empty reply from the charge script".to_owned(),
                ));
            }
        };
        let now = values.next().map(to_u64).unwrap_or(0);
        let mut rows = Vec::with_capacity(charges.len());
        for _ in charges {
            let mut row = [0i64; 4];
            for cell in &mut row {
                *cell = values.next().ok_or_else(|| {
                    StoreError::Protocol("short reply from the charge script".to_owned())
                })?;
            }
            rows.push(row);
        }
        Ok((admitted, now, rows))
    }

    fn finish(&self, id: &str, actual: Option<u64>) -> Result<Settlement, StoreError> {
        let mut invocation = self.finish_script.prepare_invoke();
        invocation
            .key(self.reservation_key(id))
            .arg(GRANULES)
            .arg(if actual.is_some() { "settle" } else { "refund" })
            .arg(clamp(actual.unwrap_or(0)))
            .arg(clamp(self.options.reservation_ttl_ms));
        let reply: Vec<i64> = self.with_connection(|connection| invocation.invoke(connection))?;
        match reply.as_slice() {
            [-1, ..] => Err(StoreError::UnknownReservation(id.to_owned())),
            [-2, ..] => Err(StoreError::ReservationExpired(id.to_owned())),
            [-3, ..] => Err(StoreError::AlreadySettled(id.to_owned())),
            [0, reserved, actual, ..] => Ok(Settlement {
                reservation: id.to_owned(),
                reserved: to_u64(*reserved),
                actual: to_u64(*actual),
            }),
            _ => Err(StoreError::Protocol(
                "unexpected reply from the settle script".to_owned(),
            )),
        }
    }
}

impl QuotaStore for RedisStore {
    fn charge(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
    ) -> Result<ChargeResult, StoreError> {
        let reservation = reservation.filter(|_| !dry_run);
        let mode = if dry_run { "dry" } else { "charge" };
        let (admitted, at_ms, rows) = self.run_charge(charges, mode, reservation)?;
        let outcomes = charges
            .iter()
            .zip(rows)
            .map(|(charge, [used, ok, retry, _reset])| {
                let used = to_u64(used);
                ChargeOutcome {
                    quota: charge.quota.clone(),
                    bucket: charge.bucket.clone(),
                    limit: charge.limit,
                    window_ms: charge.window_ms,
                    cost: charge.cost,
                    used,
                    remaining: if admitted {
                        charge
                            .limit
                            .saturating_sub(used.saturating_add(charge.cost))
                    } else {
                        charge.limit.saturating_sub(used)
                    },
                    admitted: ok == 1,
                    retry_after_ms: u64::try_from(retry).ok(),
                }
            })
            .collect();
        Ok(ChargeResult {
            admitted,
            at_ms,
            outcomes,
        })
    }

    fn settle(&self, reservation: &str, actual: u64) -> Result<Settlement, StoreError> {
        self.finish(reservation, Some(actual))
    }

    fn refund(&self, reservation: &str) -> Result<Settlement, StoreError> {
        self.finish(reservation, None)
    }

    fn status(&self, buckets: &[Charge]) -> Result<Vec<BucketStatus>, StoreError> {
        let (_, _, rows) = self.run_charge(buckets, "status", None)?;
        Ok(buckets
            .iter()
            .zip(rows)
            .map(|(charge, [used, _, _, reset])| {
                let used = to_u64(used);
                BucketStatus {
                    quota: charge.quota.clone(),
                    bucket: charge.bucket.clone(),
                    limit: charge.limit,
                    window_ms: charge.window_ms,
                    used,
                    remaining: charge.limit.saturating_sub(used),
                    reset_ms: u64::try_from(reset).ok(),
                }
            })
            .collect())
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
