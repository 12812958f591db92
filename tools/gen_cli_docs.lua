-- The bash completion scripts and man pages of cloud-stop, cloud-start and cloud-schedule,
-- generated from the text `--help` prints (cloud.cli.help): one source, so a flag added there
-- reaches its completion and its man page. The
-- files are committed where an install puts them, under share/ (CMake installs them into
-- share/bash-completion/completions and share/man/man1; the rock copies share/ into its
-- directory), and spec/cli_docs_spec.lua fails when they differ from what this makes.
-- usage (from the checkout; no C module needed):
--   lua5.4 tools/gen_cli_docs.lua           lists the files that are out of date (exit 1 if any)
--   lua5.4 tools/gen_cli_docs.lua --write   writes them
-- Loaded with loadfile() (the spec does), it runs nothing and returns its functions.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local help = require "cloud.cli.help"
local words = require "cloud.cli.words"

local M = {}

M.ACTIONS = { "stop", "start", "schedule" }

--- The path of each generated file of `action`.
function M.paths(action)
  local program = words[action].program
  return { bash = "share/bash-completion/completions/" .. program, man = "share/man/man1/" .. program .. ".1" }
end

-- cloud.VERSION, read from its source as tools/release-rockspec.sh does (no C module needed).
function M.version()
  local f = assert(io.open("lua/cloud/init.lua", "rb"))
  local text = f:read("*a")
  f:close()
  return assert(text:match('local M = { VERSION = "([^"]*)" }'), "no VERSION in lua/cloud/init.lua")
end

local DESC_COL, EXAMPLE_COL = 24, 26 -- the help text's columns: a flag's words, its examples

--- One option line of the help text (its two leading blanks off) read: `names` ("--yes",
-- "-y"), `arg` (the value's placeholder, or nil) and the first line of `text`. The words
-- start after two blanks, or after one where the name and its placeholder fill the column;
-- a placeholder has no lowercase letter unless it lists choices ("ID|none") or stands
-- alone on its line ("--credentials metadata").
function M.entry(s)
  if not s:match("^%-") then -- a positional argument ("ID ...")
    local head, rest = s:match("^(.-)%s%s+(%S.*)$")
    return { names = { head or s }, text = { rest }, examples = {} }
  end
  local names, pos = {}, 1
  while true do
    local name, after = s:match("^(%-%-?[%w%-]+)()", pos)
    names[#names + 1] = name
    pos = after
    local more = s:match("^, ()%-", pos)
    if not more then break end
    pos = more
  end
  local rest = s:sub(pos)
  local blanks, token, gap, tail = rest:match("^( *)(%S*)( *)(.*)$")
  local e = { names = names, text = {}, examples = {} }
  if token == "" then return e end
  local placeholder = tail == "" or (#blanks == 1 and (#gap >= 2 or not token:match("%l") or token:find("[|%[]")))
  if placeholder then
    e.arg = token
    if tail ~= "" then e.text[1] = tail end
  else
    e.text[1] = token .. gap .. tail
  end
  return e
end

--- The help text of `action` read into its parts: `usage` (the lines up to the first blank
-- one), `intro` (the paragraph after it), `sections` ({ title =, entries = { { names =
-- {"--yes", "-y"}, arg = "FILE|-" or nil, text = {...}, examples = {...} } } }) and `tail`
-- (the paragraphs after the last section: credentials, exit status).
function M.parse(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local i, doc = 1, { usage = {}, intro = {}, sections = {}, tail = {} }
  while lines[i] ~= "" do doc.usage[#doc.usage + 1] = lines[i] i = i + 1 end
  i = i + 1
  while lines[i] ~= "" do doc.intro[#doc.intro + 1] = lines[i] i = i + 1 end
  local section, entry
  for j = i + 1, #lines do
    local line = lines[j]
    local indent = #line:match("^ *")
    if line == "" then
      section, entry = nil, nil
    elseif indent == 0 and line:match(":$") and not section and #doc.tail == 0 then
      section = { title = line:sub(1, -2), entries = {} }
      doc.sections[#doc.sections + 1] = section
    elseif section and indent == 2 then
      entry = M.entry(line:sub(3))
      section.entries[#section.entries + 1] = entry
    elseif entry and indent == DESC_COL then
      entry.text[#entry.text + 1] = line:sub(DESC_COL + 1)
    elseif entry and indent >= EXAMPLE_COL then
      entry.examples[#entry.examples + 1] = line:sub(EXAMPLE_COL + 1)
    elseif section then
      error(("gen_cli_docs: a line of section '%s' it cannot read: %s"):format(section.title, line))
    else
      doc.tail[#doc.tail + 1] = line
    end
  end
  return doc
end

--- Every flag `--help` of `action` documents (aliases too), in order.
function M.flags(action)
  local out = {}
  for _, s in ipairs(M.parse(help.text(action)).sections) do
    for _, e in ipairs(s.entries) do
      for _, n in ipairs(e.names) do
        if n:match("^%-") then out[#out + 1] = n end
      end
    end
  end
  return out
end

-- What a flag's value completes to: "file", a list of words, or nil (the user's own value).
-- Literal choices are the alternatives with a lowercase letter (json, none), or all of them
-- when none has one (SOFT|HARD); an upper-case one beside lowercase ones is a placeholder (ID).
local function value_kind(arg)
  if not arg then return nil end
  if arg:find("FILE", 1, true) then return arg:find("|-", 1, true) and "file or stdin" or "file" end
  local alts, lower = {}, false
  for a in arg:gmatch("[^|]+") do
    alts[#alts + 1] = a
    if a:match("%l") then lower = true end
  end
  if #alts == 1 and not lower then return nil end
  local words_ = {}
  for _, a in ipairs(alts) do
    if (lower and a:match("%l")) or (not lower and a:match("^%u+$")) then words_[#words_ + 1] = a end
  end
  return #words_ > 0 and words_ or nil
end

--- The bash completion script of `action`.
function M.bash(action)
  local w = words[action]
  local fn = "_" .. w.program:gsub("%-", "_")
  local doc = M.parse(help.text(action))
  local flags, files, stdin, free, choices = {}, {}, {}, {}, {}
  for _, s in ipairs(doc.sections) do
    for _, e in ipairs(s.entries) do
      for _, n in ipairs(e.names) do
        if n:match("^%-") then
          flags[#flags + 1] = n
          local kind = value_kind(e.arg)
          if kind == "file" then files[#files + 1] = n
          elseif kind == "file or stdin" then stdin[#stdin + 1] = n
          elseif kind then choices[#choices + 1] = { n, table.concat(kind, " ") }
          elseif e.arg then free[#free + 1] = n end
        end
      end
    end
  end
  local out = {
    ("# bash completion for %s, generated by tools/gen_cli_docs.lua from `%s --help`"):format(w.program, w.program),
    "# (lua/cloud/cli/help.lua): do not edit. Installed into share/bash-completion/completions.",
    fn .. "() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
    "  COMPREPLY=()",
    "  case $prev in",
  }
  if #stdin > 0 then
    out[#out + 1] = ("    %s) COMPREPLY=($(compgen -f -- \"$cur\") $(compgen -W - -- \"$cur\")); return ;;")
      :format(table.concat(stdin, "|"))
  end
  if #files > 0 then
    out[#out + 1] = ("    %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;"):format(table.concat(files, "|"))
  end
  for _, c in ipairs(choices) do
    out[#out + 1] = ("    %s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;"):format(c[1], c[2])
  end
  if #free > 0 then
    out[#out + 1] = ("    %s) return ;; # a value of the user's"):format(table.concat(free, "|"))
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "  if [[ $cur == -* ]]; then"
  out[#out + 1] = ("    COMPREPLY=($(compgen -W '%s' -- \"$cur\"))"):format(table.concat(flags, " "))
  out[#out + 1] = "  elif [ \"$COMP_CWORD\" -eq 1 ]; then"
  out[#out + 1] = ("    COMPREPLY=($(compgen -W '%s' -- \"$cur\"))"):format(w.positional or "ecs bms")
  out[#out + 1] = "  fi"
  out[#out + 1] = "}"
  out[#out + 1] = ("complete -o default -F %s %s"):format(fn, w.program)
  return table.concat(out, "\n") .. "\n"
end

-- Text for roff: backslashes and hyphens escaped, a line never starting as a request.
local function roff(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  if s:match("^[.']") then s = "\\&" .. s end
  return s
end

local function para(out, lines)
  for _, l in ipairs(lines) do out[#out + 1] = roff((l:gsub("^%s+", ""))) end
end

--- The man page of `action` (roff, section 1).
function M.man(action)
  local w = words[action]
  local doc = M.parse(help.text(action))
  local upper = w.program:upper()
  local out = {
    ('.\\" Generated by tools/gen_cli_docs.lua from `%s --help` (lua/cloud/cli/help.lua): do not edit.')
      :format(w.program),
    ('.TH %s 1 "" "cloud %s" "User Commands"'):format(upper, M.version()),
    ".SH NAME",
    ("%s \\- %s"):format(roff(w.program),
      roff(w.summary or (w.verb .. " Huawei Cloud ECS and BMS servers in batches"))),
    ".SH SYNOPSIS",
    ".nf",
  }
  for _, l in ipairs(doc.usage) do out[#out + 1] = roff((l:gsub("^usage: ", ""))) end
  out[#out + 1] = ".fi"
  out[#out + 1] = ".SH DESCRIPTION"
  para(out, doc.intro)
  out[#out + 1] = ".SH OPTIONS"
  for _, s in ipairs(doc.sections) do
    out[#out + 1] = ".SS " .. roff(s.title)
    for _, e in ipairs(s.entries) do
      out[#out + 1] = ".TP"
      local names = {}
      for i, n in ipairs(e.names) do names[i] = "\\fB" .. roff(n) .. "\\fR" end
      out[#out + 1] = table.concat(names, ", ") .. (e.arg and (" \\fI" .. roff(e.arg) .. "\\fR") or "")
      para(out, e.text)
      if #e.examples > 0 then
        out[#out + 1] = ".RS"
        out[#out + 1] = ".nf"
        for _, x in ipairs(e.examples) do out[#out + 1] = roff(x) end
        out[#out + 1] = ".fi"
        out[#out + 1] = ".RE"
      end
    end
  end
  -- The paragraphs after the options: credentials, then the exit status.
  local heading = { Credentials = "ENVIRONMENT", ["Exit status"] = "EXIT STATUS" }
  for _, l in ipairs(doc.tail) do
    local head = l:match("^(%u[%l ]+):")
    if head and heading[head] then
      out[#out + 1] = ".SH " .. heading[head]
      l = l:sub(#head + 2)
    end
    if l:match("^%s*%d+[, ]") then out[#out + 1] = ".br" end -- one exit status a line
    out[#out + 1] = roff((l:gsub("^%s+", "")))
  end
  out[#out + 1] = ".SH SEE ALSO"
  local see = { stop = "cloud-start(1), cloud-schedule(1)", start = "cloud-stop(1), cloud-schedule(1)",
               schedule = "cloud-stop(1), cloud-start(1)" }
  out[#out + 1] = roff(("%s; docs/cli.md of the cloud sources"):format(see[action]))
  return table.concat(out, "\n") .. "\n"
end

--- Every generated file: { path = text }.
function M.files()
  local out = {}
  for _, action in ipairs(M.ACTIONS) do
    local p = M.paths(action)
    out[p.bash], out[p.man] = M.bash(action), M.man(action)
  end
  return out
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function main(argv)
  local write, stale = argv[1] == "--write", 0
  local paths = {}
  local files = M.files()
  for path in pairs(files) do paths[#paths + 1] = path end
  table.sort(paths)
  for _, path in ipairs(paths) do
    if read(path) ~= files[path] then
      if write then
        os.execute("mkdir -p '" .. path:match("^(.*)/") .. "'")
        local f = assert(io.open(path, "wb"))
        f:write(files[path])
        f:close()
        print("wrote " .. path)
      else
        print("out of date: " .. path)
        stale = stale + 1
      end
    end
  end
  os.exit(stale == 0 and 0 or 1)
end

-- Run as a program (arg[0] names this file), not when the spec loads it.
if type(arg) == "table" and type(arg[0]) == "string" and arg[0]:find("gen_cli_docs%.lua$") then main(arg) end

return M
