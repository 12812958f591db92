--- Progress on stderr: on a terminal one line redrawn with \r; otherwise one plain line per
-- phase the first time it is seen, so a log file gets a handful of lines, not a flood.
-- Fed by the library's on_progress events and its logger lines.
-- @module cloud.cli.progress
local safe = require "cloud.cli.safe"
local words = require "cloud.cli.words"

local M = {}
local Progress = {}
Progress.__index = Progress

local LABEL = { submit = "submitting", wait = "waiting", done = "done" }
local REDRAW_EVERY = 0.1 -- seconds; a terminal cannot show faster and the loop must not pay for it

--- Makes a progress display.
-- @tparam table o out (file handle, stderr), tty (boolean), service ("ecs"/"bms"),
--   clock (function returning seconds), width (columns, tty only), verbose (print log lines),
--   words (cloud.cli.words: the command's; cloud-stop's when nil)
function M.new(o)
  return setmetatable({
    words = o.words or words.stop,
    out = o.out, tty = o.tty, service = o.service, clock = o.clock, width = o.width or 80,
    verbose = o.verbose, t0 = o.clock(), seen = {}, phase = nil, done = 0, total = 0,
    submitted = 0, failed = 0, skipped = 0, retries = 0, listed = 0, drawn_at = -1, shown = false,
  }, Progress)
end

function Progress:elapsed()
  return self.clock() - self.t0
end

-- Counts for the current phase, without the bar.
function Progress:counts()
  local phase = self.phase or "list"
  if phase == "list" then
    return ("listing: %d/%d servers listed"):format(self.listed, self.total)
  elseif phase == "check" then
    return ("checking %d servers"):format(self.total)
  end
  -- Settled is stopped, failed, or found already stopped (the result's skipped): the
  -- line counts as the result does.
  local stopped = self.stopped or (phase == "wait" and math.max(0, self.done - self.failed - self.skipped)) or 0
  local skipped = self.skipped > 0 and (", skipped %d"):format(self.skipped) or ""
  return ("%s: submitted %d/%d, %s %d, failed %d%s"):format(LABEL[phase] or phase,
    self.submitted, self.total, self.words.done, stopped, self.failed, skipped)
end

function Progress:fraction()
  local phase, total = self.phase, self.total
  if phase == "done" then return 1 end
  if total <= 0 then return 0 end
  if phase == "wait" then return self.done / total end
  if phase == "submit" then return self.submitted / total end
  if phase == "list" then return self.listed / total end
  return 0
end

--- The one-line status, at most `width - 1` columns (a wrapped line cannot be redrawn).
function Progress:line()
  local tail = ("%s  retries %d  %.1fs"):format(self:counts(), self.retries, self:elapsed())
  local head = self.service .. " "
  local room = self.width - 1 - #head - #tail - 3
  local bar = ""
  if room >= 10 then
    local cells = math.min(room, 30)
    local full = math.floor(math.min(1, math.max(0, self:fraction())) * cells + 0.5)
    bar = "[" .. ("#"):rep(full) .. ("."):rep(cells - full) .. "] "
  end
  return (head .. bar .. tail):sub(1, self.width - 1)
end

function Progress:draw(force)
  if not self.tty then return end
  local now = self.clock()
  if not force and now - self.drawn_at < REDRAW_EVERY then return end
  self.drawn_at = now
  self.out:write("\r\27[K", self:line())
  self.out:flush()
  self.shown = true
end

-- Without a terminal: one line when a phase ends, with that phase's final counts.
function Progress:leave()
  local phase = self.phase
  if self.tty or not phase or self.seen[phase] then return end
  self.seen[phase] = true
  self.out:write(("%s: %s %s (%.1fs)\n"):format(self.words.program, self.service, self:counts(), self:elapsed()))
  self.out:flush()
end

function Progress:enter(phase)
  if phase == self.phase then return false end
  self:leave()
  self.phase = phase
  return true
end

--- Switches to a phase the CLI itself knows about ("list", "check").
-- @tparam string phase
-- @tparam[opt] number total servers concerned (check: how many ids are looked up)
function Progress:set_phase(phase, total)
  local changed = self:enter(phase)
  if total then self.total = total end
  self:draw(changed)
end

--- The library's on_progress callback: `{phase, done, total, failed}`.
function Progress:event(e)
  -- Resubmits after a transient failure come after waiting began: keep showing "wait".
  local phase = (e.phase == "submit" and self.phase == "wait") and "wait" or e.phase
  local changed = self:enter(phase)
  if e.phase == "list" then
    self.listed, self.total = e.done or self.listed, e.total or self.total
  else
    self.total = e.total or self.total
    if e.phase == "submit" then
      self.submitted = math.min(self.total, math.max(self.submitted, e.done or 0))
    else
      self.done = e.done or self.done
    end
    self.failed = e.failed or self.failed
    self.skipped = e.skipped or self.skipped
  end
  self:draw(changed)
end

--- The library's logger: counts retries; with verbose, shows the line above the bar
-- (a warning, such as a credentials file others may read, always).
function Progress:log(text, level)
  if text:match("^retry ") then self.retries = self.retries + 1 end
  if self.verbose or level == "warning" then
    if self.tty and self.shown then self.out:write("\r\27[K") end
    self.out:write(self.words.program, ": ", safe.text(text), "\n") -- lines quote the cloud's errors
    if self.tty and self.shown then self.out:write(self:line()) end
    self.out:flush()
  else
    self:draw(false)
  end
end

--- Starts the elapsed time again (after waiting for a person to answer).
function Progress:restart()
  self.t0 = self.clock()
end

--- Pauses the bar (clears its line) before something else is written to the terminal.
function Progress:clear()
  if self.tty and self.shown then
    self.out:write("\r\27[K")
    self.out:flush()
    self.shown = false
  end
end

--- Final state: on a terminal the last bar stays on screen, ended by a newline.
-- @tparam[opt] table res the result, whose counts the last line then shows
function Progress:finish(res)
  self:leave()
  if res and not res.dry_run and (self.phase == "wait" or self.phase == "submit") then
    self.phase = "done"
    self.stopped, self.failed, self.skipped = #(res[self.words.done] or {}), #res.failed, #(res.skipped or {})
  end
  if self.tty then
    self:draw(true)
    self.out:write("\n")
    self.shown = false
  else
    self.out:write(("%s: %s finished in %.1fs, %d %s\n"):format(self.words.program, self.service,
      self:elapsed(), self.retries, self.retries == 1 and "retry" or "retries"))
  end
  self.out:flush()
end

return M
