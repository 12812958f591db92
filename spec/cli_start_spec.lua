-- cloud-start, and records through the CLI: cloud-stop ... --record F, then
-- cloud-start --from-record F --yes, as processes against the emulator.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"
local socket = require "socket"

local FLEET = {
  ecs = {
    { count = 12, name = "web-%04d", tags = { "env=staging" } },                               -- 1..12
    { count = 3, name = "web-off-%d", tags = { "env=staging" }, status = "SHUTOFF" },          -- 13..15
    { count = 2, name = "web-p-%d", tags = { "env=staging", "stop-protect=true" }, status = "SHUTOFF" }, -- 16..17
    { count = 4, name = "db-%d", tags = { "env=prod" }, status = "SHUTOFF" },                  -- 18..21
  },
}
local START = { script = cli.root .. "/bin/cloud-start.lua" }

local function ecs(n) return ids.server_id("ecs", n) end

local function readlink(path)
  local p = io.popen("readlink " .. cli.quote(path))
  local target = p:read("*l")
  p:close()
  return target
end

describe("cloud-start", function()
  local fc, env
  local scratch = cli.scratch()
  local new_file = scratch.new

  local function run(argv, how, extra_env)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra_env or {}) do e[k] = v end
    local r = cli.run(argv, e, how)
    assert.is_nil(r.stdout:find(fc.sk, 1, true), "the SK was printed on stdout")
    assert.is_nil(r.stderr:find(fc.sk, 1, true), "the SK was printed on stderr")
    return r
  end
  local function at(...)
    local argv = { ... }
    for _, a in ipairs({ "--endpoint", fc.url, "--poll-interval", "0.05" }) do argv[#argv + 1] = a end
    return argv
  end
  local function status(n) return fc:server(ecs(n)).status end

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET } })
    env = { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk, HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id }
  end)
  teardown(function()
    scratch.clean()
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02 })
    assert(fc:reset())
  end)

  it("is cloud-stop's own launcher and script, symlinks under another name", function()
    assert.are.equal("cloud-stop", readlink(cli.root .. "/bin/cloud-start"))
    assert.are.equal("cloud-stop.lua", readlink(START.script))
  end)

  it("is told by the name run: a symlink to bin/cloud-start, or one named cloud-start", function()
    local dir = new_file()
    assert(os.execute("mkdir " .. cli.quote(dir)))
    local links = { up = "/bin/cloud-start", ["cloud-start"] = "/bin/cloud-stop", down = "/bin/cloud-stop",
                    ["up.lua"] = "/bin/cloud-start.lua", ["cloud-start.lua"] = "/bin/cloud-stop.lua" }
    for name, target in pairs(links) do
      assert(os.execute("ln -s " .. cli.quote(cli.root .. target) .. " " .. cli.quote(dir .. "/" .. name)))
    end
    assert(os.execute("ln -s up " .. cli.quote(dir .. "/up-again"))) -- relative, two hops
    local said = {}
    for _, name in ipairs({ "up", "up-again", "cloud-start", "down" }) do
      said[name] = run({ "--version" }, { interpreter = false, script = dir .. "/" .. name }).stdout:match("^%S+")
    end
    for _, name in ipairs({ "up.lua", "cloud-start.lua" }) do
      said[name] = run({ "--version" }, { script = dir .. "/" .. name }).stdout:match("^%S+")
    end
    os.execute("rm -rf " .. cli.quote(dir))
    assert.are.same({ up = "cloud-start", ["up-again"] = "cloud-start", ["cloud-start"] = "cloud-start",
                      down = "cloud-stop", ["up.lua"] = "cloud-start", ["cloud-start.lua"] = "cloud-start" }, said)
  end)

  it("runs through bin/cloud-start, the launcher, under each Lua", function()
    for _, lua in ipairs({ "lua5.4", "luajit" }) do
      fc:reset()
      local r = run(at("ecs", ecs(18), "--json"), { interpreter = false, script = cli.root .. "/bin/cloud-start" },
        { CLOUD_LUA = lua })
      assert.equal(0, r.code, r.stderr)
      assert.same({ ecs(18) }, cjson.decode(r.stdout).started)
    end
  end)

  it("--help documents every flag with a cloud-start example, and no --type", function()
    local r = run({ "--help" }, START)
    assert.equal(0, r.code)
    for _, flag in ipairs({ "--ids-file", "--name", "--status", "--tag", "--exclude-file", "--region",
      "--project-id", "--all-projects", "--endpoint", "--concurrency", "--max-servers", "--dry-run", "--no-wait",
      "--yes", "--json", "--verbose", "--poll-interval", "--wait-timeout", "--record", "--from-record" }) do
      assert.truthy(r.stdout:find("\n  " .. flag, 1, true), flag .. " is not documented")
      assert.truthy(r.stdout:find("\n +cloud%-start [^\n]*" .. flag:gsub("%-", "%%-")), flag .. " has no example")
    end
    assert.is_nil(r.stdout:find("--type", 1, true))
    assert.is_nil(r.stdout:find("cloud-stop ecs", 1, true))
    assert.truthy(run({ "--version" }, START).stdout:match("^cloud%-start %d+%.%d+%.%d+\n$"))
  end)

  it("starts servers by id, with --json naming them started", function()
    local r = run(at("ecs", ecs(18), ecs(19), "--json"), START)
    assert.equal(0, r.code, r.stderr)
    local doc = cjson.decode(r.stdout)
    assert.is_true(doc.ok)
    assert.same({ ecs(18), ecs(19) }, doc.started)
    assert.is_nil(doc.stopped)
    assert.equal("ACTIVE", status(18))
    assert.equal(2, fc:stats().start_requests.total)
    local plain = run(at("ecs", ecs(20)), START)
    assert.equal(0, plain.code, plain.stderr)
    assert.truthy(plain.stdout:find("ECS: 1 of 1 started, 0 failed", 1, true), plain.stdout)
    assert.truthy(plain.stderr:find("cloud-start: ecs", 1, true), plain.stderr)
  end)

  it("exits 2 on --type, on cloud-stop --from-record, and on --from-record with ids", function()
    local cases = {
      { at("ecs", ecs(18), "--type", "HARD"), START, "--type is cloud-stop's" },
      { at("ecs", "--from-record", "x.jsonl"), nil, "--from-record is cloud-start's" },
      { at("--from-record", "x.jsonl", ecs(1)), START, "--from-record chooses the servers itself" },
    }
    for _, c in ipairs(cases) do
      local r = run(c[1], c[2])
      assert.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find(c[3], 1, true), r.stderr)
    end
    assert.equal(0, fc:stats().calls.total)
  end)

  it("cloud-stop --record F, then cloud-start --from-record F --yes: what was running runs again", function()
    local rec, rec2 = new_file(), new_file()
    local r = run(at("ecs", "--tag", "env=staging", "--yes", "--json", "--record", rec))
    assert.equal(0, r.code, r.stderr)
    local stopped = cjson.decode(r.stdout).stopped
    assert.equal(12, #stopped)
    -- The log says how to undo it.
    assert.truthy(r.stderr:find("to undo: cloud-start --from-record " .. rec .. " --yes", 1, true), r.stderr)
    -- The record: whole JSON lines, a header naming the command's choice.
    local header = cjson.decode(cli.slurp(rec):match("^([^\n]*)\n"))
    assert.same({ "header", "stop", "ecs", "filter" }, { header.type, header.action, header.service, header.selection })
    -- Without a terminal, more than five from a record needs --yes, as by filter.
    local refused = run(at("--from-record", rec), START)
    assert.equal(2, refused.code, refused.stderr)
    assert.truthy(refused.stderr:find("chosen by a record without confirmation", 1, true), refused.stderr)
    assert.equal(0, fc:stats().start_requests.total)
    local dry = run(at("--from-record", rec, "--dry-run", "--json"), START)
    assert.equal(0, dry.code, dry.stderr)
    assert.equal(12, #cjson.decode(dry.stdout).selected)
    local s = run(at("--from-record", rec, "--yes", "--json", "--record", rec2), START)
    assert.equal(0, s.code, s.stderr)
    local doc = cjson.decode(s.stdout)
    assert.is_true(doc.ok)
    assert.same(stopped, doc.started)
    local reasons = {}
    for _, k in ipairs(doc.skipped) do reasons[k.reason] = (reasons[k.reason] or 0) + 1 end
    assert.same({ ["already SHUTOFF before the stop"] = 3, ["not stopped: protected"] = 2 }, reasons)
    for n = 1, 12 do assert.equal("ACTIVE", status(n)) end
    for n = 13, 21 do assert.equal("SHUTOFF", status(n)) end
    local st = fc:stats()
    assert.same({ 12, 0, 12, 0 }, { st.stop_requests.total, st.stop_requests.sent_more_than_once,
      st.start_requests.total, st.start_requests.sent_more_than_once })
    -- The restore's own record says where its servers came from.
    local h2 = cjson.decode(cli.slurp(rec2):match("^([^\n]*)\n"))
    assert.same({ "start", "record", rec }, { h2.action, h2.selection, h2.from_record })
    -- Plain output, again: nothing left to start (exit 0), every server accounted for.
    local again = run(at("--from-record", rec, "--yes"), START)
    assert.equal(0, again.code, again.stderr)
    assert.truthy(again.stdout:find("ECS: 0 of 17 started, 0 failed, 17 skipped", 1, true), again.stdout)
  end)

  it("--record of a file that exists is a refusal (exit 2); a missing --from-record file exits 3", function()
    local rec = new_file()
    cli.write(rec, "keep me\n")
    local r = run(at("ecs", ecs(1), "--record", rec, "--json"))
    assert.equal(2, r.code, r.stderr)
    assert.equal("cloud.record_exists", cjson.decode(r.stdout).error.code)
    assert.equal("keep me\n", cli.slurp(rec))
    local m = run(at("--from-record", "/nonexistent/stop.jsonl", "--yes"), START)
    assert.equal(3, m.code, m.stderr)
    assert.truthy(m.stderr:find("cloud-start: nothing was started: cloud.record", 1, true), m.stderr)
    assert.equal(0, fc:stats().calls.total)
  end)

  it("a cloud-stop killed half-way leaves a record that cloud-start restores", function()
    assert(fc:configure{ job_duration = 1, fleet = FLEET })
    local rec = new_file()
    local base = os.tmpname()
    local cmd = cli.command(at("ecs", "--tag", "env=staging", "--yes", "--record", rec), env)
    os.execute(("(cd %s && %s </dev/null >%s 2>&1 & echo $! >%s; wait $!) >/dev/null 2>&1 &"):format(
      cli.quote(cli.root), cmd, cli.quote(base .. ".out"), cli.quote(base .. ".pid")))
    local deadline = socket.gettime() + 20
    while not cli.slurp(rec):find('"type":"batch"', 1, true) and socket.gettime() < deadline do socket.sleep(0.02) end
    local pid = cli.slurp(base .. ".pid"):match("%d+")
    assert.truthy(pid)
    os.execute("kill -KILL " .. pid)
    socket.sleep(0.2)
    for _, ext in ipairs({ "", ".out", ".pid" }) do os.remove(base .. ext) end
    assert.is_nil(cli.slurp(rec):find('"type":"end"', 1, true)) -- killed before its end
    -- The cloud finishes the accepted job; then the restore.
    assert(fc:configure{ job_duration = 0.02 })
    local jobs_done = socket.gettime() + 5
    repeat socket.sleep(0.05) until status(1) == "SHUTOFF" or socket.gettime() > jobs_done
    local s = run(at("--from-record", rec, "--yes", "--json"), START)
    assert.equal(0, s.code, s.stderr)
    local doc = cjson.decode(s.stdout)
    assert.equal(12, #doc.started)
    assert.is_false(doc.record.complete)
    for n = 1, 12 do assert.equal("ACTIVE", status(n)) end
    for n = 13, 21 do assert.equal("SHUTOFF", status(n)) end
  end)
end)
