-- A cloud that trickles its answer a byte a second: a call's `timeout` bounds the whole
-- exchange (not each read), so a stop with timeout = 3 and wait_timeout = 6 returns
-- within about 9 s on both transports. Before, the nginx transport read a body in one
-- sock:receive(n), whose timeout restarted at every byte: such a stop ran past 60 s.
-- The bounds are generous (loaded machines, valgrind) yet far below the old behaviour.
local env = require "support.cloudenv"
local appnginx = require "support.appnginx"
local bounded = require "support.bounded"
local cjson = require "cjson"

local TIMEOUT, WAIT = 3, 6
local BOUND = 20 -- seconds; the promise is WAIT + TIMEOUT, the old nginx code took 60+
-- Every call answered a byte a second, its body far longer than BOUND seconds.
local TRICKLE = { mode = "slowloris", interval = 1, max_seconds = 120,
                  apply_to = { action = true, job = true, list = true } }

describe("a body trickled a byte a second", function()
  local fc, app

  setup(function()
    fc = env.start{ job_duration = 0.05, fleet = { ecs = { { count = 10, name = "web-%d", status = "ACTIVE" } } } }
    app = assert(appnginx.start{ emulator = fc })
  end)
  teardown(function()
    if app then app:stop() end
    if fc then fc:stop() end
  end)
  before_each(function()
    assert(fc:configure{ hostile = {}, faults = {} })
    assert(fc:reset())
  end)

  -- Each server asked to stop ends in exactly one outcome, none of them "stopped": no
  -- answer was ever read whole.
  local function assert_one_outcome_each(stopped, failed, n)
    assert.are.equal(0, stopped)
    assert.are.equal(n, failed)
  end

  describe("inside nginx", function()
    it("ends one call at its timeout, for a body of known length and a chunked one", function()
      for _, kind in ipairs({ "trickle", "tricklechunked" }) do
        local code, body, took = app:get("/fetch?path=/raw/" .. kind .. "&timeout=2")
        assert.are.equal(200, code, body)
        local res = cjson.decode(body)
        assert.are.equal("timeout", res.error, body)
        assert.is_true(res.sent)
        -- 2 s of timeout; the body alone would take 30 s.
        assert.is_true(took < 10, ("%s: took %.1fs"):format(kind, took))
      end
    end)

    it("a stop with timeout = 3, wait_timeout = 6 returns within the deadline", function()
      assert(fc:configure{ hostile = TRICKLE })
      local code, body, took = app:get(("/stop?service=ecs&from=1&to=3&timeout=%d&wait_timeout=%d&attempts=3")
        :format(TIMEOUT, WAIT))
      assert.are.equal(200, code, body)
      assert.is_true(took < BOUND, ("took %.1fs"):format(took))
      local res = cjson.decode(body)
      assert.is_nil(res.error, res.error)
      assert_one_outcome_each(res.stopped, res.failed, 3)
      -- Readable: the call's whole timeout ran out, not a pause between bytes.
      assert.truthy(res.first_failure:find("within the call's timeout (3s)", 1, true), body)
    end)
  end)

  describe("with the curl transport", function()
    it("a stop with timeout = 3, wait_timeout = 6 returns within the deadline", function()
      assert(fc:configure{ hostile = TRICKLE })
      local r = assert(bounded.call(fc, { timeout = TIMEOUT, transport = "curl",
        retry = { attempts = 3, base = 0.01, cap = 0.05 } }, "stop_ecs",
        { ids = env.ids("ecs", 1, 3), force = true, poll_interval = 0.05, wait_timeout = WAIT }, BOUND + 20))
      assert.is_true(r.took < BOUND, ("took %.1fs"):format(r.took))
      assert_one_outcome_each(#r.res.stopped, #r.res.failed, 3)
      -- Every call went unanswered: the failures are timeouts, said so.
      for _, f in ipairs(r.res.failed) do
        assert.truthy(f.message:find("time", 1, true), f.message)
      end
    end)
  end)
end)
