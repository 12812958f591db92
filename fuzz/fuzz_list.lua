-- Fuzzes the list-answer reader. List answers are decoded by lua-cjson (no C of ours
-- reads them), so this target runs in Lua: mutated answers go through the library's
-- decoding (cloud.net.answer, cloud.base.json), servers.read_page, and servers.fetch driven by a
-- scheduler stand-in that answers each page with another mutated answer, in any order,
-- some failing. It checks that nothing raises, that what is taken is a page of at most
-- 1000 servers with a count of 0 to defaults.list.max_count, that no more than
-- servers.WINDOW pages are ever asked for at once nor more pages than the first count
-- allows, and that the fetch ends exactly once, with every server of the pages it read.
-- usage: lua5.4 fuzz/fuzz_list.lua <corpus dir> <seconds> <crash dir> [seed]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local answer = require "cloud.net.answer"
local servers = require "cloud.op.servers"
local defaults = require "cloud.base.defaults"

local corpus_dir, seconds, crash_dir, seed = arg[1], tonumber(arg[2] or "60"), arg[3], tonumber(arg[4] or "1")
assert(corpus_dir and crash_dir, "usage: fuzz_list.lua <corpus dir> <seconds> <crash dir> [seed]")
math.randomseed(seed)
local random = math.random

local seeds = {}
for name in io.popen("ls " .. corpus_dir):lines() do
  local f = assert(io.open(corpus_dir .. "/" .. name, "rb"))
  seeds[#seeds + 1] = f:read("*a")
  f:close()
end
assert(#seeds > 0, "empty corpus")

-- Values a hostile cloud might put anywhere a number or a string goes.
local TOKENS = { "1e400", "-1e400", "1e9", "1000000", "1000001", "999999", "-1", "0", "2.5", "NaN", "null",
  "true", "\"\"", "\"1e400\"", "[]", "{}", "[[[[[[[[", "\"\\u0000\"", "\"\\ud800\"", "18446744073709551616",
  "0.0000001", "-0", "1E3", "\"count\"", ",", ":", "\"servers\":[", "]", "}" }

local function mutate(s)
  for _ = 1, random(1, 6) do
    local n = #s
    local op = random(1, 7)
    local at = random(1, n + 1)
    if op == 1 and n > 0 then -- flip a byte
      s = s:sub(1, at - 1) .. string.char(random(0, 255)) .. s:sub(at + 1)
    elseif op == 2 then -- insert a token
      s = s:sub(1, at - 1) .. TOKENS[random(#TOKENS)] .. s:sub(at)
    elseif op == 3 and n > 0 then -- delete a run
      s = s:sub(1, at - 1) .. s:sub(at + random(1, 16))
    elseif op == 4 then -- replace a number
      s = s:gsub("%-?%d[%d.eE+%-]*", function() if random() < 0.3 then return TOKENS[random(10)] end end)
    elseif op == 5 then -- splice another seed
      local o = seeds[random(#seeds)]
      s = s:sub(1, at - 1) .. o:sub(random(1, #o + 1))
    elseif op == 6 and n > 0 and n < 65536 then -- repeat a run (many servers)
      local len = random(1, 64)
      s = s:sub(1, at - 1) .. s:sub(at, at + len - 1):rep(random(2, 40)) .. s:sub(at)
    else -- an honest page of many servers
      local list = {}
      for i = 1, random(0, 1200) do list[i] = ('{"id":"s%d"}'):format(i) end
      s = ('{"count":%s,"servers":[%s]}'):format(TOKENS[random(10)], table.concat(list, ","))
    end
  end
  return s
end

local failures = 0
local function fail(input, why)
  failures = failures + 1
  local path = ("%s/list-%d-%d"):format(crash_dir, seed, failures)
  local f = assert(io.open(path, "wb"))
  f:write(input)
  f:close()
  io.stderr:write("fuzz_list: ", why, " (input in ", path, ")\n")
end

local MAX_COUNT, PAGE, WINDOW = defaults.list.max_count, servers.PAGE, servers.WINDOW

-- One answer through the decoder and read_page.
local function read_one(body)
  local data = answer.decode(body)
  if data == nil then return end
  local list, n = servers.read_page(data)
  if list then
    if type(list) ~= "table" or #list > PAGE then return "a page of more than " .. PAGE .. " servers taken" end
    if type(n) ~= "number" or n ~= n or n < 0 or n > MAX_COUNT or n % 1 ~= 0 then
      return "count " .. tostring(n) .. " taken"
    end
  elseif type(n) ~= "string" then
    return "a refusal without a reason"
  end
end

-- servers.fetch over answers made from `first` (page 1) and mutations for the rest.
local function fetch_one(first)
  local queue, in_flight, most, asked = {}, 0, 0, 0
  local sched = {}
  function sched:request(call, on_done) -- luacheck: ignore self
    in_flight, asked = in_flight + 1, asked + 1
    most = math.max(most, in_flight)
    queue[#queue + 1] = { call = call, on_done = on_done }
  end
  local ended, got, err = 0, nil, nil
  servers.fetch(sched, "p", "ecs", {}, function(list, e)
    ended, got, err = ended + 1, list, e
  end)
  local first_count
  while #queue > 0 do
    local k = random(#queue) -- answers come back in any order
    local q = table.remove(queue, k)
    in_flight = in_flight - 1
    local page = q.call.query.offset
    -- Past 20 pages an empty one ends the listing (each iteration stays short).
    local body = page == 1 and first or page > 20 and '{"count":0,"servers":[]}'
      or (random() < 0.7 and first or mutate(first))
    local data = answer.decode(body)
    local r
    if random() < 0.05 then
      r = { ok = false, err = { code = "cloud.timeout", message = "injected" } }
    elseif type(data) == "table" then
      r = { ok = true, data = data, status = 200 }
      if page == 1 then first_count = select(2, servers.read_page(data)) end
    else
      r = { ok = false, err = { code = "cloud.bad_response", message = "not JSON" } }
    end
    q.on_done(r)
    if most > WINDOW then return "more than " .. WINDOW .. " pages asked for at once" end
  end
  if ended ~= 1 then return "the fetch ended " .. ended .. " times" end
  if got and type(first_count) == "number" and asked > math.max(1, math.ceil(first_count / PAGE)) then
    return ("%d pages asked for, the count %s allows %d"):format(asked, tostring(first_count),
      math.ceil(first_count / PAGE))
  end
  if got == nil and err == nil then return "ended with neither servers nor an error" end
end

local t_end = os.time() + seconds -- wall-clock seconds, like libFuzzer's max_total_time
local runs = 0
while os.time() < t_end do
  local input = mutate(seeds[random(#seeds)])
  local ok, why = pcall(read_one, input)
  if not ok then fail(input, "raised: " .. tostring(why))
  elseif why then fail(input, why) end
  ok, why = pcall(fetch_one, input)
  if not ok then fail(input, "fetch raised: " .. tostring(why))
  elseif why then fail(input, why) end
  runs = runs + 1
end
print(("fuzz_list: %d executions in %ds, %d failures"):format(runs, seconds, failures))
os.exit(failures == 0 and 0 or 1)
