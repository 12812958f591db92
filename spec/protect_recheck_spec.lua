-- The protection tag is checked again on the client against each server's own tags: the
-- cloud's tag filter is not trusted to be exact. The reference says only that `tags`
-- returns "servers whose tag field contains this value", so the emulator can answer it
-- loosely (config key `tag_match`): by key alone, or by text contained. A server tagged
-- stop-protect=false, stop-protect with an empty value, or a look-alike key is stopped all
-- the same; stop-protect=true never; both by id and by filter.
local env = require "support.cloudenv"
local cjson = require "cjson"

-- Each group: its tags, and whether the protection tag protects it.
local GROUPS = {
  { tags = { "role=web", "stop-protect=true" }, protected = true },
  { tags = { "role=web", "stop-protect=false" } },
  { tags = { "role=web", "stop-protect=" } },         -- the key with an empty value
  { tags = { "role=web", "stop-protect" } },          -- the key alone
  { tags = { "role=web", "stop-protect=truely" } },   -- contains "stop-protect=true"
  { tags = { "role=web", "no-stop-protect=true" } },  -- so does this one
}
local PER = 3
-- Not chosen by the filter role=web, which a loose cloud answers with them too.
local OTHER = { tags = { "role=db", "stop-protect=false" } }

local function fleet()
  local groups = {}
  for i, g in ipairs(GROUPS) do groups[i] = { count = PER, status = "ACTIVE", tags = g.tags } end
  groups[#groups + 1] = { count = PER, status = "ACTIVE", tags = OTHER.tags }
  return { ecs = groups, bms = { { count = 1 } } }
end

-- The ids of group n (1-based; OTHER is the last).
local function ids_of(n) return env.ids("ecs", (n - 1) * PER + 1, n * PER) end

local function set(list)
  local s = {}
  for _, id in ipairs(list) do s[id] = true end
  return s
end

local function sorted(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  table.sort(out)
  return out
end

describe("the protection tag checked again on the cloud's answer", function()
  local fc, client
  setup(function()
    fc = env.start{ job_duration = 0.02, fleet = fleet() }
    client = env.default_client(fc)
  end)
  teardown(function()
    client:close()
    fc:stop()
  end)

  local unprotected, protected = {}, ids_of(1)
  for n = 2, #GROUPS do
    for _, id in ipairs(ids_of(n)) do unprotected[#unprotected + 1] = id end
  end

  -- What the cloud answers to the tag query the protection check sends.
  local function answered(query)
    local list = assert(client:list_ecs(query))
    local out = {}
    for i, s in ipairs(list) do out[i] = s.id end
    return sorted(out)
  end

  -- Nothing was sent for the protected servers, and every other one was stopped once.
  local function check_cloud()
    for _, id in ipairs(protected) do
      local s = assert(fc:server(id))
      assert.are.equal(0, s.stop_requests, id)
      assert.are.equal("ACTIVE", s.status, id)
    end
    for _, id in ipairs(unprotected) do
      local s = assert(fc:server(id))
      assert.are.equal(1, s.stop_requests, id)
      assert.are.equal("SHUTOFF", s.status, id)
    end
  end

  it("the emulator's strict default answers the tag query with the protected servers only", function()
    assert(fc:configure{ tag_match = cjson.null })
    assert.are.same(sorted(protected), answered{ tags = "stop-protect=true" })
    -- A bare key matches any value of it: groups 1 to 5 and OTHER, not no-stop-protect.
    local keyed = {}
    for _, n in ipairs({ 1, 2, 3, 4, 5, #GROUPS + 1 }) do
      for _, id in ipairs(ids_of(n)) do keyed[#keyed + 1] = id end
    end
    assert.are.same(sorted(keyed), answered{ tags = "stop-protect" })
  end)

  it("refuses a tag_match it does not know", function()
    local ok = fc:configure{ tag_match = "fuzzy" }
    assert.falsy(ok)
    assert(fc:configure{ tag_match = cjson.null })
  end)

  for _, mode in ipairs({ "key", "contains" }) do
    describe("against a cloud matching tags by " .. mode, function()
      before_each(function()
        assert(fc:configure{ tag_match = mode })
        assert(fc:reset())
      end)
      after_each(function() assert(fc:configure{ tag_match = cjson.null }) end)

      it("answers the tag query loosely (or this spec would prove nothing)", function()
        local got = answered{ tags = "stop-protect=true" }
        assert.truthy(#got > #protected, cjson.encode(got))
        local has = set(got)
        for _, id in ipairs(protected) do assert.is_true(has[id], id) end
      end)

      it("by id: stops every server not tagged stop-protect=true, skips the protected ones", function()
        local all = {}
        for _, id in ipairs(protected) do all[#all + 1] = id end
        for _, id in ipairs(unprotected) do all[#all + 1] = id end
        local res = assert(client:stop_ecs{ ids = all, poll_interval = 0.02 })
        assert.are.same(sorted(unprotected), sorted(res.stopped))
        local skipped = {}
        for _, s in ipairs(res.skipped) do
          assert.are.equal("protected", s.reason, s.id)
          skipped[#skipped + 1] = s.id
        end
        assert.are.same(sorted(protected), sorted(skipped))
        assert.are.same({}, res.failed)
        check_cloud()
      end)

      it("by filter: the same, and servers the filter does not choose stay untouched", function()
        local res = assert(client:stop_ecs{ filter = { tags = { role = "web" } }, poll_interval = 0.02 })
        assert.are.same(sorted(unprotected), sorted(res.stopped))
        local skipped = {}
        for _, s in ipairs(res.skipped) do
          assert.are.equal("protected", s.reason, s.id)
          skipped[#skipped + 1] = s.id
        end
        assert.are.same(sorted(protected), sorted(skipped))
        check_cloud()
        for _, id in ipairs(ids_of(#GROUPS + 1)) do
          local s = assert(fc:server(id))
          assert.are.equal(0, s.stop_requests, id)
        end
      end)

      it("force = true stops the protected ones too, by id", function()
        local res = assert(client:stop_ecs{ ids = protected, force = true, poll_interval = 0.02 })
        assert.are.same(sorted(protected), sorted(res.stopped))
      end)
    end)
  end
end)
