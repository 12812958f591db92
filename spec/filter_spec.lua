-- Choosing servers by what they are: cloud.filter predicates, stop filters against the
-- emulator across several pages, protection, exclusion, the blast-radius guard, dry runs.
local env = require "support.cloudenv"
local F = require "cloud.filter"

local web = { id = "w1", name = "web-01", status = "ACTIVE", tags = { "env=staging", "team=a" },
  ["OS-EXT-AZ:availability_zone"] = "az1", flavor = { id = "s6.large.2", name = "s6.large.2" },
  metadata = { owner = "ops" } }
local db = { id = "d1", name = "db-01", status = "SHUTOFF", tags = { "env=prod" },
  ["OS-EXT-AZ:availability_zone"] = "az2", flavor = { id = "c7.xlarge.4" } }

describe("cloud.filter", function()
  it("matches each kind of attribute", function()
    assert.is_true(F.status("ACTIVE", "ERROR")(web))
    assert.is_false(F.status("ACTIVE")(db))
    assert.is_true(F.name("^web%-%d+$")(web))
    assert.is_false(F.name("^web%-%d+$")(db))
    assert.is_true(F.tag("env", "staging")(web))
    assert.is_true(F.tag("env=staging")(web))
    assert.is_true(F.tag("team")(web))
    assert.is_false(F.tag("env", "staging")(db))
    assert.is_true(F.az("az1")(web))
    assert.is_false(F.az("az1")(db))
    assert.is_true(F.flavor("s6.large.2")(web))
    assert.is_false(F.flavor("s6.large.2")(db))
    assert.is_true(F.metadata("owner", "ops")(web))
    assert.is_true(F.metadata("owner")(web))
    assert.is_false(F.metadata("owner")(db))
    assert.is_true(F.id("d1")(db))
  end)

  it("composes with all, any and none", function()
    local pick = F.all{ F.status("ACTIVE"), F.any{ F.tag("env", "staging"), F.tag("env", "qa") },
                        F.none{ F.name("^db") } }
    assert.is_true(pick(web))
    assert.is_false(pick(db))
    assert.is_true(F.all{}(db))
    assert.is_false(F.any{}(db))
    assert.is_true(F.none{ F.status("ERROR") }(web))
  end)

  it("refuses a name pattern whose backtracking could take seconds, naming filter.name", function()
    local errors = require "cloud.errors"
    local pattern = require "cloud.op.pattern"
    -- The worst case found: 24 lazy terms and a tail that never matches took 2.2 s a name,
    -- four times more for each term. Now refused before anything is listed.
    local worst = (".-"):rep(24) .. "x"
    for _, p in ipairs({ worst, ("a*"):rep(24) .. "b", ("a?"):rep(24) .. ("a"):rep(24), "^a.*b.*c.*d.*e$",
                         ".*web.*prod.*stage", ("x"):rep(257) }) do
      assert.is_nil(pattern.affordable(p), p)
      local ok, e = pcall(function() require("cloud.op.selection").compile("client:stop_ecs", { name = p }) end)
      assert.is_false(ok, p)
      assert.are.equal("argument", errors.kind(e))
      assert.are.equal("filter.name", e.field)
      assert.has_error(function() F.name(p) end)
    end
    -- Patterns people write are taken, anchored or not.
    for _, p in ipairs({ "^web%-%d+$", "web.*prod.*", "^(%a+)%-(%d+)%-(%a+)%-(%d+)$", "^.*web.*prod.*stage",
                         "^web%-0%d%d$", "db" }) do
      assert.is_true(pattern.affordable(p), p)
    end
    -- A name longer than the pattern can be matched against within the budget does not
    -- match (ECS names are 128 characters at most); a plain pattern matches any length.
    local p = "a?a?a?a*a*x"
    local longest = pattern.max_name(p)
    assert.is_true(longest >= 128)
    assert.is_true(F.name(p)({ name = ("a"):rep(longest - 1) .. "x" }))
    assert.is_false(F.name(p)({ name = ("a"):rep(longest) .. "x" }))
    assert.is_true(F.name("^web")({ name = "web" .. ("-"):rep(100000) }))
  end)

  it("rejects malformed predicates at once", function()
    assert.has_error(function() F.name("[") end)
    assert.has_error(function() F.status() end)
    assert.has_error(function() F.all{ "x" } end)
    assert.has_error(function() F.tag("") end)
  end)
end)

describe("stopping by filter", function()
  local fc, client
  local WEB, PROTECTED, DB, OFF, QA = 2500, 10, 60, 30, 5

  setup(function()
    fc = env.start{
      job_duration = 0.02,
      fleet = { ecs = {
        { count = WEB, name = "web-%d", status = "ACTIVE", tags = { "env=staging" }, az = "az1",
          flavor = "s6.large.2" },
        { count = PROTECTED, name = "web-%d", status = "ACTIVE", tags = { "env=staging", "stop-protect=true" },
          az = "az1" },
        { count = DB, name = "db-%d", status = "ACTIVE", tags = { "env=staging" }, az = "az2", flavor = "c7.xlarge.4",
          metadata = { role = "primary" } },
        { count = OFF, name = "web-%d", status = "SHUTOFF", tags = { "env=staging" }, az = "az1" },
        { count = QA, name = "qa-%d", status = "ACTIVE", tags = { "env=qa" }, az = "az1" },
      }, bms = { { count = 7, name = "bm-%d", status = "ACTIVE", tags = { "env=staging" } } } },
    }
    client = env.client(fc)
  end)
  teardown(function()
    client:close()
    fc:stop()
  end)
  before_each(function() fc:reset() end)

  local function reasons(res)
    local n = {}
    for _, s in ipairs(res.skipped) do n[s.reason] = (n[s.reason] or 0) + 1 end
    return n
  end

  it("dry run lists across 3+ pages, shows the selection and sends no stop", function()
    local phases = {}
    local res = client:stop_ecs{ filter = { name = "^web%-%d+$", tags = { env = "staging" } }, dry_run = true,
      on_progress = function(e) phases[#phases + 1] = e end }
    assert.is_true(res.dry_run)
    assert.are.equal(WEB, #res.selected)
    assert.are.equal(WEB, res.requested)
    assert.are.same({ protected = PROTECTED, ["already SHUTOFF"] = OFF }, reasons(res))
    assert.are.same({}, res.stopped)
    local stats = fc:stats()
    assert.are.equal(0, stats.calls.action)
    assert.is_true(stats.calls.list >= 3)
    assert.are.equal("list", phases[1].phase)
    assert.are.equal(phases[#phases].total, phases[#phases].done)
    for _, s in ipairs(res.selected) do
      assert.matches("^web%-%d+$", s.name)
      assert.are.equal("ACTIVE", s.status)
    end
  end)

  it("stops exactly the selection, skipping protected, excluded and stopped servers", function()
    local exclude = { env.id("ecs", 1), env.id("ecs", 2) }
    local res = client:stop_ecs{
      filter = { status = "ACTIVE", tags = { "env=staging" }, az = "az1", exclude = exclude },
      poll_interval = 0.02 }
    assert.is_true(res.ok)
    assert.are.equal(WEB - 2, #res.stopped)
    assert.are.same({ protected = PROTECTED, excluded = 2 }, reasons(res))
    local stats = fc:stats()
    assert.are.equal(WEB - 2, stats.stop_requests.total)
    assert.are.equal("ACTIVE", fc:server(exclude[1]).status)
    assert.are.equal("ACTIVE", fc:server(env.id("ecs", WEB + 1)).status) -- protected
  end)

  it("lists ECS with not-tags=__type_baremetal, so the cloud leaves bare-metal servers out", function()
    fc:configure{ bms_in_ecs_list = true } -- the ECS list holds them, tagged, as the reference says
    finally(function() fc:configure{ bms_in_ecs_list = false } end)
    local res = client:stop_ecs{ filter = { tags = { env = "staging" } }, dry_run = true }
    assert.are.equal(WEB + DB, #res.selected)
    assert.is_nil(reasons(res)["bare-metal server (use stop_bms)"]) -- never listed, so never even skipped
    for _, s in ipairs(res.selected) do assert.is_nil(s.name:match("^bm%-")) end
    -- What the cloud lists without it: the bare-metal servers among the ECS ones.
    local all = assert(client:list_ecs{ tags = "env=staging" })
    local bare = 0
    for _, s in ipairs(all) do if F.tag("__type_baremetal")(s) then bare = bare + 1 end end
    assert.are.equal(7, bare)
  end)

  it("still skips a listed server tagged __type_baremetal when stopping ECS", function()
    local selection = require "cloud.op.selection"
    local compiled = selection.compile("client:stop_ecs", { all = true })
    local listed = { { id = "b1", name = "bm-1", status = "ACTIVE", tags = { "__type_baremetal" } },
                     { id = "e1", name = "web-1", status = "ACTIVE", tags = {} } }
    local selected, skipped = selection.choose(client, "ecs", listed, compiled, false)
    assert.are.same({ { id = "e1", name = "web-1", status = "ACTIVE" } }, selected)
    assert.are.equal("bare-metal server (use stop_bms)", skipped[1].reason)
    selected = selection.choose(client, "bms", listed, compiled, false)
    assert.are.equal(2, #selected)
  end)

  it("filters by flavor, metadata through where, and a name pattern the cloud never sees", function()
    local res = client:stop_ecs{ filter = { flavor = "c7.xlarge.4", name = "^db%-[1-5]$",
      where = F.metadata("role", "primary") }, poll_interval = 0.02 }
    assert.is_true(res.ok)
    assert.are.equal(5, #res.stopped)
    local res2 = client:stop_ecs{ filter = { tags = { env = "qa" } }, poll_interval = 0.02 }
    assert.are.equal(QA, #res2.stopped)
  end)

  it("stops a protected server by id only with force = true", function()
    local p = env.id("ecs", WEB + 1)
    local res = client:stop_ecs{ ids = { p }, poll_interval = 0.02 }
    assert.is_false(res.ok)
    assert.are.same({}, res.stopped)
    assert.are.equal("protected", res.skipped[1].reason)
    assert.are.equal(0, fc:stats().stop_requests.total)
    res = client:stop_ecs{ ids = { p }, force = true, poll_interval = 0.02 }
    assert.is_true(res.ok)
    assert.are.same({ p }, res.stopped)
  end)

  it("sends nothing by id when the protection tag cannot be checked, and says why once", function()
    fc:configure{ faults = { status = { [500] = 1 }, apply_to = { action = false, job = false, list = true } } }
    finally(function() fc:configure{ faults = {} } end)
    local ids = env.ids("ecs", 1, 3)
    local res = client:stop_ecs{ ids = ids, poll_interval = 0.02 }
    env.assert_ledger(res, ids)
    assert.is_false(res.ok)
    assert.are.equal(3, #res.failed)
    assert.truthy(res.error.message:find("could not check the protection tag, so nothing was sent", 1, true),
      res.error.message)
    for _, f in ipairs(res.failed) do assert.are.equal(res.error.code, f.code) end
    assert.are.equal(0, fc:stats().calls.action)
    -- A check that succeeds leaves no error.
    fc:configure{ faults = {} }
    assert.is_nil(client:stop_ecs{ ids = ids, poll_interval = 0.02 }.error)
  end)

  it("refuses a selection larger than max_servers before any stop", function()
    -- It depends on what the cloud holds, so it is returned, not raised.
    local res, err = client:stop_ecs{ filter = { status = "ACTIVE" }, max_servers = 100 }
    assert.is_nil(res)
    assert.are.equal("cloud.max_servers", err.code)
    assert.are.equal("refused", err.kind)
    assert.truthy(tostring(err):find("refusing to stop 2565 servers, more than max_servers = 100", 1, true),
      tostring(err))
    assert.are.equal(0, fc:stats().calls.action)
    res, err = client:stop_ecs{ ids = env.ids("ecs", 1, 3), max_servers = 2, force = true }
    assert.is_nil(res)
    assert.are.equal("cloud.max_servers", err.code)
    assert.are.equal(0, fc:stats().calls.action)
  end)

  it("rejects bad filters by name", function()
    local function raises(filter, text)
      local ok, err = pcall(client.stop_ecs, client, { filter = filter })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    end
    raises({ colour = "x" }, "option 'filter.colour' is unknown")
    raises({ name = "[" }, "option 'filter.name' is not a valid Lua pattern")
    -- Malformed further in: string.find would only notice when a name reached that part.
    raises({ name = "web[" }, "option 'filter.name' is not a valid Lua pattern")
    raises({ name = "^web%" }, "option 'filter.name' is not a valid Lua pattern")
    raises({ name = "(web" }, "option 'filter.name' is not a valid Lua pattern")
    raises({ status = 1 }, "option 'filter.status' must be a string or an array of strings")
    raises({ where = "x" }, "option 'filter.where' must be a function")
    raises({ tags = { 1 } }, "option 'filter.tags'")
    local ok, err = pcall(client.stop_ecs, client, { ids = { "a" }, filter = {} })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("either 'ids' or 'filter'", 1, true))
    assert.are.equal(0, fc:stats().calls.total)
  end)
end)
