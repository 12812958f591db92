-- cloud.nginx.handler outside nginx (it needs nothing of nginx): what a handler returns
-- comes back, and what it raises goes on as text with where it was raised.
local handler = require "cloud.nginx.handler"
local errors = require "cloud.errors"

describe("cloud.nginx.handler", function()
  it("passes arguments and returns every result, nils included", function()
    local a, b, c, n = handler.run(function(...) return select(2, ...), nil, "z", select("#", ...) end,
      "x", "y", nil)
    assert.are.same({ "y", nil, "z", 3 }, { a, b, c, n })
  end)

  it("raises an error object again as its text, with the traceback of where it was raised", function()
    local ok, e = pcall(handler.run, function() errors.argument("client:stop_ecs", "ids[2]", "is not a string") end)
    assert.is_false(ok)
    assert.are.equal("string", type(e))
    assert.truthy(e:find("client:stop_ecs: option 'ids[2]' is not a string", 1, true), e)
    assert.truthy(e:find("stack traceback:", 1, true), e)
    assert.truthy(e:find("handler_spec.lua", 1, true), e)
  end)

  it("keeps a string error's text", function()
    local ok, e = pcall(handler.run, function() error("plain trouble", 0) end)
    assert.is_false(ok)
    assert.truthy(e:find("^plain trouble\nstack traceback:"), e)
  end)

  it("says so when a raised value's __tostring fails", function()
    local ok, e = pcall(handler.run, function()
      error(setmetatable({}, { __tostring = function() error("broken") end }))
    end)
    assert.is_false(ok)
    assert.truthy(e:find("(table raised, whose __tostring failed)", 1, true), e)
  end)

  it("wrap gives a timer callback the same treatment", function()
    local f = handler.wrap(function(premature, x) return premature, x end)
    assert.are.same({ false, 7 }, { f(false, 7) })
    local ok, e = pcall(handler.wrap(function() errors.argument("cloud.nginx.once", "ttl", "must be positive") end))
    assert.is_false(ok)
    assert.truthy(e:find("option 'ttl' must be positive", 1, true), e)
  end)

  it("refuses what is not a function, naming it", function()
    assert.error_matches(function() handler.run("app.stop") end, "handler must be a function, got string", 1, true)
    assert.error_matches(function() handler.wrap(nil) end, "callback must be a function, got nil", 1, true)
  end)
end)
