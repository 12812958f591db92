-- errors.quote_bounded: a caller's value quoted in a message, never more than a bounded
-- part of it, on one line; and cloud.nginx.once's "cannot record" error uses it.
local errors = require "cloud.errors"

describe("errors.quote_bounded", function()
  it("quotes a short value whole", function()
    assert.are.equal('"nightly-stop:2026-12-07"', errors.quote_bounded("nightly-stop:2026-12-07"))
    assert.are.equal('""', errors.quote_bounded(""))
  end)

  it("cuts a long value at n bytes and says how long it was", function()
    local s = errors.quote_bounded(("k"):rep(10000), 64)
    assert.are.equal('"' .. ("k"):rep(64) .. '"... (10000 bytes)', s)
    assert.are.equal('"abc"... (4 bytes)', errors.quote_bounded("abcd", 3))
    -- Exactly n bytes is not cut.
    assert.are.equal('"abc"', errors.quote_bounded("abc", 3))
  end)

  it("defaults to 64 bytes", function()
    local s = errors.quote_bounded(("x"):rep(65))
    assert.are.equal('"' .. ("x"):rep(64) .. '"... (65 bytes)', s)
  end)

  it("never splits a UTF-8 character", function()
    -- "é" is two bytes: cutting "aé" at 2 bytes keeps "a" alone.
    assert.are.equal('"a"... (3 bytes)', errors.quote_bounded("a\195\169", 2))
    assert.are.equal('"a\195\169"... (4 bytes)', errors.quote_bounded("a\195\169b", 3))
    -- "€" is three bytes.
    assert.are.equal('""... (3 bytes)', errors.quote_bounded("\226\130\172", 2))
  end)

  it("keeps the message on one line, without terminal control bytes", function()
    assert.are.equal('"a\\010b\\027[2J\\"q\\\\"', errors.quote_bounded('a\nb\27[2J"q\\'))
    local s = errors.quote_bounded(("\n"):rep(100), 10)
    assert.is_nil(s:find("[%c]"))
  end)

  it("turns a non-string into text", function()
    assert.are.equal('"42"', errors.quote_bounded(42))
  end)
end)

describe("cloud.nginx.once when the dictionary cannot record the mark", function()
  -- Outside nginx there is no shared dictionary: a dictionary that refuses every mark, as
  -- lua_shared_dict's safe_add does when it is out of memory, stands in for one.
  local saved
  before_each(function()
    saved = _G.ngx
    _G.ngx = { get_phase = function() return "timer" end,
               shared = { full = { safe_add = function() return nil, "no memory" end } } }
  end)
  after_each(function() _G.ngx = saved end)

  it("quotes at most 64 bytes of a long key", function()
    local key = ("nightly-stop:"):rep(1000)
    local won, err = require("cloud.nginx").once("full", key, 60)
    assert.is_nil(won)
    assert.are.equal("cloud.shared_dict", err.code)
    assert.are.equal("config", err.kind)
    assert.truthy(err.message:find('"' .. key:sub(1, 64) .. '"... (13000 bytes)', 1, true), err.message)
    assert.truthy(err.message:find("no memory", 1, true), err.message)
    assert.is_true(#err.message < 200, err.message)
  end)
end)
