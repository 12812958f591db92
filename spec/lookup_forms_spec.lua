-- Several ids in one ECS lookup (`server_id`), against each reading of the form: the
-- reference's repeated key, the Python SDK's commas, both, and unknown ids answered by
-- null stubs. A lookup must never report an id missing because the cloud read the other
-- form. Over real HTTP on 127.0.0.1; runs under lua5.4 and luajit.
package.path = "tools/?.lua;" .. package.path

local cjson = require "cjson"
local env = require "spec.support.cloudenv"
local client = require "fakecloud.client"

local FLEET = { ecs = { { count = 50, status = "SHUTOFF", name = "off-%d" }, { count = 10, name = "on-%d" } } }
local OFF = env.ids("ecs", 1, 50)
-- Well-formed ids no server has (the emulator's ids past its fleet).
local GONE = env.ids("ecs", 900, 905)

describe("multi-id lookups", function()
  local fc

  setup(function() fc = env.start{ fleet = FLEET, job_duration = 0.05 } end)
  teardown(function() if fc then fc:stop() end end)

  local function lists() return fc:stats().calls.list or 0 end

  describe("the emulator's readings", function()
    local raw
    setup(function() raw = client.for_emulator(fc) end)
    after_each(function() assert(fc:configure{ server_id_form = "both", unknown_ids = "omit" }) end)

    local function count(q)
      local code, l = raw:list("ecs", q)
      assert.are.equal(200, code)
      return l.count, l.servers
    end

    it("repeated: each value is one id; a comma-joined value matches nothing", function()
      assert(fc:configure{ server_id_form = "repeated" })
      assert.are.equal(3, count{ server_id = { OFF[1], OFF[2], OFF[3] } })
      assert.are.equal(0, count{ server_id = OFF[1] .. "," .. OFF[2] })
    end)

    it("comma: the last value, split at commas; a repeated key keeps one value", function()
      assert(fc:configure{ server_id_form = "comma" })
      assert.are.equal(2, count{ server_id = OFF[1] .. "," .. OFF[2] })
      local n, servers = count{ server_id = { OFF[1], OFF[2], OFF[3] } }
      assert.are.equal(1, n)
      assert.are.equal(OFF[3], servers[1].id)
    end)

    it("both (the default): every value, split at commas", function()
      assert.are.equal(3, count{ server_id = { OFF[1] .. "," .. OFF[2], OFF[3] } })
    end)

    it("stub: an unknown id comes back with only id and fault", function()
      assert(fc:configure{ unknown_ids = "stub" })
      local n, servers = count{ server_id = { OFF[1], GONE[1] } }
      assert.are.equal(2, n)
      assert.are.equal(OFF[1], servers[1].id)
      assert.are.equal(GONE[1], servers[2].id)
      assert.are.equal(404, servers[2].fault.code)
      assert.are.equal(cjson.null, servers[2].status)
    end)

    it("refuses a malformed reading at configure time", function()
      assert.is_nil((fc:configure{ server_id_form = "semicolon" }))
      assert.is_nil((fc:configure{ unknown_ids = "maybe" }))
    end)
  end)

  for _, reading in ipairs({
    { server_id_form = "repeated" }, { server_id_form = "comma" }, { server_id_form = "both" },
    { server_id_form = "repeated", unknown_ids = "stub" }, { server_id_form = "comma", unknown_ids = "stub" },
  }) do
    local name = reading.server_id_form .. (reading.unknown_ids and ", unknown ids as stubs" or "")
    describe("a cloud reading " .. name, function()
      before_each(function()
        assert(fc:configure{ fleet = FLEET, server_id_form = reading.server_id_form,
                             unknown_ids = reading.unknown_ids or "omit" })
        assert(fc:reset())
      end)

      it("a second stop of 50 servers already off reports them already stopped, none failed", function()
        local c = env.default_client(fc)
        local res = c:stop_ecs{ ids = OFF, poll_interval = 0.05, wait_timeout = 120 }
        assert.are.same({}, res.failed)
        assert.are.equal(50, #res.skipped)
        for _, s in ipairs(res.skipped) do assert.are.equal("already SHUTOFF", s.reason) end
        env.assert_ledger(res, OFF)
        c:close()
      end)

      it("list_ecs{server_id} finds exactly the servers that exist, in the order asked", function()
        local c = env.default_client(fc)
        local asked = { GONE[1], OFF[7], GONE[2], env.id("ecs", 55), OFF[9], GONE[3] }
        local l = assert(c:list_ecs{ server_id = asked })
        assert.are.same({ OFF[7], env.id("ecs", 55), OFF[9] }, { l[1].id, l[2].id, l[3].id })
        assert.are.equal(3, #l)
        -- The comma-joined string of the library's older doc: the same answer.
        l = assert(c:list_ecs{ server_id = table.concat(asked, ",") })
        assert.are.equal(3, #l)
        c:close()
      end)

      it("ids none of which exist are each reported missing, never found", function()
        local c = env.default_client(fc)
        local l = assert(c:list_ecs{ server_id = GONE })
        assert.are.same({}, l)
        c:close()
      end)

      it("learns the form once per client: a later lookup of many ids is one call", function()
        local c = env.default_client(fc)
        assert.are.equal(20, #assert(c:list_ecs{ server_id = env.ids("ecs", 1, 20) }))
        local before = lists()
        assert.are.equal(30, #assert(c:list_ecs{ server_id = env.ids("ecs", 21, 50) }))
        assert.are.equal(1, lists() - before)
        c:close()
      end)
    end)
  end
end)
