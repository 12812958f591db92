-- A stop running in an ngx.timer.at callback when nginx is told to quit (QUIT to the
-- master, as `nginx -s quit` and Debian's init do; then TERM 5 s later, as Debian's stop
-- schedule does): no stop call leaves after the quit, the jobs already accepted get
-- shutdown_grace, the record ends, and nginx exits.
local env = require "support.cloudenv"
local shutdown_app = require "support.shutdown_app"
local cjson = require "cjson"

local N = 10000 -- ten stop calls of 1000, one a second (servers_per_minute = 60000)
-- How late after QUIT a stop call may still arrive: the worker learns of the quit from its
-- master, and a call may have been leaving meanwhile. A stop that ignored the quit would
-- send its next call a second after the last one, and seven more after that.
local IN_FLIGHT_ALLOWANCE = 1.0

describe("a stop in an nginx timer when nginx quits", function()
  local fc, dir

  setup(function()
    fc = env.start{ fleet = { ecs = { { count = N, status = "ACTIVE" } } } }
    local p = io.popen("mktemp -d /tmp/nginx_shutdown.XXXXXX")
    dir = p:read("*l")
    p:close()
  end)
  teardown(function()
    if fc then fc:stop() end
    os.execute("rm -rf " .. dir)
  end)

  local function quit_during_stop(name, term_after, grace)
    return shutdown_app.quit_during_stop{ emulator = fc, n = N, record = dir .. "/" .. name .. ".jsonl",
      term_after = term_after, grace = grace }
  end

  local function check(run)
    assert.is_true(run.exited, "still running " .. ("%.1f"):format(run.took) .. " s after the signal")
    -- No stop call arrived after the quit but one already leaving.
    local arrivals = run.stats.action_arrivals
    assert.is_true(#arrivals >= 2)
    for _, t in ipairs(arrivals) do
      assert.is_true(t <= run.quit_at + IN_FLIGHT_ALLOWANCE,
        ("a stop call arrived %.2f s after QUIT"):format(t - run.quit_at))
    end
    assert.is_true(#arrivals < N / 1000, #arrivals .. " stop calls: the quit did not stop them")
    -- The record: every call that left was written ahead, every server has its one outcome,
    -- the end line says the stop was cut short.
    local rec = run.record
    assert.is_true(rec.intents >= #arrivals)
    assert.are.equal(1, #rec.ends, "no end line: " .. run.log:sub(-1500))
    assert.is_true(rec.ends[1].shutdown)
    assert.are.same({}, rec.twice)
    assert.are.equal(N, rec.noutcomes)
    for id in pairs(rec.named) do
      assert.is_table(rec.outcomes[id], "no outcome for " .. id)
    end
    local unsent = 0
    for _, o in pairs(rec.outcomes) do
      if o.code == "cloud.shutdown" then
        unsent = unsent + 1
        assert.are.equal(false, o.changed)
      else
        -- Sent, its job still running: a doubt, never "not sent".
        assert.are.equal("cloud.unconfirmed", o.code, cjson.encode(o))
        assert.are.equal(cjson.null, o.changed)
      end
    end
    assert.are.equal(N - 1000 * #arrivals, unsent)
    -- The timer's own view: the result came back (not raised), cut short.
    assert.is_table(run.result, "the timer wrote no result")
    assert.is_true(run.result.shutdown)
    assert.is_true(run.result.exiting)
    assert.are.equal(N - 1000 * #arrivals, run.result.codes["cloud.shutdown"])
  end

  it("under QUIT: sends no more stop calls, ends its record and lets nginx exit", function()
    local run = quit_during_stop("quit")
    check(run)
    -- Not the jobs' 60 s: shutdown_grace (2 s) and a last look.
    assert.is_true(run.took < 30, ("nginx took %.1f s to exit"):format(run.took))
    print(("\nQUIT: %d stop calls, nginx exited %.2f s after QUIT"):format(#run.stats.action_arrivals, run.took))
  end)

  it("under a reload (HUP): the old worker's stop is cut short the same way", function()
    local run = shutdown_app.quit_during_stop{ emulator = fc, n = N, record = dir .. "/reload.jsonl", reload = true }
    check(run)
  end)

  -- TERM ends the worker at once: the stop must be over by then. The default grace (2 s)
  -- is; a shorter one keeps a loaded machine's margin wide.
  it("under QUIT then TERM 5 s later (Debian's stop schedule): the record is whole", function()
    local run = quit_during_stop("quit-term", 5, 0.5)
    check(run)
    print(("\nQUIT+TERM: %d stop calls, nginx exited %.2f s after QUIT, TERM %s"):format(
      #run.stats.action_arrivals, run.took, run.termed and "sent" or "not needed"))
  end)
end)
