--- The human summary on stdout: how many stopped (or started), every failure with code,
-- message and request id, what was skipped and why; and the dry-run listing. Each function
-- takes the command's words (cloud.cli.words), cloud-stop's when nil.
-- @module cloud.cli.summary
local errors = require "cloud.errors"
local safe = require "cloud.cli.safe"
local words = require "cloud.cli.words"

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

-- A library error as a CLI user reads it: the options it names as the flags that set them.
local function error_text(err, wd)
  if err.code == "cloud.max_servers" and err.count and err.limit then
    return ("cloud.max_servers: refusing to %s %d servers, more than --max-servers %d; nothing was sent"):format(
      wd.verb, err.count, err.limit)
  end
  return (errors.format(err):gsub("project_id_check = false", "--no-project-id-check"))
end

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

-- Servers whose action another call had in flight (inside nginx only: the library
-- result's `joined`), with that call's outcomes counted.
local function joined_block(w, joined)
  if #joined == 0 then return end
  local counts, order = {}, {}
  for _, j in ipairs(joined) do
    if not counts[j.outcome] then order[#order + 1] = j.outcome end
    counts[j.outcome] = (counts[j.outcome] or 0) + 1
  end
  for i, k in ipairs(order) do order[i] = ("%d %s"):format(counts[k], k) end
  w(("Joined %d (another call's, in flight): %s\n"):format(#joined, table.concat(order, ", ")))
end

-- Jobs that could not be read (client:wait_jobs: no such job, refused): whatever their
-- servers became is unknown, so each is shown with the cloud's code and request id.
local function unread_jobs(w, jobs)
  local unread = {}
  for _, j in ipairs(jobs) do
    if j.error then unread[#unread + 1] = j end
  end
  if #unread == 0 then return end
  w(("Jobs not read %d:\n"):format(#unread))
  for _, j in ipairs(unread) do
    local e = j.error
    w(("  %s  %s  %s  %s\n"):format(pad(one_line(j.job_id), 36), pad(one_line(e.code), 16),
      pad(one_line(e.request_id), 36), one_line(e.message)))
  end
end

--- Writes the summary of a finished stop or start.
-- @param out file handle (stdout)
-- @tparam table res the result (library shape)
-- @tparam string service "ecs" or "bms"
-- @tparam number elapsed seconds
-- @tparam boolean no_wait the jobs were not waited for (stopped means accepted)
-- @tparam[opt] table wd the command's words
function M.result(out, res, service, elapsed, no_wait, wd)
  wd = wd or words.stop
  local function w(s) out:write(s) end
  local kind = service:upper()
  w(("%s: %d of %d %s, %d failed, %d skipped (%.1fs)\n"):format(kind, #(res[wd.done] or {}), res.requested,
    no_wait and ("accepted for %s (not waited for)"):format(wd.doing) or wd.done, #res.failed, #res.skipped, elapsed))
  if #res.failed > 0 then
    w(("Failed %d:\n"):format(#res.failed))
    w(("  %s  %s  %s  %s\n"):format(pad("ID", 36), pad("CODE", 16), pad("REQUEST ID", 36), "MESSAGE"))
    for _, f in ipairs(res.failed) do
      w(("  %s  %s  %s  %s\n"):format(pad(one_line(f.id), 36), pad(one_line(f.code), 16),
        pad(one_line(f.request_id), 36), one_line(f.message)))
    end
  end
  skipped_block(w, res.skipped)
  joined_block(w, res.joined or {})
  -- Not waited for: the job ids are how to follow the stops up later.
  if no_wait and #res.jobs > 0 then
    w(("Jobs %d:\n"):format(#res.jobs))
    for _, j in ipairs(res.jobs) do w(("  %s  %d servers\n"):format(one_line(j.job_id), #j.ids)) end
  end
  unread_jobs(w, res.jobs or {})
end

local function short(id)
  id = tostring(id or "-")
  if #id > 12 then return id:sub(1, 8) .. "…" end
  return id
end

--- Writes the summary of a run over several regions or projects (cloud.fleet's result):
-- a line per target, then the failures and skips of all, each naming its target.
-- @tparam[opt] table wd the command's words
-- @tparam string service "ecs" or "bms"
function M.fleet(out, res, elapsed, no_wait, wd, service)
  wd = wd or words.stop
  local function w(s) out:write(s) end
  local done, reached = #(res[wd.done] or {}), 0
  for _, t in ipairs(res.targets) do if t.result then reached = reached + 1 end end
  local verb = res.dry_run and ("would " .. wd.verb) or (no_wait and ("accepted for " .. wd.doing) or wd.done)
  w(("%s in %d of %d regions/projects: %d of %d %s, %d failed, %d skipped (%.1fs)\n"):format(
    tostring(service):upper(), reached, #res.targets, res.dry_run and #(res.selected or {}) or done, res.requested,
    verb, #res.failed, #res.skipped, elapsed))
  for _, t in ipairs(res.targets) do
    local r = t.result
    local what
    if r then
      local n = res.dry_run and #(r.selected or {}) or #(r[wd.done] or {})
      what = ("%d of %d %s, %d failed, %d skipped"):format(n, r.requested, verb, #r.failed, #r.skipped)
    else
      what = "not reached: " .. one_line(t.err and error_text(t.err, wd) or "?")
    end
    w(("  %s  %s  %s\n"):format(pad(t.region, 16), pad(t.project_id, 32), what))
  end
  if #res.failed > 0 then
    w(("Failed %d:\n"):format(#res.failed))
    for _, f in ipairs(res.failed) do
      w(("  %s  %s  %s  %s  %s\n"):format(pad(f.region, 16), pad(short(f.project_id), 12), pad(f.id, 36),
        pad(one_line(f.code), 16), one_line(f.message)))
    end
  end
  if #res.skipped > 0 then w(("Skipped %d: %s\n"):format(#res.skipped, reasons(res.skipped))) end
end

--- Writes what a dry run would stop (every selected server) and what it would skip.
function M.dry_run(out, res, service, wd)
  wd = wd or words.stop
  local function w(s) out:write(s) end
  local sel = res.selected
  w(("Dry run: would %s %d %s server%s; nothing was sent.\n"):format(wd.verb, #sel, service:upper(),
    #sel == 1 and "" or "s"))
  if #sel > 0 then
    w(("  %s  %s  %s\n"):format(pad("ID", 36), pad("NAME", 20), "STATUS"))
    server_rows(w, sel)
  end
  skipped_block(w, res.skipped)
end

--- Writes why nothing could be attempted (stderr): the error's code, message, request id.
function M.error(out, err, wd)
  wd = wd or words.stop
  out:write(wd.program, ": nothing was ", wd.done, ": ", one_line(error_text(err, wd)), "\n")
end

--- Short sample of a selection for the confirmation question (stderr).
function M.sample(out, selected, skipped, service, n, wd)
  wd = wd or words.stop
  out:write(("About to %s %d %s server%s"):format(wd.verb, #selected, service:upper(),
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
