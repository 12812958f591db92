-- cloud-stop run as a process against the emulator: flags, exit statuses, --json,
-- confirmation (refused without a terminal, asked in a tmux terminal), and the secret key
-- never printed.
local cjson = require "cjson"
local cli = require "spec.support.cli"
local launcher = require "fakecloud.launcher"
local ids = require "fakecloud.ids"

local FLEET = {
  ecs = {
    { count = 12, name = "web-%04d", tags = { "env=staging" } },              -- 1..12
    { count = 2, name = "web-p-%d", tags = { "env=staging", "stop-protect=true" } }, -- 13..14
    { count = 3, name = "web-off-%d", tags = { "env=staging" }, status = "SHUTOFF" }, -- 15..17
    { count = 4, name = "db-%d", tags = { "env=prod" } },                     -- 18..21
    { count = 2, name = "locked-%d", tags = { "env=qa" }, locked = true },    -- 22..23
  },
  bms = { { count = 6, name = "bm-%d", tags = { "env=staging" } } },
}

describe("cloud-stop", function()
  local fc, env, sessions = nil, nil, {}

  local function ecs(n) return ids.server_id("ecs", n) end

  -- Every run: the secret key must appear nowhere in what the command printed.
  local function run(argv, extra_env, opts)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra_env or {}) do e[k] = v or nil end
    local r = cli.run(argv, e, opts)
    assert.is_nil(r.stdout:find(fc.sk, 1, true), "the SK was printed on stdout")
    assert.is_nil(r.stderr:find(fc.sk, 1, true), "the SK was printed on stderr")
    return r
  end

  local function actions() return fc:stats().calls.action or 0 end

  setup(function()
    fc = assert(launcher.start{ config = { job_duration = 0.02, fleet = FLEET } })
    -- Without keys the last resort is the metadata service: a closed port on loopback here.
    env = { HUAWEICLOUD_SDK_AK = fc.ak, HUAWEICLOUD_SDK_SK = fc.sk,
            HUAWEICLOUD_SDK_PROJECT_ID = fc.project_id, CLOUD_METADATA_ENDPOINT = "http://127.0.0.1:1" }
  end)

  teardown(function()
    for _, s in ipairs(sessions) do s:kill() end
    if fc then fc:stop() end
  end)

  before_each(function()
    assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 0.02 })
    assert(fc:reset())
  end)

  -- Common flags: the emulator's endpoint and a short poll, so jobs end quickly.
  local function at(...)
    local argv = { ... }
    argv[#argv + 1] = "--endpoint"
    argv[#argv + 1] = fc.url
    argv[#argv + 1] = "--poll-interval"
    argv[#argv + 1] = "0.05"
    return argv
  end

  describe("usage", function()
    it("--help documents every flag with an example, and exits 0", function()
      local r = run({ "--help" })
      assert.equal(0, r.code)
      for _, flag in ipairs({ "--ids-file", "--name", "--status", "--tag", "--exclude-file", "--type",
        "--region", "--project-id", "--endpoint", "--concurrency", "--max-servers", "--dry-run",
        "--no-wait", "--yes", "--json", "--verbose", "--poll-interval", "--wait-timeout", "--ca-file",
        "--no-verify-tls", "--proxy", "--timeout", "--connect-timeout", "--retries", "--iam-endpoint",
        "--credentials", "--servers-per-minute", "--enterprise-project-id" }) do
        assert.truthy(r.stdout:find("\n  " .. flag, 1, true), flag .. " is not documented")
        local example = "\n +cloud%-stop ecs [^\n]*" .. flag:gsub("%-", "%%-")
        assert.truthy(r.stdout:find(example), flag .. " has no example")
      end
      assert.truthy(r.stdout:find("Exit status", 1, true))
      assert.equal("", r.stderr)
    end)

    it("exits 2 on a missing service, an unknown flag, a bad value or a key on the command line", function()
      local cases = {
        { {}, "say which service" },
        { { "vm", "x" }, "the first argument is the service" },
        { { "ecs", "x", "--frobnicate" }, "unknown option %-%-frobnicate" },
        { { "ecs", "x", "--concurrency", "many" }, "%-%-concurrency wants a number, not 'many'" },
        { { "ecs", "--name", "web[" }, "%-%-name wants a Lua pattern: malformed pattern %(missing ']'%)" },
        { { "ecs", "--name", "^web%" }, "%-%-name wants a Lua pattern" },
        { { "ecs", "--name", (".-"):rep(24) .. "x" }, "%-%-name is too costly to match" },
        { { "ecs", "x", "--name", "web" }, "either by id" },
        { { "ecs" }, "nothing chosen" },
        { { "ecs", "x", "--sk", fc.sk }, "never from the command line" },
        { { "ecs", "x", "--sk=" .. fc.sk }, "never from the command line" },
        { { "ecs", "--ids-file", "/nonexistent/ids" }, "cannot read /nonexistent/ids" },
        { { "ecs", "--ids-file", "-", "--exclude-file", "-" }, "cannot both read stdin" },
        { { "ecs", "x", "--poll-interval", "soon" }, "%-%-poll%-interval wants a number" },
        { { "ecs", "x", "--servers-per-minute", "fast" }, "%-%-servers%-per%-minute wants a number" },
        -- Every flag but --tag and --status is given once.
        { { "ecs", "x", "--type", "HARD", "--type", "SOFT" }, "%-%-type given twice" },
        { { "ecs", "--name", "^a", "--name=^b" }, "%-%-name given twice" },
        { { "ecs", "x", "--endpoint", fc.url, "--endpoint", fc.url }, "%-%-endpoint given twice" },
        { { "ecs", "x", "--concurrency", "2", "--concurrency", "4" }, "%-%-concurrency given twice" },
        { { "ecs", "x", "--max-servers", "2", "--max-servers", "4" }, "%-%-max%-servers given twice" },
        { { "ecs", "x", "--region", "r1", "--region", "r2" }, "%-%-region given twice" },
        -- Values the library checks: its message names the option.
        -- Values the library checks: its error's field becomes the flag.
        { at("ecs", "x", "--concurrency", "0"), "cloud%-stop: %-%-concurrency must be at least 1\n" },
        { at("ecs", "x", "--concurrency", "1025"), "%-%-concurrency must be at most 1024" },
        { at("ecs", "x", "--max-servers", "-1"), "%-%-max%-servers must be at least 0" },
        { at("ecs", "x", "--servers-per-minute", "0"), "%-%-servers%-per%-minute must be at least 1" },
        { at("ecs", "x", "--type", "GENTLE"), "%-%-type must be one of SOFT, HARD %(got GENTLE%)" },
        { at("bms", "x", "--type", "soft"), "%-%-type must be one of HARD %(got SOFT%)" },
        { { "ecs", "x", "--endpoint", "ftp://127.0.0.1" }, "%-%-endpoint must look like https://" },
        { { "ecs", "x", "--endpoint", "https://user@127.0.0.1" }, "%-%-endpoint must look like https://" },
        { { "ecs", "x", "--endpoint", "https://127.0.0.1:99999" },
          "%-%-endpoint has port 99999, not one of 1 to 65535" },
        { { "ecs", "x", "--endpoint", "https://127.0.0.1:0" }, "%-%-endpoint has port 0" },
        { { "ecs", "x", "--endpoint", "https://127.0.0.1:443:80" }, "%-%-endpoint has a malformed port" },
        { { "ecs", "x", "--endpoint", "https://127.0.0.1 x" }, "%-%-endpoint has characters a host name cannot have" },
        { { "ecs", "x", "--endpoint", "https://127.0.0.1\r\nX-Injected: 1" },
          "%-%-endpoint has characters a host name" },
        { { "ecs", "x", "--project-id", "p/q", "--endpoint", "https://127.0.0.1" }, "%-%-project%-id has characters" },
        { { "ecs", "x", "--region", "cn north 4" }, "%-%-region must be lower%-case letters" },
      }
      for _, c in ipairs(cases) do
        local r = run(c[1])
        assert.equal(2, r.code, table.concat(c[1], " ") .. " -> " .. r.stderr)
        assert.truthy(r.stderr:find(c[2]), table.concat(c[1], " ") .. " -> " .. r.stderr)
        assert.is_nil(r.stderr:find("internal error", 1, true), r.stderr)
        assert.equal("", r.stdout)
      end
      assert.equal(0, actions())
    end)

    it("exits 2 when more servers than --max-servers would be stopped, sending nothing", function()
      local r = run(at("ecs", "--tag", "env=staging", "--max-servers", "3", "--yes"))
      assert.equal(2, r.code)
      assert.truthy(r.stderr:find("refusing to stop 12 servers, more than --max-servers 3", 1, true))
      assert.equal(0, actions())
      assert.equal(0, run(at("ecs", "--tag", "env=staging", "--max-servers", "12", "--yes")).code)
    end)
  end)

  describe("nothing attempted (exit 3)", function()
    it("without credentials, also as --json", function()
      local r = run(at("ecs", ecs(1), "--json"), { HUAWEICLOUD_SDK_AK = false, HUAWEICLOUD_SDK_SK = false })
      assert.equal(3, r.code)
      assert.truthy(r.stderr:find("cloud.no_credentials", 1, true))
      local doc = cjson.decode(r.stdout)
      assert.equal("cloud.no_credentials", doc.error.code)
      assert.is_false(doc.ok)
    end)

    it("without a project id, or without a region or endpoint", function()
      local r = run(at("ecs", ecs(1)), { HUAWEICLOUD_SDK_PROJECT_ID = false })
      assert.equal(3, r.code)
      assert.truthy(r.stderr:find("cloud.no_project_id", 1, true))
      r = run({ "ecs", ecs(1) })
      assert.equal(3, r.code)
      assert.truthy(r.stderr:find("cloud.no_region", 1, true))
    end)

    it("when listing fails (a wrong secret key), with --verbose never printing the key", function()
      local wrong = "WRONGSECRET" .. ("9"):rep(28)
      local r = run(at("ecs", "--name", "^web", "--yes", "--verbose"), { HUAWEICLOUD_SDK_SK = wrong })
      assert.equal(3, r.code)
      assert.truthy(r.stderr:find("nothing was stopped", 1, true))
      assert.truthy(r.stderr:find("failed after 1 attempt", 1, true)) -- the logger line
      assert.is_nil(r.stderr:find(wrong, 1, true))
      assert.is_nil(r.stderr:find("WRONGSECRET", 1, true))
      assert.equal(0, actions())
    end)
  end)

  describe("choosing by filter", function()
    it("--dry-run lists what would be stopped and skipped, and sends no stop", function()
      local r = run(at("ecs", "--name", "^web%-", "--tag", "env=staging", "--dry-run"))
      assert.equal(0, r.code)
      assert.truthy(r.stdout:find("would stop 12 ECS servers", 1, true))
      assert.truthy(r.stdout:find(ecs(12), 1, true))
      assert.truthy(r.stdout:find("Skipped 5: 2 protected, 3 already SHUTOFF", 1, true))
      assert.equal(0, actions())
      local j = cjson.decode(run(at("ecs", "--status", "ACTIVE", "--tag", "env=prod", "--dry-run", "--json")).stdout)
      assert.is_true(j.dry_run)
      assert.equal(4, #j.selected)
      assert.equal(0, #j.stopped)
      assert.equal(0, actions())
    end)

    it("refuses (exit 2) to stop more than 5 without --yes when there is no terminal", function()
      local r = run(at("ecs", "--tag", "env=staging"))
      assert.equal(2, r.code)
      assert.truthy(r.stderr:find("refusing to stop 12 servers", 1, true))
      assert.truthy(r.stderr:find("--yes", 1, true))
      assert.equal("", r.stdout)
      assert.equal(0, actions())
      -- Even with a (non-terminal) stdin that says yes.
      assert.equal(2, run(at("ecs", "--tag", "env=staging"), nil, { stdin = "y\n" }).code)
      assert.equal(0, actions())
    end)

    it("stops up to 5 without asking", function()
      local r = run(at("bms", "--name", "^bm%-[1-5]$"))
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("BMS: 5 of 5 stopped, 0 failed", 1, true))
    end)

    it("--yes --json: one JSON document with the library's result shape, progress as plain lines", function()
      local r = run(at("ecs", "--name", "^web%-", "--tag", "env=staging", "--yes", "--json"))
      assert.equal(0, r.code, r.stderr)
      local doc = cjson.decode(r.stdout) -- the whole of stdout
      assert.is_true(doc.ok)
      assert.is_false(doc.dry_run)
      assert.equal(12, doc.requested)
      assert.equal(12, #doc.stopped)
      assert.equal(12, #doc.selected)
      assert.same({}, doc.failed)
      assert.equal("[]", r.stdout:match('"failed":(%[%])'))
      assert.truthy(#doc.jobs >= 1 and doc.jobs[1].job_id and doc.jobs[1].status == "SUCCESS")
      local reasons = {}
      for _, s in ipairs(doc.skipped) do reasons[s.reason] = (reasons[s.reason] or 0) + 1 end
      assert.same({ protected = 2, ["already SHUTOFF"] = 3 }, reasons)
      -- Not a terminal: a few plain lines, no carriage returns.
      assert.is_nil(r.stderr:find("\r", 1, true))
      assert.truthy(r.stderr:find("waiting: submitted 12/12, stopped 12, failed 0", 1, true))
      local lines = select(2, r.stderr:gsub("\n", ""))
      assert.truthy(lines <= 6, r.stderr)
      assert.equal(12, fc:stats().stop_requests.servers)
    end)

    it("--status, repeated --tag, --exclude-file and --type HARD", function()
      local keep = os.tmpname()
      cli.write(keep, ecs(1) .. "\n# a comment\n" .. ecs(2) .. "," .. ecs(3) .. "\n")
      local r = run(at("ecs", "--status", "ACTIVE", "--tag", "env=staging", "--tag", "env",
        "--exclude-file", keep, "--type", "HARD", "--yes", "--json"))
      os.remove(keep)
      assert.equal(0, r.code, r.stderr)
      local doc = cjson.decode(r.stdout)
      assert.equal(9, #doc.stopped)
      local excluded = 0
      for _, s in ipairs(doc.skipped) do if s.reason == "excluded" then excluded = excluded + 1 end end
      assert.equal(3, excluded)
      assert.equal(0, (fc:server(ecs(1))).stop_requests)
      local types = fc:stats().stop_types
      assert.truthy((types.HARD or 0) >= 1, "no HARD stop reached the cloud")
      assert.is_nil(types.SOFT)
    end)

    it("nothing to stop exits 0", function()
      local r = run(at("ecs", "--name", "^web%-off"))
      assert.equal(0, r.code)
      assert.truthy(r.stdout:find("ECS: 0 of 0 stopped", 1, true))
      assert.equal(0, actions())
    end)
  end)

  describe("errors by kind, not by wording", function()
    local main = require "cloud.cli.main"
    local errors = require "cloud.errors"

    -- Runs the CLI in this process (the emulator's keys in its environment), with its
    -- output in strings. os.getenv stands in for the process's environment on purpose (the
    -- linter's warning 122, setting a field of os, is ignored on those two lines).
    local function run_here(argv)
      local getenv = os.getenv
      os.getenv = function(k) if env[k] then return env[k] end return getenv(k) end -- luacheck: ignore 122
      local ok, code, out, err = pcall(function()
        local o, e = {}, {}
        local function sink(t)
          return { write = function(self, ...) for _, v in ipairs({ ... }) do t[#t + 1] = v end return self end,
                   flush = function() end }
        end
        local c = main.run(argv, { stdin = io.stdin, stdout = sink(o), stderr = sink(e),
          isatty = function() return false end, clock = os.clock })
        return c, table.concat(o), table.concat(e)
      end)
      os.getenv = getenv -- luacheck: ignore 122
      if not ok then error(code, 0) end
      return code, out, err
    end

    it("keeps the exit status and the flag when the library rewords its message", function()
      local argument = errors.argument
      errors.argument = function(where, field, problem)
        return argument(where, field, "now worded quite differently (" .. problem .. ")")
      end
      local ok, code, out, err = pcall(run_here, at("ecs", "x", "--type", "GENTLE"))
      local ok2, code2, _, err2 = pcall(run_here, at("ecs", "x", "--concurrency", "0"))
      errors.argument = argument
      assert.is_true(ok, tostring(code))
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.truthy(err:find("cloud-stop: --type now worded quite differently", 1, true), err)
      assert.is_true(ok2, tostring(code2))
      assert.equal(2, code2, err2)
      assert.truthy(err2:find("cloud-stop: --concurrency now worded quite differently", 1, true), err2)
      assert.equal(0, actions())
    end)

    it("an empty --ids-file - is nothing to do: exit 0, nothing sent", function()
      local r = run(at("ecs", "--ids-file", "-", "--json"), nil, { stdin = "# nothing today\n" })
      assert.equal(0, r.code, r.stderr)
      local doc = cjson.decode(r.stdout)
      assert.is_true(doc.ok)
      assert.equal(0, doc.requested)
      assert.equal(0, fc:stats().calls.total)
    end)

    it("more than --max-servers is a refusal (exit 2) with its code in --json", function()
      local r = run(at("ecs", "--tag", "env=staging", "--max-servers", "3", "--yes", "--json"))
      assert.equal(2, r.code, r.stderr)
      assert.equal("cloud.max_servers", cjson.decode(r.stdout).error.code)
      assert.equal(0, actions())
    end)
  end)

  describe("choosing by id", function()
    it("stops ids from arguments, a file and stdin; --no-wait; --concurrency", function()
      local file = os.tmpname()
      cli.write(file, ecs(2) .. "\n" .. ecs(3) .. "\n")
      local r = run(at("ecs", ecs(1), "--ids-file", file, "--concurrency", "2"))
      os.remove(file)
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("ECS: 3 of 3 stopped, 0 failed, 0 skipped", 1, true))
      assert.same({ SOFT = 1 }, fc:stats().stop_types) -- one call, the default type
      r = run(at("ecs", "--ids-file", "-", "--no-wait", "--json"), nil, { stdin = ecs(4) .. " " .. ecs(5) .. "\n" })
      assert.equal(0, r.code, r.stderr)
      assert.same({ ecs(4), ecs(5) }, cjson.decode(r.stdout).stopped)
      r = run(at("ecs", ecs(6), "--no-wait"))
      assert.truthy(r.stdout:find("1 of 1 accepted for stopping (not waited for)", 1, true))
      -- The job ids are how to follow up stops not waited for.
      local job = r.stdout:match("Jobs 1:\n  (%S+)  1 servers\n")
      assert.truthy(job, r.stdout)
      local _, doc = require("fakecloud.client").for_emulator(fc):job(job)
      assert.equal(job, doc.job_id)
    end)

    it("on Ctrl-C prints what it knows, the accepted jobs among it, and exits 130", function()
      assert(fc:configure{ faults = {}, fleet = FLEET, job_duration = 60 })
      local socket = require "socket"
      local base = os.tmpname()
      local cmd = cli.command(at("ecs", ecs(1), ecs(2), "--json"), env)
      os.execute(("(cd %s && %s </dev/null >%s 2>%s & echo $! >%s; wait $!; echo $? >%s) &"):format(
        cli.quote(cli.root), cmd, cli.quote(base .. ".out"), cli.quote(base .. ".err"), cli.quote(base .. ".pid"),
        cli.quote(base .. ".rc")))
      local deadline = socket.gettime() + 20
      while (fc:stats().stop_requests.total or 0) < 1 and socket.gettime() < deadline do socket.sleep(0.05) end
      socket.sleep(0.5) -- the job id reaches the client, which then waits on the job
      local pid = cli.slurp(base .. ".pid"):match("%d+")
      assert.truthy(pid)
      os.execute("kill -INT " .. pid)
      local rc
      repeat
        rc = tonumber(cli.slurp(base .. ".rc"):match("%d+") or "")
        if not rc then socket.sleep(0.05) end
      until rc or socket.gettime() > deadline
      local out, err = cli.slurp(base .. ".out"), cli.slurp(base .. ".err")
      for _, ext in ipairs({ "", ".out", ".err", ".pid", ".rc" }) do os.remove(base .. ext) end
      assert.equal(130, rc, err)
      assert.truthy(err:find("interrupted", 1, true), err)
      local doc = cjson.decode(out)
      assert.equal(1, #doc.jobs, out)
      assert.truthy(doc.jobs[1].job_id)
      assert.same({ ecs(1), ecs(2) }, doc.jobs[1].ids)
      assert.is_false(doc.ok)
      assert.equal(2, #doc.failed + #doc.stopped)
    end)

    it("exits 1 when a server fails (code, message listed) or is protected", function()
      local r = run(at("ecs", ecs(1), ecs(22), ids.server_id("ecs", 9999)))
      assert.equal(1, r.code)
      assert.truthy(r.stdout:find("ECS: 1 of 3 stopped, 2 failed", 1, true))
      assert.truthy(r.stdout:find("Ecs%.0605%s+%S+%s+server " .. ecs(22):gsub("%-", "%%-") .. " is locked"))
      assert.truthy(r.stdout:find("Ecs.0114", 1, true))
      local j = run(at("ecs", ecs(13), ecs(2), "--json"))
      assert.equal(1, j.code)
      local doc = cjson.decode(j.stdout)
      assert.is_false(doc.ok)
      assert.same({ ecs(2) }, doc.stopped)
      assert.equal("protected", doc.skipped[1].reason)
      assert.equal(0, (fc:server(ecs(13))).stop_requests)
    end)

    it("exits 0 for a server already SHUTOFF by id, reported skipped: the same stop can run again", function()
      local r = run(at("ecs", ecs(15), ecs(1), "--json", "--servers-per-minute", "60000"))
      assert.equal(0, r.code, r.stderr)
      local doc = cjson.decode(r.stdout)
      assert.is_true(doc.ok)
      assert.same({ ecs(1) }, doc.stopped)
      assert.same({ { id = ecs(15), status = "SHUTOFF", reason = "already SHUTOFF" } }, doc.skipped)
      r = run(at("ecs", ecs(15), ecs(1)))
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("ECS: 0 of 2 stopped, 0 failed, 2 skipped", 1, true), r.stdout)
      assert.truthy(r.stdout:find("Skipped 2: 2 already SHUTOFF", 1, true), r.stdout)
    end)

    it("exits 3 with the documented --json document when the protection check fails", function()
      local wrong = "WRONGSECRET" .. ("9"):rep(28)
      local r = run(at("ecs", ecs(1), ecs(2), "--json"), { HUAWEICLOUD_SDK_SK = wrong })
      assert.equal(3, r.code, r.stderr)
      assert.truthy(r.stderr:find("nothing was stopped: ", 1, true))
      local doc = cjson.decode(r.stdout)
      assert.is_false(doc.ok)
      assert.truthy(doc.error.code and doc.error.request_id, r.stdout)
      assert.truthy(doc.error.message:find("could not check the protection tag", 1, true))
      assert.truthy(doc.error.status)
      for _, k in ipairs({ "stopped", "failed", "jobs", "selected", "skipped" }) do
        assert.equal("[]", r.stdout:match('"' .. k .. '":(%[%])'), k)
      end
      assert.equal(0, actions())
    end)

    it("--exclude-file: excluded ids are skipped, sent nothing, and do not fail the run", function()
      local keep = os.tmpname()
      cli.write(keep, ecs(2) .. "\n" .. ecs(9) .. "\n")
      local r = run(at("ecs", ecs(1), ecs(2), ecs(3), "--exclude-file", keep, "--json"))
      assert.equal(0, r.code, r.stderr)
      local doc = cjson.decode(r.stdout)
      assert.is_true(doc.ok)
      assert.same({ ecs(1), ecs(3) }, doc.stopped)
      assert.same({ { id = ecs(2), reason = "excluded" } }, doc.skipped)
      assert.equal(0, (fc:server(ecs(2))).stop_requests)
      assert.equal(2, fc:stats().stop_requests.servers)
      -- Every id excluded: exit 0, and the cloud is not even asked.
      assert(fc:reset())
      r = run(at("ecs", ecs(2), ecs(9), "--exclude-file", keep))
      os.remove(keep)
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find("ECS: 0 of 2 stopped, 0 failed, 2 skipped", 1, true), r.stdout)
      assert.truthy(r.stdout:find("Skipped 2: 2 excluded", 1, true), r.stdout)
      local st = fc:stats()
      assert.equal(0, st.calls.total)
      assert.equal(0, st.stop_requests.total)
    end)

    it("--region with the endpoint from HUAWEICLOUD_SDK_REGION_ECS_*, and --project-id", function()
      local r = run({ "ecs", ecs(7), "--region", "cn-north-4", "--project-id", fc.project_id,
        "--poll-interval", "0.05" }, { HUAWEICLOUD_SDK_PROJECT_ID = false,
        HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4 = fc.url })
      assert.equal(0, r.code, r.stderr)
      assert.equal(1, (fc:server(ecs(7))).stop_requests)
    end)
  end)

  it("--verbose shows the retries of a throttled cloud, and the progress counts them", function()
    assert(fc:configure{ faults = { seed = 7, status = { [429] = 0.4 }, retry_after = 0 } })
    local r = run(at("ecs", "--tag", "env=staging", "--yes", "--verbose"))
    assert.equal(0, r.code, r.stderr)
    assert.truthy(r.stderr:find("cloud-stop: retry 1/5", 1, true))
    local shown = tonumber(r.stderr:match("finished in [%d.]+s, (%d+) retr"))
    assert.truthy(shown and shown >= 1)
    assert.equal(shown, select(2, r.stderr:gsub("cloud%-stop: retry ", "")))
  end)

  describe("what the cloud sent, printed", function()
    -- No byte that acts on a terminal: controls other than the newline (ESC, CR, BEL, NUL,
    -- tab), DEL, and the C1 controls as UTF-8.
    local function assert_clean(text, what)
      local bad = text:find("[%z\1-\9\11-\31\127]") or text:find("\194[\128-\159]")
      assert.is_nil(bad, what .. " has a control byte at " .. tostring(bad) .. ": " .. text)
    end

    it("cloud.cli.safe writes out control bytes, C1 controls and broken UTF-8, and keeps the rest", function()
      local safe = require "cloud.cli.safe"
      assert.equal("web-01 é 中文", safe.text("web-01 é 中文"))
      assert.equal("a\\x1b[2Jb\\x0d\\x0a\\x00\\x07\\x09\\x7f", safe.text("a\27[2Jb\r\n\0\7\t\127"))
      assert.equal("\\xc2\\x9b1m", safe.text("\194\155" .. "1m")) -- CSI as a C1 control
      assert.equal("\\xff\\xe2\\x82x", safe.text("\255\226\130x"))
      assert.equal("-", safe.text(nil))
      assert.equal("42", safe.text(42))
    end)

    it("names and statuses in the dry-run listing, with their control bytes written out", function()
      assert(fc:configure{ hostile = { mode = "control_bytes", apply_to = { action = false, job = false,
        list = true } } })
      local r = run(at("ecs", "--tag", "env=staging", "--dry-run", "--verbose"))
      assert(fc:configure{ hostile = {} })
      assert.equal(0, r.code, r.stderr)
      assert_clean(r.stdout, "stdout")
      assert_clean(r.stderr, "stderr")
      assert.truthy(r.stdout:find("\\x1b[31m\\x0d\\x07\\x00\\x1b]0;pwned\\x07", 1, true), r.stdout)
    end)

    it("codes, messages and request ids in --verbose lines, the failures and the error line", function()
      assert(fc:configure{ hostile = { mode = "control_bytes", perform = false, apply_to = { action = true,
        job = false, list = false } } })
      local r = run(at("ecs", ecs(1), ecs(2), "--verbose"))
      assert.equal(1, r.code, r.stderr)
      assert_clean(r.stdout, "stdout")
      assert_clean(r.stderr, "stderr")
      assert.truthy(r.stdout:find("Ecs.0005\\x1b[31m", 1, true), r.stdout) -- the failures
      assert.truthy(r.stdout:find("req\\x1b[2J\\x07id", 1, true), r.stdout) -- their request id
      assert.truthy(r.stderr:find("cloud-stop: failed after 1 attempt(s): POST stop 2 ecs servers: Ecs.0005\\x1b",
        1, true),
        r.stderr) -- the --verbose line
      assert(fc:configure{ hostile = { mode = "control_bytes", perform = false, apply_to = { action = false,
        job = false, list = true } } })
      r = run(at("ecs", "--name", "^web", "--yes"))
      assert(fc:configure{ hostile = {} })
      assert.equal(3, r.code, r.stderr)
      assert_clean(r.stderr, "stderr")
      assert.truthy(r.stderr:find("nothing was stopped: Ecs.0005\\x1b[31m", 1, true), r.stderr) -- the error line
    end)
  end)

  describe("in a terminal (tmux)", function()
    local function session(argv)
      local s = cli.tmux("cloud-stop-spec-" .. #sessions, argv, env)
      sessions[#sessions + 1] = s
      return s
    end

    it("asks before stopping; y stops them, with a progress bar", function()
      local s = session(at("ecs", "--tag", "env=staging"))
      local screen = assert(s:wait_for("%[y/N%]"))
      assert.truthy(screen:find("About to stop 12 ECS servers (skipping 5: 2 protected, 3 already SHUTOFF)", 1, true))
      assert.truthy(screen:find("web%-0001"))
      s:send("y", "Enter")
      assert.equal(0, s:exit_code(15))
      screen = s:capture()
      assert.truthy(screen:find("ecs %[#+%] done: submitted 12/12, stopped 12, failed 0"), screen)
      assert.truthy(screen:find("ECS: 12 of 12 stopped", 1, true))
      assert.is_nil(screen:find(fc.sk, 1, true))
      assert.equal(12, fc:stats().stop_requests.servers)
      s:kill()
    end)

    it("answering n stops nothing and exits 2", function()
      local s = session(at("ecs", "--tag", "env=staging"))
      assert(s:wait_for("%[y/N%]"))
      s:send("n", "Enter")
      assert.equal(2, s:exit_code(10))
      assert.truthy(s:capture():find("not confirmed; nothing was stopped", 1, true))
      assert.equal(0, actions())
      s:kill()
    end)

    it("redraws one line while it waits", function()
      -- A slower poll than at()'s, so the bar is seen while it waits.
      local s = session({ "ecs", "--tag", "env=staging", "--yes", "--endpoint", fc.url, "--poll-interval", "0.3" })
      assert(s:wait_for("ecs %[[#.]+%] "))
      assert.equal(0, s:exit_code(15))
      local screen = s:capture()
      local _, bars = screen:gsub("ecs %[[#.]+%]", "")
      assert.equal(1, bars, screen) -- redrawn in place, not one line per update
      s:kill()
    end)
  end)
end)
