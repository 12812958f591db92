-- The bash completion scripts and man pages under share/ are exactly what
-- tools/gen_cli_docs.lua makes from the --help text (cloud.cli.help): a flag added to the
-- help without `lua5.4 tools/gen_cli_docs.lua --write` fails here. Every flag --help shows is
-- in both; the completion completes in bash; the man page renders (when man is installed:
-- tools/deps.sh installs man-db and groff-base).
local cli = require "spec.support.cli"
local help = require "cloud.cli.help"
local gen = assert(loadfile("tools/gen_cli_docs.lua"))()

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path)
  local text = f:read("*a")
  f:close()
  return text
end

-- Runs a shell command; returns its stdout and whether it exited 0.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)\n$"))
  return out:gsub("rc=%d+\n$", ""), rc == 0
end

local function have(program)
  local _, ok = sh("command -v " .. program .. " >/dev/null")
  return ok
end

-- The flags of a --help text, read as a user reads them: the "--x" starting an option line
-- (two blanks in), and each ", -x" right after it.
local function help_flags(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local flag, pos = line:match("^  (%-%-?[%w%-]+)()")
    while flag do
      out[flag] = true
      flag, pos = line:match("^, (%-%-?[%w%-]+)()", pos)
    end
  end
  return out
end

describe("cloud-stop, cloud-start and cloud-schedule: completion and man page", function()
  it("share/ holds exactly what tools/gen_cli_docs.lua makes from --help", function()
    for path, text in pairs(gen.files()) do
      assert.are.equal(text, read(path), path .. " is out of date: run lua5.4 tools/gen_cli_docs.lua --write")
    end
  end)

  for _, action in ipairs(gen.ACTIONS) do
    local program = "cloud-" .. action
    local paths = gen.paths(action)

    it(program .. ": every flag of --help is in the completion script and the man page", function()
      local flags = help_flags(help.text(action))
      local n = 0
      local bash, man = read(paths.bash), read(paths.man)
      -- The words offered for a "-" being typed.
      local offered = {}
      local list = assert(bash:match("%[%[ %$cur == %-%* %]%]; then\n%s*COMPREPLY=%(%$%(compgen %-W '([^']*)'"))
      for w in list:gmatch("%S+") do
        offered[w] = true
      end
      for flag in pairs(flags) do
        n = n + 1
        assert.truthy(offered[flag], flag .. " is not completed")
        assert.truthy(man:find("\\fB" .. flag:gsub("%-", "\\-") .. "\\fR", 1, true), flag .. " is not in the man page")
      end
      assert.truthy(n > 30, "--help shows only " .. n .. " flags")
      if action == "schedule" then
        assert.truthy(flags["--config"] and flags["--state-dir"] and flags["--at"] and flags["--usage"] and flags["-y"])
        return
      end
      assert.truthy(flags["--wait-jobs"] and flags["--output"] and flags["-y"])
      assert.are.equal(action == "start", flags["--from-record"] == true)
      assert.are.equal(action == "stop", flags["--type"] == true)
    end)

    it(program .. ": the completion completes flags, services and values in bash", function()
      local function complete(...)
        local words = { program, ... }
        local q = {}
        for i, w in ipairs(words) do q[i] = cli.quote(w) end
        local out, ok = sh(("bash -c %s"):format(cli.quote(("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; %s;"
          .. " printf '%%s\\n' \"${COMPREPLY[@]}\""):format(cli.quote(paths.bash), table.concat(q, " "), #words - 1,
          "_" .. program:gsub("%-", "_")))))
        assert(ok, out)
        local got = {}
        for l in out:gmatch("[^\n]+") do got[#got + 1] = l end
        table.sort(got)
        return got
      end
      if action == "schedule" then
        assert.same({ "run" }, complete("r"))
        assert.same({ "--state-dir" }, complete("run", "--state"))
        assert.same({ "all_granted_eps" }, complete("plan", "--enterprise-project-id", "a"))
        assert.same({}, complete("run", "--at", "2026"))
        assert.same({ "tools/gen_cli_docs.lua" }, complete("plan", "--config", "tools/gen_cli_d"))
        return
      end
      assert.same({ "bms" }, complete("b"))
      assert.same({ "--wait-jobs", "--wait-timeout" }, complete("ecs", "--wait"))
      assert.same({ "json", "text", "tsv" }, complete("ecs", "--output", ""))
      assert.same({ "all_granted_eps" }, complete("ecs", "--enterprise-project-id", "a"))
      assert.same({}, complete("ecs", "--region", "cn"))
      if action == "stop" then assert.same({ "HARD", "SOFT" }, complete("ecs", "--type", "")) end
      assert.same({ "-" }, complete("ecs", "--ids-file", "-"))
      assert.same({ "tools/gen_cli_docs.lua" }, complete("ecs", "--ca-file", "tools/gen_cli_d"))
    end)

    it(program .. ": the man page renders (man -l)", function()
      if not have("man") then
        pending("man is not installed (tools/deps.sh installs man-db and groff-base)")
        return
      end
      -- man and groff are not ours: the suite's ASan run must not preload its runtime into them.
      local out, ok = sh("env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS MANWIDTH=100 man -l "
        .. cli.quote(paths.man))
      assert(ok, out)
      out = out:gsub(".\b", "") -- bold and underline as overstrikes, should man leave them
      assert.truthy(out:find(program:upper() .. "(1)", 1, true), out)
      for _, heading in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS" }) do
        assert.truthy(out:find("\n" .. heading .. "\n", 1, true), heading)
      end
      if action == "schedule" then
        assert.truthy(out:find("--state-dir DIR", 1, true), out)
        assert.truthy(out:find("cloud-schedule plan --config schedule.json --at 2026-12-24T20:00:00+01:00", 1, true),
          out)
        return
      end
      assert.truthy(out:find("--wait-jobs ID[,ID...]", 1, true), out)
      assert.truthy(out:find(program .. " ecs --tag env=staging --yes --output tsv", 1, true), out)
    end)
  end

  it("reads an option line by its columns: names, placeholder, words", function()
    assert.same({ names = { "--yes", "-y" }, text = { "do not ask" }, examples = {} },
      gen.entry("--yes, -y             do not ask"))
    assert.same({ names = { "--type" }, arg = "SOFT|HARD", text = { "ECS stop type" }, examples = {} },
      gen.entry("--type SOFT|HARD      ECS stop type"))
    assert.same({ names = { "--project-id" }, arg = "P[,P...]", text = { "project id" }, examples = {} },
      gen.entry("--project-id P[,P...] project id"))
    assert.same({ names = { "--no-project-id-check" }, text = { "take a --project-id" }, examples = {} },
      gen.entry("--no-project-id-check take a --project-id"))
    assert.same({ names = { "--credentials" }, arg = "metadata", text = {}, examples = {} },
      gen.entry("--credentials metadata"))
    assert.same({ names = { "--servers-per-minute" }, arg = "N", text = { "send stops" }, examples = {} },
      gen.entry("--servers-per-minute N  send stops"))
  end)
end)
