-- core.create_file and core.read_file (csrc/file.c, csrc/file_lua.c): record files created
-- exclusively and durably, never through a symlink; files read back only when regular and
-- small enough. Checked against the file system itself, in a directory of the spec's own.
local core = require "cloud.core"
local errors = require "cloud.errors"
local subprocess = require "support.subprocess"

local EEXIST, ENOENT, ENOSPC = 17, 2, 28

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- os.execute's success, as 5.4 (true) and LuaJIT without 5.2 compatibility (0) say it.
local function succeeds(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- How many descriptors of this process are open on path (the shell's parent is this Lua).
local function open_fds(path)
  local p = assert(io.popen("ls -l /proc/$PPID/fd 2>/dev/null"))
  local listing = p:read("*a")
  p:close()
  local n = 0
  for line in listing:gmatch("[^\n]+") do
    if line:sub(-#path - 4) == " -> " .. path then n = n + 1 end
  end
  return n
end

local function pack(...) return { n = select("#", ...), ... } end

-- fn raises a caller's mistake (the argument error of cloud.errors), and its message
-- says text.
local function raises(fn, text)
  local ok, err = pcall(fn)
  assert.is_false(ok, "did not raise: " .. text)
  assert.are.equal("argument", errors.kind(err), tostring(err))
  assert.truthy(tostring(err):find(text, 1, true), tostring(err))
end

local dir -- each test's own directory, removed after it

-- The checkout, for the children's absolute paths.
local tree = (function()
  local p = assert(io.popen("pwd"))
  local d = p:read("*l")
  p:close()
  return d
end)()

-- A path list with its relative entries made absolute (children run elsewhere).
local function absolute(paths)
  return (paths:gsub("[^;]+", function(e) return e:sub(1, 1) == "/" and e or tree .. "/" .. e end))
end

-- Runs `code` (with `core` loaded) in a fresh interpreter under a hard timeout, after the
-- shell commands `before` (run in the same shell; `&&`-joined), and `wrap` around the
-- whole (`unshare --mount`). Returns what it printed, and its exit status.
local function child(code, before, wrap)
  local script = dir .. "/child.lua"
  spit(script, 'io.stdout:setvbuf("no") local core = require "cloud.core" ' .. code)
  local env = { "LUA_PATH=" .. quote(tree .. "/lua/?.lua;" .. tree .. "/lua/?/init.lua;;"),
                "LUA_CPATH=" .. quote(absolute(os.getenv("LUA_CPATH") or ";;")) }
  -- The sanitizer run's preload goes along: the child loads the same ASan-built module.
  for _, k in ipairs({ "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" }) do
    if os.getenv(k) then env[#env + 1] = k .. "=" .. quote(os.getenv(k)) end
  end
  local run = ("timeout -s KILL 5 env %s %s %s"):format(table.concat(env, " "), subprocess.interpreter,
    quote(script))
  local cmd = before and (before .. " && " .. run) or run
  if wrap then cmd = wrap .. " sh -c " .. quote(cmd) end
  -- The status is printed, not taken from close(): LuaJIT's popen close does not give it.
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit $?\""))
  local out = p:read("*a")
  p:close()
  local status
  out = out:gsub("exit (%d+)\n$", function(n) status = tonumber(n) return "" end)
  os.remove(script)
  for _, finding in ipairs({ "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:" }) do
    assert.is_nil(out:find(finding, 1, true), "a sanitizer finding in the child:\n" .. out)
  end
  return out, status
end

before_each(function()
  local p = assert(io.popen("mktemp -d /tmp/file_spec.XXXXXX"))
  dir = p:read("*l")
  p:close()
  assert.truthy(dir and dir:match("^/tmp/file_spec%."), "mktemp -d failed")
end)

after_each(function()
  if dir then os.execute("rm -rf " .. quote(dir)) end
  dir = nil
end)

describe("core.create_file", function()
  it("creates a new file, mode 0600, empty", function()
    local path = dir .. "/record.jsonl"
    local f, why, errno = core.create_file(path)
    assert.is_nil(why)
    assert.is_nil(errno)
    assert.are.equal("userdata", type(f))
    assert.are.same({ 384, "file", 0 }, { core.file_mode(path) }) -- 384 = 0600
    assert.are.equal("cloud.core.file " .. path, tostring(f))
    assert.is_true(f:close())
    assert.are.equal("cloud.core.file " .. path .. " (closed)", tostring(f))
  end)

  it("refuses an existing file and leaves it as it was", function()
    local path = dir .. "/taken"
    spit(path, "someone else's\n")
    os.execute("chmod 0644 " .. quote(path))
    assert.are.same({ nil, path .. ": File exists", EEXIST }, { core.create_file(path) })
    assert.are.equal("someone else's\n", slurp(path))
    assert.are.equal(420, (core.file_mode(path))) -- 0644, not made 0600
  end)

  it("never follows a symlink: to an existing file, or dangling", function()
    local target, link = dir .. "/target", dir .. "/link"
    spit(target, "the target\n")
    assert.is_true(succeeds("ln -s " .. quote(target) .. " " .. quote(link)))
    assert.are.same({ nil, link .. ": File exists", EEXIST }, { core.create_file(link) })
    assert.are.equal("the target\n", slurp(target))

    local absent, dangling = dir .. "/absent", dir .. "/dangling"
    assert.is_true(succeeds("ln -s " .. quote(absent) .. " " .. quote(dangling)))
    assert.are.same({ nil, dangling .. ": File exists", EEXIST }, { core.create_file(dangling) })
    assert.is_nil(slurp(absent), "the dangling symlink's target was created")
    assert.is_nil(core.file_mode(absent))
  end)

  it("refuses a directory, and a path whose directory is missing", function()
    assert.are.same({ nil, dir .. ": File exists", EEXIST }, { core.create_file(dir) })
    local path = dir .. "/missing/record.jsonl"
    assert.are.same({ nil, path .. ": No such file or directory", ENOENT }, { core.create_file(path) })
  end)

  it("creates through a bare name, in the current directory", function()
    -- The directory synced is "." then.
    local out, status = child('local f = assert(core.create_file("bare")) print(f:write("x", true), f:close())',
      "cd " .. quote(dir))
    assert.are.equal(0, status, out)
    assert.are.equal("true\ttrue\n", out)
    assert.are.equal("x", slurp(dir .. "/bare"))
  end)

  it("raises for a path that is not a string or holds a NUL", function()
    raises(function() core.create_file() end, "cloud.core.create_file: option 'path' must be a string, not nil")
    raises(function() core.create_file(42) end, "option 'path' must be a string, not number")
    raises(function() core.create_file({}) end, "option 'path' must be a string, not table")
    raises(function() core.create_file(dir .. "/a\0b") end, "option 'path' holds a NUL byte")
    assert.is_nil(slurp(dir .. "/a"))
  end)
end)

describe("cloud.core.file", function()
  it("writes, and writes durably, what reads back", function()
    local path = dir .. "/record.jsonl"
    local f = assert(core.create_file(path))
    assert.is_true(f:write('{"id":"a"}\n'))
    assert.is_true(f:write('{"id":"b"}\n', true))
    assert.is_true(f:write("", true))
    local big = ("0123456789abcdef"):rep(65536) -- 1 MiB in one call
    assert.is_true(f:write(big))
    assert.is_true(f:close())
    assert.are.equal('{"id":"a"}\n{"id":"b"}\n' .. big, slurp(path))
    assert.are.equal('{"id":"a"}\n{"id":"b"}\n' .. big, core.read_file(path, 2 * #big))
  end)

  it("returns nil, \"closed\", nil for a write after close; close again is true", function()
    local path = dir .. "/record.jsonl"
    local f = assert(core.create_file(path))
    assert.is_true(f:write("kept\n"))
    assert.is_true(f:close())
    assert.is_true(f:close())
    local r = pack(f:write("lost\n", true))
    assert.are.equal(3, r.n)
    assert.are.same({ nil, "closed", nil }, { r[1], r[2], r[3] })
    assert.are.equal("kept\n", slurp(path))
  end)

  it("holds one descriptor, not inherited by children, released by close or collection", function()
    local path = dir .. "/record.jsonl"
    local f = assert(core.create_file(path))
    assert.are.equal(1, open_fds(path))
    local p = assert(io.popen("ls -l /proc/self/fd"))
    local inherited = p:read("*a")
    p:close()
    assert.is_nil(inherited:find(path, 1, true), "the descriptor leaked into a child (no O_CLOEXEC)")
    f:close()
    assert.are.equal(0, open_fds(path))
    os.remove(path)

    local g = assert(core.create_file(path))
    assert.is_true(g:write("x"))
    assert.are.equal(1, open_fds(path))
    g = nil -- luacheck: ignore 311 (dropped, for the collector)
    collectgarbage()
    collectgarbage()
    assert.are.equal(0, open_fds(path))
  end)

  it("raises for a write of no string, or on something that is not a file", function()
    local f = assert(core.create_file(dir .. "/record.jsonl"))
    raises(function() f:write() end, "cloud.core.file:write: option 's' must be a string, not nil")
    raises(function() f:write({}) end, "cloud.core.file:write: option 's' must be a string, not table")
    raises(function() f.write({}, "x") end, "cloud.core.file:write: call it with ':' on a cloud.core.file")
    f:close()
  end)

  -- A small tmpfs, mounted in a mount namespace of the child's own (root only), fills up.
  local can_mount = succeeds("unshare --mount true >/dev/null 2>&1")
  local full_it = can_mount and it or function(name)
    pending(name .. ": skipped, `unshare --mount true` fails here (it needs root)")
  end
  full_it("reports a full disk as errno 28, No space left on device", function()
    local mnt = dir .. "/small"
    assert.is_true(succeeds("mkdir " .. quote(mnt)))
    local path = mnt .. "/record.jsonl"
    local out = child(([[
      local f = assert(core.create_file(%q))
      local chunk = ("x"):rep(1000)
      for i = 1, 1000 do
        local ok, why, errno = f:write(chunk, i %% 2 == 0)
        if not ok then
          print("failed", i, errno, why)
          break
        end
      end
      print("close", f:close())
    ]]):format(path), "mount -t tmpfs -o size=64k tmpfs " .. quote(mnt), "unshare --mount")
    local i, errno, why = out:match("failed\t(%d+)\t(%d+)\t([^\n]*)\n")
    assert.truthy(i, "the writes never failed:\n" .. out)
    assert.are.equal(ENOSPC, tonumber(errno), out)
    assert.are.equal(path .. ": No space left on device", why)
    assert.truthy(tonumber(i) > 10 and tonumber(i) < 100, out) -- 64 KiB hold some 65 chunks
    assert.truthy(out:find("close\ttrue\n", 1, true), out)
    -- The mount was the child's namespace's only: here the directory is empty.
    assert.is_nil(slurp(path))
  end)
end)

describe("core.read_file", function()
  it("reads a regular file, and one through a symlink", function()
    local path, link = dir .. "/ids.txt", dir .. "/link"
    spit(path, "a\nb\n")
    assert.are.equal("a\nb\n", core.read_file(path, 4))
    assert.is_true(succeeds("ln -s " .. quote(path) .. " " .. quote(link)))
    assert.are.equal("a\nb\n", core.read_file(link, 100))
    spit(dir .. "/empty", "")
    assert.are.equal("", core.read_file(dir .. "/empty", 1))
  end)

  it("refuses a file larger than max_bytes, by its size and by what it reads", function()
    local path = dir .. "/ids.txt"
    spit(path, "12345")
    assert.are.same({ nil, path .. " is larger than 4 bytes", nil }, { core.read_file(path, 4) })
    -- /proc's files say size 0 and hold more: the read itself stops past max_bytes.
    local _, kind, size = core.file_mode("/proc/self/status")
    assert.are.same({ "file", 0 }, { kind, size })
    assert.are.same({ nil, "/proc/self/status is larger than 10 bytes", nil },
      { core.read_file("/proc/self/status", 10) })
    assert.truthy(core.read_file("/proc/self/status", 1000000):find("Name:", 1, true))
  end)

  it("refuses what is not a regular file: a device, a directory", function()
    assert.are.same({ nil, "/dev/zero is not a regular file (a character device)", nil },
      { core.read_file("/dev/zero", 10) })
    assert.are.same({ nil, dir .. " is not a regular file (a directory)", nil }, { core.read_file(dir, 10) })
  end)

  it("refuses a FIFO at once, without waiting for a writer", function()
    local fifo = dir .. "/fifo"
    assert.is_true(succeeds("mkfifo " .. quote(fifo)))
    -- In a child under a hard timeout: were the open to block, the spec fails, not hangs.
    local out, status = child(("print(core.read_file(%q, 100))"):format(fifo))
    assert.are.equal(0, status, out)
    assert.are.equal("nil\t" .. fifo .. " is not a regular file (a FIFO)\tnil\n", out)
  end)

  it("says why a file cannot be opened, with errno", function()
    local path = dir .. "/absent"
    assert.are.same({ nil, path .. ": No such file or directory", ENOENT }, { core.read_file(path, 10) })
  end)

  it("raises for a bad path or max_bytes", function()
    local path = dir .. "/ids.txt"
    spit(path, "x")
    raises(function() core.read_file(nil, 10) end, "cloud.core.read_file: option 'path' must be a string, not nil")
    raises(function() core.read_file(7, 10) end, "option 'path' must be a string, not number")
    raises(function() core.read_file(path .. "\0", 10) end, "option 'path' holds a NUL byte")
    raises(function() core.read_file(path) end, "option 'max_bytes' must be a whole number")
    raises(function() core.read_file(path, "many") end, "option 'max_bytes' must be a whole number")
    raises(function() core.read_file(path, 0) end, "option 'max_bytes' must be a positive integer")
    raises(function() core.read_file(path, -1) end, "option 'max_bytes' must be a positive integer")
    raises(function() core.read_file(path, 1.5) end, "option 'max_bytes' must be a whole number")
    raises(function() core.read_file(path, 0 / 0) end, "option 'max_bytes' must be a whole number")
  end)
end)

describe("core.lock_file", function()
  it("takes a lock once: another open file gets false until it is released", function()
    local path = dir .. "/job.lock"
    local a = assert(core.lock_file(path, "pid 1\n"))
    assert.are.equal("pid 1\n", slurp(path))
    assert.is_false(core.lock_file(path, "pid 2\n"))
    assert.are.equal("pid 1\n", slurp(path)) -- the loser writes nothing
    assert.matches("cloud.core.lock .*job.lock$", tostring(a))
    assert.is_true(a:release())
    assert.is_true(a:release())
    assert.matches("(released)", tostring(a), 1, true)
    local b = assert(core.lock_file(path))
    assert.are.equal("pid 1\n", slurp(path)) -- no note: the content stays
    b:release()
  end)

  it("is dropped by the kernel when its holder is killed", function()
    local path = dir .. "/job.lock"
    local code = ("package.cpath = %q; local l = assert(require('cloud.core').lock_file(%q, 'child'));"
      .. " print('locked'); io.stdout:flush(); os.execute('sleep 10')"):format(package.cpath, path)
    spit(dir .. "/child.lua", code)
    local p = assert(io.popen(("exec sh -c 'echo $$; exec %s %s'"):format(subprocess.interpreter, dir .. "/child.lua")))
    local pid = p:read("*l")
    assert.are.equal("locked", p:read("*l"))
    assert.is_false(core.lock_file(path))
    assert(succeeds("kill -9 " .. pid))
    p:close()
    local l
    for _ = 1, 100 do
      l = core.lock_file(path)
      if l then break end
      os.execute("sleep 0.05")
    end
    assert.truthy(l)
    l:release()
  end)

  it("refuses what is no regular file, and a symlink", function()
    local _, why = core.lock_file("/dev/null")
    assert.are.equal("/dev/null is not a regular file", why)
    assert(succeeds("mkfifo " .. quote(dir .. "/fifo")))
    assert.is_nil(core.lock_file(dir .. "/fifo"))
    spit(dir .. "/target", "x")
    assert(succeeds("ln -s " .. quote(dir .. "/target") .. " " .. quote(dir .. "/link")))
    local l, why2, errno = core.lock_file(dir .. "/link")
    assert.is_nil(l)
    assert.matches("link: ", why2, 1, true)
    assert.are.equal(40, errno) -- ELOOP
    assert.has_error(function() core.lock_file(7) end)
  end)
end)

describe("core.make_dir and core.replace_file", function()
  it("make_dir makes a directory, owner only, takes one already there, refuses a file or a symlink", function()
    local d = dir .. "/state"
    assert.is_true(core.make_dir(d))
    assert.is_true(core.make_dir(d)) -- already there: fine
    local p = io.popen("stat -c %a " .. quote(d))
    local mode = p:read("*l")
    p:close()
    assert.matches("^[0-7]00$", mode) -- nothing for group or others
    spit(dir .. "/file", "x")
    local ok, why, errno = core.make_dir(dir .. "/file")
    assert.is_nil(ok)
    assert.matches("file: Not a directory", why, 1, true)
    assert.are.equal(20, errno) -- ENOTDIR
    assert(succeeds("ln -s " .. quote(d) .. " " .. quote(dir .. "/link")))
    assert.is_nil((core.make_dir(dir .. "/link"))) -- a symlink, even to a directory
    local _, _, e2 = core.make_dir(dir .. "/none/deeper")
    assert.are.equal(ENOENT, e2)
    raises(function() core.make_dir(7) end, "cloud.core.make_dir: option 'path' must be a string, not number")
  end)

  it("replace_file renames over the old file; a missing source fails naming the target", function()
    spit(dir .. "/state.json", "old")
    spit(dir .. "/state.json.tmp1", "new")
    assert.is_true(core.replace_file(dir .. "/state.json.tmp1", dir .. "/state.json"))
    assert.are.equal("new", slurp(dir .. "/state.json"))
    assert.is_nil(io.open(dir .. "/state.json.tmp1"))
    local ok, why, errno = core.replace_file(dir .. "/gone", dir .. "/state.json")
    assert.is_nil(ok)
    assert.matches("state.json: No such file or directory", why, 1, true)
    assert.are.equal(ENOENT, errno)
    assert.are.equal("new", slurp(dir .. "/state.json"))
    raises(function() core.replace_file(dir .. "/a", nil) end,
      "cloud.core.replace_file: option 'path' must be a string, not nil")
  end)
end)
