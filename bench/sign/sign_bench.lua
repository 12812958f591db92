-- ns per core.sign call for two vector requests (fixed date), best of several rounds.
-- Run from the repository root:  LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/sign/sign_bench.lua
-- Prints one line per request:  sign impl=<lua> request=<name> ns_per_call=<n> ...
package.path = "spec/?.lua;tools/?.lua;" .. package.path
local core = require "cloud.core"
local vectors = require "support.vectors"

local REQUESTS = { "ecs_stop_seed_hard", "ecs_stop_1000_ids" }
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "") or 7
local ROUND_SECONDS = tonumber(os.getenv("BENCH_ROUND_SECONDS") or "") or 0.25
local impl = jit and "luajit" or _VERSION:gsub("Lua ", "lua")

local by_name = {}
for _, v in ipairs(vectors.load()) do by_name[v.name] = v end

-- n calls of `sign` (core.sign or core.sign_for_sending), a local in the loop, so both
-- are timed alike (no wrapper call in the loop for one of them).
local function time_loop(sign, opts, n)
  local t0 = os.clock()
  for _ = 1, n do sign(opts) end
  return os.clock() - t0
end

for _, name in ipairs(REQUESTS) do
  local v = assert(by_name[name], name)
  local opts = vectors.options(v)
  -- The client signs with its SK held as a core.secret (keyed once, wiped on collection).
  opts.sk = core.secret(opts.sk)
  -- Same work as the vector: refuse to time a signer that gives another answer.
  assert(core.sign(opts).authorization == v.expected.authorization, name .. ": authorization differs")

  -- core.sign(opts) returns the signature and its parts; the client calls
  -- core.sign_for_sending(opts), which returns only what is sent (headers, path, query).
  for _, way in ipairs({ { impl, core.sign }, { impl .. "-send", core.sign_for_sending } }) do
    local label, sign = way[1], way[2]
    -- Calibrate so one round takes about ROUND_SECONDS (os.clock is CPU time).
    local n = 1
    while time_loop(sign, opts, n) < ROUND_SECONDS / 10 do n = n * 2 end
    n = math.max(1, math.floor(n * ROUND_SECONDS / time_loop(sign, opts, n) + 0.5))

    local best = math.huge
    for _ = 1, ROUNDS do
      collectgarbage()
      best = math.min(best, time_loop(sign, opts, n) / n)
    end
    print(string.format("sign impl=%s request=%s body_bytes=%d ns_per_call=%.0f iters=%d rounds=%d",
      label, name, #(opts.body or ""), best * 1e9, n, ROUNDS))
  end
end
