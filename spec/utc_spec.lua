-- cloud.base.utc, the library's one calendar arithmetic, against libc's gmtime (os.date
-- with "!"): every form the cloud writes a time in reads back as the epoch it came from.
local utc = require "cloud.base.utc"

describe("cloud.base.utc", function()
  -- Epochs across leap days, century years (2000 is a leap year, 2100 is not) and an odd
  -- step through 1970-2100 (37 days, 1 h 1 min 1 s), so every month and weekday is met.
  local function epochs()
    local out = {}
    for t = 0, 4102444800, 37 * 86400 + 3661 do out[#out + 1] = t end
    for _, y in ipairs({ 1972, 2000, 2024, 2100 }) do
      local mar1 = utc.epoch(y, 3, 1, 0, 0, 0)
      for _, dt in ipairs({ -86401, -86400, -1, 0, 86399 }) do out[#out + 1] = mar1 + dt end
    end
    return out
  end

  it("reads HTTP dates and ISO 8601 times as gmtime wrote them", function()
    local n = 0
    for _, t in ipairs(epochs()) do
      assert.are.equal(t, utc.from_http_date(os.date("!%a, %d %b %Y %H:%M:%S GMT", t)), t)
      assert.are.equal(t, utc.from_iso8601(os.date("!%Y-%m-%dT%H:%M:%SZ", t)), t)
      n = n + 1
    end
    assert.is_true(n > 1000, n)
  end)

  it("gives the civil date and ISO weekday of an epoch as gmtime does", function()
    for _, t in ipairs(epochs()) do
      local y, mon, d, h, mi, s, wday = utc.civil(t)
      assert.are.equal(os.date("!%Y-%m-%d %H:%M:%S %u", t),
        ("%04d-%02d-%02d %02d:%02d:%02d %d"):format(y, mon, d, h, mi, s, wday), t)
      assert.are.equal(utc.days(y, mon, d) * 86400, t - h * 3600 - mi * 60 - s)
      assert.are.equal(tonumber(os.date("!%d", utc.epoch(y, mon, 1, 0, 0, 0) + (utc.month_days(y, mon) - 1) * 86400)),
        utc.month_days(y, mon), t)
    end
  end)

  it("knows the known answers, fractions of a second, and refuses what is not a time", function()
    assert.are.equal(1795342500, utc.from_http_date("Sun, 22 Nov 2026 10:15:00 GMT"))
    assert.are.equal(951782400, utc.epoch(2000, 2, 29, 0, 0, 0))
    assert.are.equal(1764417600.25, utc.from_iso8601("2025-11-29T12:00:00.25Z"))
    for _, bad in ipairs({ "Sun, 22 Foo 2026 10:15:00 GMT", "22 Nov 2026 10:15:00 GMT", "soon" }) do
      assert.is_nil(utc.from_http_date(bad), bad)
    end
    assert.is_nil(utc.from_http_date(nil))
    assert.are.equal(1796630400, utc.from_iso8601("2026-12-07T09:00+01:00"))
    assert.are.equal(1796630400, utc.from_iso8601("2026-12-07T03:00:00-0500"))
    for _, bad in ipairs({ "2026-13-01T00:00:00Z", "2026-01-32T00:00:00Z", "2026-02-29T00:00:00Z",
                           "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00.Z",
                           "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00", "x" }) do
      assert.is_nil(utc.from_iso8601(bad), bad)
    end
  end)
end)
