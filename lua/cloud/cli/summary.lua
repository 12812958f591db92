--- The human summary on stdout: how many stopped, every failure with code, message and
-- request id, what was skipped and why; and the dry-run listing.
-- @module cloud.cli.summary
local errors = require "cloud.errors"
local safe = require "cloud.cli.safe"

local M = {}

local SAMPLE = 10 -- skipped servers shown one per line; the rest are counted

local function pad(s, n)
  s = tostring(s or "-")
  if #s >= n then return s end
  return s .. (" "):rep(n - #s)
end

-- Anything the cloud sent, as text safe to print (cloud.cli.safe): one line, its control
-- bytes written out.
local one_line = safe.text

-- "100 protected, 300 already SHUTOFF" in first-seen order.
local function reasons(skipped)
  local order, count = {}, {}
  for _, s in ipairs(skipped) do
    local r = s.reason or "?"
    if not count[r] then order[#order + 1] = r count[r] = 0 end
    count[r] = count[r] + 1
  end
  local parts = {}
  for _, r in ipairs(order) do parts[#parts + 1] = count[r] .. " " .. one_line(r) end
  return table.concat(parts, ", ")
end

local function server_rows(w, list, limit, with_reason)
  local n = math.min(#list, limit or #list)
  for i = 1, n do
    local s = list[i]
    w(("  %s  %s  %s%s\n"):format(pad(one_line(s.id), 36), pad(one_line(s.name), 20), pad(one_line(s.status), 8),
      with_reason and ("  " .. one_line(s.reason)) or ""))
  end
  if #list > n then w(("  ... and %d more (--json lists them all)\n"):format(#list - n)) end
end

local function skipped_block(w, skipped)
  if #skipped == 0 then return end
  w(("Skipped %d: %s\n"):format(#skipped, reasons(skipped)))
  server_rows(w, skipped, SAMPLE, true)
end

--- Writes the summary of a finished stop.
-- @param out file handle (stdout)
-- @tparam table res the result (library shape)
-- @tparam string service "ecs" or "bms"
-- @tparam number elapsed seconds
-- @tparam boolean no_wait the stops were not waited for (stopped means accepted)
function M.result(out, res, service, elapsed, no_wait)
  local function w(s) out:write(s) end
  local kind = service:upper()
  w(("%s: %d of %d %s, %d failed, %d skipped (%.1fs)\n"):format(kind, #res.stopped, res.requested,
    no_wait and "accepted for stopping (not waited for)" or "stopped", #res.failed, #res.skipped, elapsed))
  if #res.failed > 0 then
    w(("Failed %d:\n"):format(#res.failed))
    w(("  %s  %s  %s  %s\n"):format(pad("ID", 36), pad("CODE", 16), pad("REQUEST ID", 36), "MESSAGE"))
    for _, f in ipairs(res.failed) do
      w(("  %s  %s  %s  %s\n"):format(pad(one_line(f.id), 36), pad(one_line(f.code), 16),
        pad(one_line(f.request_id), 36), one_line(f.message)))
    end
  end
  skipped_block(w, res.skipped)
  -- Not waited for: the job ids are how to follow the stops up later.
  if no_wait and #res.jobs > 0 then
    w(("Jobs %d:\n"):format(#res.jobs))
    for _, j in ipairs(res.jobs) do w(("  %s  %d servers\n"):format(one_line(j.job_id), #j.ids)) end
  end
end

--- Writes what a dry run would stop (every selected server) and what it would skip.
function M.dry_run(out, res, service)
  local function w(s) out:write(s) end
  local sel = res.selected
  w(("Dry run: would stop %d %s server%s; nothing was sent.\n"):format(#sel, service:upper(),
    #sel == 1 and "" or "s"))
  if #sel > 0 then
    w(("  %s  %s  %s\n"):format(pad("ID", 36), pad("NAME", 20), "STATUS"))
    server_rows(w, sel)
  end
  skipped_block(w, res.skipped)
end

--- Writes why nothing could be attempted (stderr): the error's code, message, request id.
function M.error(out, err)
  out:write("cloud-stop: nothing was stopped: ", one_line(errors.format(err)), "\n")
end

--- Short sample of a selection for the confirmation question (stderr).
function M.sample(out, selected, skipped, service, n)
  out:write(("About to stop %d %s server%s"):format(#selected, service:upper(),
    #selected == 1 and "" or "s"))
  if #skipped > 0 then out:write((" (skipping %d: %s)"):format(#skipped, reasons(skipped))) end
  out:write(":\n")
  for i = 1, math.min(n, #selected) do
    local s = selected[i]
    out:write(("  %s  %s  %s\n"):format(pad(one_line(s.id), 36), pad(one_line(s.name), 20), one_line(s.status)))
  end
  if #selected > n then out:write(("  ... and %d more\n"):format(#selected - n)) end
end

return M
