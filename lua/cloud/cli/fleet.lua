--- cloud-stop / cloud-start over several regions or projects: --region a,b,c (with one
-- --project-id per region, or none: each region's project is found through IAM, as
-- cloud.fleet does), --all-projects (the account's projects from IAM, in the regions of
-- --region if given), or a fleet's record (--from-record). One cloud.fleet
-- call; the output lists every target, then what they add up to.
-- @module cloud.cli.fleet
local cloud = require "cloud"
local credentials = require "cloud.auth.credentials"
local summary = require "cloud.cli.summary"
local tsv = require "cloud.cli.tsv"

local M = {}

-- The targets of this run, or nil and an exit status (the message written). `copts`: the
-- client options the flags set, which the IAM lookup of --all-projects uses too (its
-- endpoint, proxy, TLS and timeouts: the same connection as the run's own calls).
local function targets_of(cx, io_, o, how, copts)
  if how.record then
    local out = {}
    for _, t in ipairs(how.record.targets) do
      -- The record's and IAM's project ids are taken as they are: no form check.
      if t.header then out[#out + 1] = { region = t.region, project_id = t.project_id, project_id_check = false } end
    end
    return out
  end
  local regions, projects = how.regions, how.projects
  if o.all_projects then
    if #projects > 0 then
      return nil, cx.usage_error(io_, "--all-projects finds the projects: no --project-id with it")
    end
    local popts = {}
    for k, v in pairs(copts) do popts[k] = v end
    popts.region = regions[1]
    local ok, list, err = cx.call(io_, o, cloud.projects, popts, #regions > 0 and regions or nil)
    if not ok then return nil, list end
    if not list then return nil, cx.nothing(io_, o, err) end
    if #list == 0 then
      return nil, cx.nothing(io_, o, { code = "cloud.no_project_id", kind = "config",
        message = "IAM lists no project" .. (#regions > 0 and (" in " .. table.concat(regions, ", ")) or "") })
    end
    local out = {}
    for i, p in ipairs(list) do out[i] = { region = p.region, project_id = p.id, project_id_check = false } end
    return out
  end
  -- No project id: the fleet finds each region's project through IAM, before anything is sent.
  if #projects == 0 and #regions > 0 then
    -- Unless the environment or the credentials file names one: it would stand for every
    -- region, though a project belongs to one.
    local found = credentials.resolve({})
    if found.project_id then
      return nil, cx.usage_error(io_, ("%s names one project, of one region: give one --project-id per region"
        .. " (in the same order), or leave it out to find each region's through IAM"):format(found.source.project_id))
    end
    local out = {}
    for i, r in ipairs(regions) do out[i] = { region = r } end
    return out
  end
  -- A project belongs to one region: as many project ids as regions, in the same order.
  if #projects ~= #regions then
    return nil, cx.usage_error(io_, ("%d regions and %d project ids: give one --project-id per region (in the"
      .. " same order), none (each region's from IAM), or --all-projects"):format(#regions, #projects))
  end
  local out = {}
  for i, r in ipairs(regions) do out[i] = { region = r, project_id = projects[i] } end
  return out
end

-- The exit status of a fleet's result: 0 all done; when no target could be reached, as the
-- first one's error says; else 1.
local function exit_for(cx, res)
  if res.ok then return cx.exit.ok end
  local first, reached
  for _, t in ipairs(res.targets) do
    if t.result then reached = true elseif not first then first = t.err end
  end
  if not reached and first then return cx.exit_of[first.kind or "cloud"] or cx.exit.nothing end
  return cx.exit.failed
end

--- Runs the command across the targets. `cx`: main's helpers (call, nothing,
-- usage_error, options, exit, exit_of); `how`: ids, exclude, regions, projects, record.
function M.run(cx, io_, o, bar, how)
  local w = io_.w
  if o.endpoint then
    return cx.usage_error(io_, ("--endpoint names one endpoint: for several regions set"
      .. " HUAWEICLOUD_SDK_REGION_%s_<REGION> for each"):format(o.service:upper()))
  end
  if not o.by_filter and not o.by_record then
    return cx.usage_error(io_, "server ids belong to one project: across regions or projects, choose by filter")
  end
  if not o.yes and not o.dry_run then
    return cx.usage_error(io_, ("a run over several regions or projects asks no questions: check with --dry-run,"
      .. " then pass --yes"))
  end
  local fopts = cx.client_options(o, bar)
  local targets, code = targets_of(cx, io_, o, how, fopts)
  if not targets then return code end
  fopts.targets = targets
  local ok, f, ferr = cx.call(io_, o, cloud.fleet, fopts)
  if not ok then return f end
  if not f then return cx.nothing(io_, o, ferr) end
  local opts = cx.options(io_, o, bar, how.ids, how.exclude)
  bar:set_phase(o.by_record and "check" or "list")
  local method = o.by_record and f.restore or f[w.action .. "_" .. o.service]
  local called, res, err = cx.call(io_, o, method, f, opts)
  f:close()
  if not called then bar:clear() return res end
  if not res then bar:clear() return cx.nothing(io_, o, err) end
  bar:finish(not res.dry_run and res or nil)
  if o.json then
    io_.stdout:write(cloud.to_json(res), "\n")
  elseif o.output == "tsv" then
    tsv.write(io_.stdout, res, w)
  else
    summary.fleet(io_.stdout, res, bar:elapsed(), o.no_wait, w, o.service)
  end
  io_.stdout:flush()
  cx.undo_hint(io_, o)
  return exit_for(cx, res)
end

return M
