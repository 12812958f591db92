-- What the benchmarks (concurrency.lua, floors.lua, stop100k.lua, reference.lua, and
-- bench/fleet/fleet.lua) share: progress lines, BENCH_* settings, the median, reading a
-- child's output, files of ids. Run from the repository root, with
--   package.path = "bench/stop/?.lua;" .. package.path
--   local common = require "common"
local M = {}

-- A progress line on stderr (stdout is the table).
function M.log(fmt, ...) io.stderr:write(fmt:format(...), "\n") end

-- Environment variable name as a number, default when unset or not a number.
function M.num(name, default) return tonumber(os.getenv(name) or "") or default end

-- Environment variable name (default when unset) as a list: its words, or with
-- numbers = true its whole numbers ("1 8 16" -> { 1, 8, 16 }).
function M.list(name, default, numbers)
  local out = {}
  for w in (os.getenv(name) or default):gmatch(numbers and "%d+" or "%S+") do
    out[#out + 1] = numbers and tonumber(w) or w
  end
  return out
end

-- Sorts xs in place (by less, when given) and returns its middle element: the median of
-- an odd count, the lower of the two middle ones of an even count. After it xs[1] and
-- xs[#xs] are the smallest and the largest.
function M.median(xs, less)
  table.sort(xs, less)
  return xs[math.floor((#xs + 1) / 2)]
end

--- A file's whole text; raises when it cannot be read.
function M.read(path) return (assert(require("fakecloud.proc").read(path))) end

--- The fields of a `key=value ...` line, numbers as numbers.
function M.kv(line)
  local t = {}
  for k, v in line:gmatch("(%S+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

--- Writes the first n ids of the emulator's ECS fleet (fleet index i -> server_id), one a
-- line, to `<dir>/<prefix>_<n>.txt`; returns the path.
function M.write_ids(dir, prefix, n)
  local ids = require "fakecloud.ids"
  local path = ("%s/%s_%d.txt"):format(dir, prefix, n)
  local f = assert(io.open(path, "wb"))
  for i = 1, n do f:write(ids.server_id("ecs", i), "\n") end
  f:close()
  return path
end

return M
