-- cloud.op.poll_plan: when the jobs of one operation are polled, with a clock of the spec's own.
-- The timing against the emulator is bench/'s (confirmation latency); stop_spec and
-- reference_client_spec poll through it.
local poll_plan = require "cloud.op.poll_plan"

-- Runs the plan from `from` to `to` in steps of `dt`; `ends[i]`: when job i ends. Returns the
-- times each job was polled, and when each was seen ended.
local function drive(plan, jobs, ends, from, to, dt)
  local polls, seen = {}, {}
  for i = 1, #jobs do polls[i] = {} end
  local t = from
  while t <= to do
    for _, j in ipairs(plan:due(t)) do
      local i = j.state
      polls[i][#polls[i] + 1] = t
      local ended = t >= ends[i]
      plan:polled(j, ended, t)
      if ended then seen[i] = t end
    end
    t = t + dt
  end
  return polls, seen
end

describe("cloud.op.poll_plan", function()
  it("polls a job soon after its submission, then a tenth of its age apart, towards poll_interval", function()
    -- Budget enough (poll_interval 1 s, ten jobs of which one runs long): the close polls.
    local plan = poll_plan.new(1, 1000, 0)
    local jobs, ends = { plan:add(1, 0) }, { 30 }
    for i = 2, 10 do jobs[i] = plan:add(i, 0) ends[i] = 1000 end
    local polls, seen = drive(plan, jobs, ends, 0, 40, 0.01)
    local p = polls[1]
    assert.is_true(math.abs(p[1] - 0.5) < 0.02, p[1])
    for k = 2, #p do
      local age, gap = p[k - 1], p[k] - p[k - 1]
      local want = math.min(1, math.max(0.5, 0.1 * age))
      assert.is_true(gap >= want - 0.02 and gap <= want + 0.02,
        ("poll %d: %.2f after one at %.2f"):format(k, gap, age))
    end
    assert.is_true(seen[1] >= 30 and seen[1] <= 31.02, seen[1])
  end)

  it("polls one job alone closely too: seen ended within max(0.5 s, a tenth of its duration)", function()
    local plan = poll_plan.new(5, 1000, 0)
    local jobs = { plan:add(1, 0) }
    local polls, seen = drive(plan, jobs, { 6 }, 0, 20, 0.01)
    assert.is_true(seen[1] >= 6 and seen[1] <= 6.6 + 0.02, seen[1])
    assert.is_true(#polls[1] <= 13, #polls[1]) -- half a second apart to 5 s, then a tenth of its age
  end)

  it("polls the oldest job closely and the others once, when they reach the age it ended at", function()
    local plan = poll_plan.new(5, 1000, 0)
    local jobs, ends = {}, {}
    for i = 1, 20 do
      jobs[i] = plan:add(i, (i - 1) * 0.005)
      ends[i] = (i - 1) * 0.005 + 6
    end
    local polls, seen = drive(plan, jobs, ends, 0, 30, 0.005)
    local total = 0
    for i = 1, 20 do
      total = total + #polls[i]
      assert.is_true(seen[i] and seen[i] - ends[i] <= 0.6 + 0.01, ("job %d seen %.3f after its end"):format(i,
        (seen[i] or math.huge) - ends[i]))
    end
    for i = 2, 20 do assert.are.equal(1, #polls[i]) end
    -- A fixed poller at 5 s polls each job at 5 s and 10 s: 40 polls.
    assert.is_true(total <= 40, total)
  end)

  it("keeps what the budget did not spend: jobs submitted one after another are each seen ended soon", function()
    -- 18 jobs of about 1 s, one accepted every half second (a stop paced by flow control).
    local plan = poll_plan.new(5, 1000, 0)
    local ends, polls, seen = {}, {}, {}
    local t, added = 0, 0
    while t <= 20 do
      if added < 18 and t >= added * 0.5 then
        added = added + 1
        plan:add(added, t)
        ends[added], polls[added] = t + 1.003, 0
      end
      for _, j in ipairs(plan:due(t)) do
        local i = j.state
        polls[i] = polls[i] + 1
        plan:polled(j, t >= ends[i], t)
        if t >= ends[i] then seen[i] = t end
      end
      t = t + 0.01
    end
    local total = 0
    for i = 1, 18 do
      assert.is_true(seen[i] and seen[i] - ends[i] <= 0.6, ("job %d seen %.2f s after its end"):format(i,
        (seen[i] or math.huge) - ends[i]))
      total = total + polls[i]
    end
    -- Mostly one poll a job: the close polls of the lead come on top, a few of them.
    assert.is_true(total <= 18 + 6, ("%d polls for 18 jobs"):format(total))
  end)

  it("polls a job that is not the oldest every two poll intervals until one job is seen ended", function()
    local plan = poll_plan.new(1, 1000, 0)
    local jobs = { plan:add(1, 0), plan:add(2, 0) }
    local polls = drive(plan, jobs, { 100, 100 }, 0, 7, 0.01)
    assert.are.equal(3, #polls[2]) -- at 2, 4 and 6 s
    assert.is_true(math.abs(polls[2][1] - 2) < 0.02)
    assert.is_true(#polls[1] > #polls[2])
  end)

  it("keeps all but the lead's close polls within a budget of one poll per job per poll_interval", function()
    local plan = poll_plan.new(2, 1000, 0)
    local jobs, ends = {}, {}
    for i = 1, 10 do
      jobs[i] = plan:add(i, 0)
      ends[i] = 1000 -- never, within the drive
    end
    local polls = drive(plan, jobs, ends, 0, 60, 0.01)
    local others = 0
    for i = 2, 10 do others = others + #polls[i] end
    -- 10 jobs at 2 s for 60 s, plus the first poll each is paid for up front.
    assert.is_true(others <= 10 * 60 / 2 + 10, others)
    -- The lead: half a second apart, then a tenth of its age, at most poll_interval.
    assert.is_true(#polls[1] <= 60 / 0.5, #polls[1])
    assert.is_true(polls[1][#polls[1]] - polls[1][#polls[1] - 1] >= 2 - 0.02)
  end)

  it("takes a last look at the deadline whatever the budget, and none after it", function()
    local plan = poll_plan.new(5, 3, 0)
    local jobs = { plan:add(1, 0), plan:add(2, 0) }
    -- The second is not the lead: its next poll would come after 10 s, the deadline's is at 3.
    local polls = drive(plan, jobs, { 100, 100 }, 0, 10, 0.01)
    assert.are.equal(1, #polls[2])
    assert.is_true(math.abs(polls[2][1] - 3) < 0.02, polls[2][1])
    assert.is_true(math.abs(polls[1][#polls[1]] - 3) < 0.02, polls[1][#polls[1]])
    assert.are.equal(nil, plan:next_time(10))
  end)

  it("waits after a failed poll, and forgets a job dropped", function()
    local plan = poll_plan.new(0.1, 1000, 0)
    local a, b = plan:add("a", 0), plan:add("b", 0)
    assert.are.equal(a, plan:due(0.1)[1])
    plan:failed(a, 5)
    plan:drop(b)
    plan:drop(b) -- twice is harmless
    assert.are.same({}, plan:due(1))
    assert.is_true(math.abs(plan:next_time(1) - 5) < 1e-9)
    assert.are.equal(a, plan:due(5)[1])
  end)

  it("makes a job added after the first ones all ended the lead, polled closely", function()
    -- Ended jobs leave the plan's list: the one added next is still found as its oldest.
    local plan = poll_plan.new(5, 1000, 0)
    local jobs, ends = {}, {}
    for i = 1, 100 do jobs[i], ends[i] = plan:add(i, 0), 1 end
    local _, seen = drive(plan, jobs, ends, 0, 10, 0.01)
    for i = 1, 100 do assert.truthy(seen[i], i) end
    jobs[101], ends[101] = plan:add(101, 10), 16
    for i = 1, 100 do ends[i] = math.huge end -- ended: never polled again
    _, seen = drive(plan, jobs, ends, 10, 30, 0.01)
    assert.is_true(seen[101] and seen[101] <= 16.6 + 0.02, tostring(seen[101]))
  end)

  it("gives lost calls' lookups a lead and an age of ending of their own, from the jobs' budget", function()
    -- Five jobs ending at 1 s; three lost calls whose servers show done at 8 s (the cloud
    -- took them late). The jobs' age of ending does not hold the lookups back, nor theirs
    -- the jobs; the lookup lead is polled closely alongside the job lead.
    local plan = poll_plan.new(5, 1000, 0)
    local jobs, ends = {}, {}
    for i = 1, 5 do jobs[i], ends[i] = plan:add(i, 0), 1 end
    for i = 6, 8 do jobs[i], ends[i] = plan:add(i, 0, "lookup"), 8 end
    local polls, seen = drive(plan, jobs, ends, 0, 30, 0.01)
    for i = 1, 5 do assert.is_true(seen[i] <= 1.5 + 0.02, ("job %d seen at %.2f"):format(i, seen[i])) end
    -- The lookup lead: a tenth of its age apart (0.8 s at 8 s); the others at that age.
    for i = 6, 8 do assert.is_true(seen[i] <= 8.8 + 0.02, ("lookup %d seen at %.2f"):format(i, seen[i])) end
    assert.is_true(#polls[6] >= 10, #polls[6]) -- the lead, from 0.5 s on
    -- The others, polled every IDLE poll intervals until the lead ended, then once: 2 each.
    for i = 7, 8 do assert.is_true(#polls[i] <= 2, ("lookup %d: %d polls"):format(i, #polls[i])) end
    assert.are.equal(plan:earliest_new(30, "lookup"), 30 + 0.5)
  end)

  it("polls every job each turn with poll_interval = 0", function()
    local plan = poll_plan.new(0, 1000, 0)
    plan:add(1, 0) plan:add(2, 0)
    assert.are.equal(2, #plan:due(0))
  end)
end)
