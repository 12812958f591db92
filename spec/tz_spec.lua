-- cloud.base.tz: the system's zone files read by the library itself. Expected values are
-- glibc's (TZ=<zone> date -d @T, noted beside each), at both summer-time changes of 2026
-- and past 2037, where fat and slim files alike leave it to the footer's POSIX rule.
-- Files made here cover the TZif forms Debian's tzdata may not ship: version 1 only, slim,
-- footer rules of the southern hemisphere, with Julian days and negative hours.
local tz = require "cloud.base.tz"

local floor = math.floor

local function be32(v)
  v = v % 4294967296
  return string.char(floor(v / 16777216) % 256, floor(v / 65536) % 256, floor(v / 256) % 256, v % 256)
end

local function be64(v)
  local hi = floor(v / 4294967296)
  return be32(hi) .. be32(v - hi * 4294967296)
end

-- A TZif file: o.version ("\0" or "2"), o.types { { offset, isdst, abbr } }, o.times,
-- o.idx (1-based type of each time), o.footer (version 2 only).
local function tzif(o)
  local function block(version, times, idx, types, tsize)
    local chars, at = {}, {}
    local n = 0
    for k, ty in ipairs(types) do
      at[k] = n
      chars[#chars + 1] = ty[3] .. "\0"
      n = n + #ty[3] + 1
    end
    local out = { "TZif", version, ("\0"):rep(15), be32(0), be32(0), be32(0), be32(#times), be32(#types),
                  be32(n) }
    for _, t in ipairs(times) do out[#out + 1] = tsize == 8 and be64(t) or be32(t) end
    for _, i in ipairs(idx) do out[#out + 1] = string.char(i - 1) end
    for k, ty in ipairs(types) do out[#out + 1] = be32(ty[1]) .. string.char(ty[2] and 1 or 0, at[k]) end
    out[#out + 1] = table.concat(chars)
    return table.concat(out)
  end
  if o.version == "\0" then return block("\0", o.times, o.idx, o.types, 4) end
  -- Slim: the version 1 block holds one type and nothing else.
  return block(o.version, {}, {}, { o.types[1] }, 4) .. block(o.version, o.times, o.idx, o.types, 8)
    .. "\n" .. (o.footer or "") .. "\n"
end

local function at(zone, t)
  local l = zone:to_local(t)
  return ("%04d-%02d-%02d %02d:%02d:%02d %s %d%s"):format(l.year, l.month, l.day, l.hour, l.min, l.sec, l.abbr,
    l.offset, l.isdst and " dst" or "")
end

describe("cloud.base.tz", function()
  it("reads Europe/Berlin across both changes of 2026 and past 2037", function()
    local z = assert(tz.load("Europe/Berlin"))
    assert.are.equal("2026-03-29 01:59:59 CET 3600", at(z, 1774745999))
    assert.are.equal("2026-03-29 03:00:00 CEST 7200 dst", at(z, 1774746000))
    assert.are.equal("2026-10-25 02:59:59 CEST 7200 dst", at(z, 1792889999))
    assert.are.equal("2026-10-25 02:00:00 CET 3600", at(z, 1792890000))
    -- 2040, past the 32-bit end of time: the footer CET-1CEST,M3.5.0,M10.5.0/3.
    assert.are.equal("2040-03-25 01:59:59 CET 3600", at(z, 2216249999))
    assert.are.equal("2040-03-25 03:00:00 CEST 7200 dst", at(z, 2216250000))
    assert.are.equal("2040-10-28 02:59:59 CEST 7200 dst", at(z, 2234998799))
    assert.are.equal("2040-10-28 02:00:00 CET 3600", at(z, 2234998800))
    assert.are.equal("1906-08-16 21:26:40 CET 3600", at(z, -2000000000))
    assert.are.equal(7, z:to_local(1774746000).wday) -- a Sunday, ISO 7
  end)

  it("reads America/New_York across both changes of 2026 and past 2037", function()
    local z = assert(tz.load("America/New_York"))
    assert.are.equal("2026-03-08 01:59:59 EST -18000", at(z, 1772953199))
    assert.are.equal("2026-03-08 03:00:00 EDT -14400 dst", at(z, 1772953200))
    assert.are.equal("2026-11-01 01:59:59 EDT -14400 dst", at(z, 1793512799))
    assert.are.equal("2026-11-01 01:00:00 EST -18000", at(z, 1793512800))
    assert.are.equal("2040-03-11 01:59:59 EST -18000", at(z, 2215061999))
    assert.are.equal("2040-03-11 03:00:00 EDT -14400 dst", at(z, 2215062000))
    assert.are.equal("2040-11-04 01:59:59 EDT -14400 dst", at(z, 2235621599))
    assert.are.equal("2040-11-04 01:00:00 EST -18000", at(z, 2235621600))
    assert.are.equal("2099-12-31 19:00:00 EST -18000", at(z, 4102444800))
  end)

  it("turns a local time into its instant: a skipped one is the jump, a doubled one the first", function()
    local berlin = assert(tz.load("Europe/Berlin"))
    assert.are.same({ 1780308000, "exact" }, { berlin:from_local(2026, 6, 1, 12, 0) })
    -- 2026-03-29 02:30 never happens: the clock goes from 02:00 CET to 03:00 CEST at 01:00Z.
    assert.are.same({ 1774746000, "gap" }, { berlin:from_local(2026, 3, 29, 2, 30) })
    assert.are.same({ 1774746000, "gap" }, { berlin:from_local(2026, 3, 29, 2, 0) })
    assert.are.same({ 1774746000, "exact" }, { berlin:from_local(2026, 3, 29, 3, 0) })
    -- 2026-10-25 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET): the first.
    assert.are.same({ 1792888200, "ambiguous" }, { berlin:from_local(2026, 10, 25, 2, 30) })
    assert.are.same({ 1792893600, "exact" }, { berlin:from_local(2026, 10, 25, 3, 0) })
    local ny = assert(tz.load("America/New_York"))
    assert.are.same({ 1772953200, "gap" }, { ny:from_local(2026, 3, 8, 2, 30) })
    assert.are.same({ 1793511000, "ambiguous" }, { ny:from_local(2026, 11, 1, 1, 30) })
    assert.are.same({ 2215062000, "gap" }, { ny:from_local(2040, 3, 11, 2, 30) })
    assert.are.same({ 2235619800, "ambiguous" }, { ny:from_local(2040, 11, 4, 1, 30) })
  end)

  it("gives every local time of two zones back as the instant it came from", function()
    local n = 0
    for _, name in ipairs({ "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata" }) do
      local z = assert(tz.load(name))
      for t = 1700000000, 2300000000, 86400 * 3 + 3607 do
        local l = z:to_local(t)
        local back, how = z:from_local(l.year, l.month, l.day, l.hour, l.min)
        if how == "ambiguous" then assert.is_true(back <= t - l.sec, name .. " " .. t)
        else assert.are.same({ t - l.sec, "exact" }, { back, how }, name .. " " .. t) end
        n = n + 1
      end
    end
    assert.is_true(n > 900, n)
  end)

  it("knows UTC, and loads each zone once", function()
    local z = assert(tz.load("UTC"))
    assert.are.equal("2026-12-07 08:00:00 UTC 0", at(z, 1796630400))
    assert.are.same({ 1796630400, "exact" }, { z:from_local(2026, 12, 7, 8, 0) })
    assert.are.equal(z, tz.load("UTC"))
    assert.are.equal(tz.load("Europe/Berlin"), tz.load("Europe/Berlin"))
  end)

  it("refuses names with .., absolute paths, unknown zones, folders and other files", function()
    for _, name in ipairs({ "../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "", "Europe//Berlin",
                            "Europe/Berlin\n", 42 }) do
      local z, why = tz.load(name)
      assert.is_nil(z, tostring(name))
      assert.matches("no time zone name", why)
    end
    local z, why = tz.load("Mars/Olympus_Mons")
    assert.is_nil(z)
    assert.matches('unknown time zone "Mars/Olympus_Mons"', why, 1, true)
    z, why = tz.load("Europe")
    assert.is_nil(z)
    assert.matches("not a regular file", why, 1, true)
    z, why = tz.load("leapseconds") -- a text file of the tzdata package
    assert.is_nil(z)
    assert.matches("not a TZif file", why, 1, true)
  end)

  describe("files made here", function()
    local dir, saved
    setup(function()
      local p = assert(io.popen("mktemp -d /tmp/tz_spec.XXXXXX"))
      dir = p:read("*l")
      p:close()
      assert.truthy(dir and dir:match("^/tmp/tz_spec%."), "mktemp -d failed")
      saved = tz.DIR
      tz.DIR = dir
    end)
    teardown(function()
      tz.DIR = saved
      if dir then os.execute("rm -rf '" .. dir .. "'") end
    end)

    local function put(name, bytes)
      local f = assert(io.open(dir .. "/" .. name, "wb"))
      f:write(bytes)
      f:close()
      return name
    end

    local CET, CEST = { 3600, false, "CET" }, { 7200, true, "CEST" }

    it("reads version 1 only: 32-bit times, the last type after the last one", function()
      local z = assert(tz.load(put("V1", tzif{ version = "\0", types = { CET, CEST },
                                               times = { 1774746000, 1792890000 }, idx = { 2, 1 } })))
      assert.are.equal("2026-03-29 01:59:59 CET 3600", at(z, 1774745999))
      assert.are.equal("2026-03-29 03:00:00 CEST 7200 dst", at(z, 1774746000))
      assert.are.equal("2026-10-25 02:00:00 CET 3600", at(z, 1792890000))
      assert.are.equal("2040-06-01 00:00:00 CET 3600", at(z, 2222118000))
    end)

    it("reads a slim file: negative 64-bit times, then the footer's rule", function()
      local big_bang = -576460752303423488 -- -2^59, as zic writes the first transition
      local z = assert(tz.load(put("Slim", tzif{ version = "2", types = { { 3208, false, "LMT" }, CET, CEST },
        times = { big_bang, -2422054408, 323830800 }, idx = { 1, 2, 3 }, footer = "CET-1CEST,M3.5.0,M10.5.0/3" })))
      assert.are.equal("1893-03-31 23:59:59 LMT 3208", at(z, -2422054409))
      assert.are.equal("1970-01-01 01:00:00 CET 3600", at(z, 0))
      assert.are.equal("1980-04-06 03:00:00 CEST 7200 dst", at(z, 323830800))
      assert.are.equal("2026-03-29 03:00:00 CEST 7200 dst", at(z, 1774746000))
      assert.are.equal("2026-10-25 02:00:00 CET 3600", at(z, 1792890000))
      assert.are.same({ 1774746000, "gap" }, { z:from_local(2026, 3, 29, 2, 30) })
    end)

    it("follows footer rules of the south, Julian days and negative hours as glibc does", function()
      local function footer_only(name, rule, first)
        return assert(tz.load(put(name, tzif{ version = "2", types = { first }, times = {}, idx = {}, footer = rule })))
      end
      -- TZ='AEST-10AEDT,M10.1.0,M4.1.0/3': summer spans the new year.
      local au = footer_only("South", "AEST-10AEDT,M10.1.0,M4.1.0/3", { 36000, false, "AEST" })
      assert.are.equal("2026-04-05 02:59:59 AEDT 39600 dst", at(au, 1775318399))
      assert.are.equal("2026-04-05 02:00:00 AEST 36000", at(au, 1775318400))
      assert.are.equal("2026-10-04 01:59:59 AEST 36000", at(au, 1791043199))
      assert.are.equal("2026-10-04 03:00:00 AEDT 39600 dst", at(au, 1791043200))
      assert.are.equal("2026-01-01 11:00:00 AEDT 39600 dst", at(au, 1767225600))
      -- TZ='<-02>2<-01>,M3.5.0/-1,M10.5.0/0' (America/Nuuk): quoted names, a negative hour.
      local nuuk = footer_only("Nuuk", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", { -7200, false, "-02" })
      assert.are.equal("2026-03-28 22:59:59 -02 -7200", at(nuuk, 1774745999))
      assert.are.equal("2026-03-29 00:00:00 -01 -3600 dst", at(nuuk, 1774746000))
      assert.are.equal("2026-10-24 23:59:59 -01 -3600 dst", at(nuuk, 1792889999))
      assert.are.equal("2026-10-24 23:00:00 -02 -7200", at(nuuk, 1792890000))
      -- TZ='EST5EDT,J60/2,J300/2': J60 is March 1 even in a leap year.
      local j = footer_only("Julian", "EST5EDT,J60/2,J300/2", { -18000, false, "EST" })
      assert.are.equal("2026-03-01 01:59:59 EST -18000", at(j, 1772348399))
      assert.are.equal("2026-03-01 03:00:00 EDT -14400 dst", at(j, 1772348400))
      assert.are.equal("2028-03-01 01:59:59 EST -18000", at(j, 1835506799))
      -- TZ='EST5EDT,59/2,300/2': zero-based day 59 is February 29 in 2028.
      local n = footer_only("Zero", "EST5EDT,59/2,300/2", { -18000, false, "EST" })
      assert.are.equal("2026-03-01 03:00:00 EDT -14400 dst", at(n, 1772348400))
      assert.are.equal("2028-03-01 02:59:59 EDT -14400 dst", at(n, 1835506799))
      -- TZ='<+0330>-3:30': no summer time, minutes in the offset.
      local tehran = footer_only("Half", "<+0330>-3:30", { 12600, false, "+0330" })
      assert.are.equal("2040-03-25 04:30:00 +0330 12600", at(tehran, 2216250000))
      -- TZ='EST5EDT': no rule given means POSIX's default, the US rule.
      local us = footer_only("Default", "EST5EDT", { -18000, false, "EST" })
      assert.are.equal("2026-03-08 03:00:00 EDT -14400 dst", at(us, 1772953200))
    end)

    it("refuses a file cut short, a footer that is no rule, and a file without its 64-bit part", function()
      local whole = tzif{ version = "2", types = { CET, CEST }, times = { 1774746000 }, idx = { 2 },
                          footer = "CET-1CEST,M3.5.0,M10.5.0/3" }
      local cases = {
        { "Short", whole:sub(1, #whole - 40), "cut short" },
        { "BadFooter", tzif{ version = "2", types = { CET }, times = {}, idx = {},
                             footer = "CET-1CEST,M13.5.0,M10.5.0" }, "no POSIX TZ rule" },
        -- The version 1 block alone: its header, one type, "CET\0".
        { "NoV2", whole:sub(1, 44 + 6 + 4), "without its 64-bit part" },
        { "Empty", "", "not a TZif file" },
      }
      for _, c in ipairs(cases) do
        local z, why = tz.load(put(c[1], c[2]))
        assert.is_nil(z, c[1])
        assert.matches(c[3], why, 1, true)
      end
    end)
  end)
end)
