-- SIGTERM and SIGHUP as Ctrl-C. core.trap_signals and core.caught_signal: the first signal
-- noted once trapped, a second one killing, nothing trapped until asked, an ignored SIGHUP
-- left ignored.
local cli = require "spec.support.cli"
local subprocess = require "spec.support.subprocess"

describe("core.trap_signals and core.caught_signal", function()
  -- os.execute's shell is the child's child: its $PPID is the child.
  local KILL_SELF = 'os.execute("kill -%s $PPID") '

  it("note the first signal once trapped; a second of the same kind kills", function()
    local out = subprocess.run('local core = require "cloud.core" '
      .. 'print("before", core.caught_signal()) '
      .. 'print("trap", core.trap_signals(), core.trap_signals()) '
      .. KILL_SELF:format("TERM") .. 'print("term", core.caught_signal()) '
      .. KILL_SELF:format("HUP") .. 'print("hup", core.caught_signal()) '
      .. 'print("again", core.trap_signals()) '
      .. KILL_SELF:format("TERM") .. 'print("alive after a second SIGTERM")', nil, 20)
    -- (The shell popen runs it in says "Terminated" after.)
    assert.equal("before\tnil\ntrap\ttrue\ttrue\nterm\tSIGTERM\t15\nhup\tSIGTERM\t15\nagain\ttrue\n",
      (out:gsub("Terminated\n$", "")))
  end)

  it("trap nothing until asked: a library's process dies of SIGTERM as before", function()
    local out = subprocess.run('local core = require "cloud.core" print("loaded", core.caught_signal()) '
      .. KILL_SELF:format("TERM") .. 'print("alive")', nil, 20)
    assert.equal("loaded\tnil\n", (out:gsub("Terminated\n$", "")))
  end)

  it("leave SIGHUP ignored where it was (nohup)", function()
    local script = os.tmpname()
    cli.write(script, 'local core = require "cloud.core" core.trap_signals() '
      .. KILL_SELF:format("HUP") .. 'print("alive", core.caught_signal())')
    -- The child runs the script with SIGHUP ignored, as nohup runs a command.
    local out = subprocess.run(("os.execute(%q)"):format("trap '' HUP; exec " .. subprocess.interpreter .. " "
      .. script), nil, 20)
    os.remove(script)
    assert.equal("alive\tnil\n", out)
  end)
end)
